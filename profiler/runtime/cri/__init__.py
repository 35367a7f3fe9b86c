"""containerd through its CRI, the way a kubelet drives it: a node (``node``: containerd's
config, the CNI pod network), its long-lived daemons (``daemon``: containerd, the pod
bridge, dnsmasq as the cluster DNS of ``profiler.runtime.cluster_dns``), the sandbox image
built here (``pause``), the gRPC client (``client``), the kubelet's requests as values
(``kubelet``) and a run's pods on the node (``pods``)."""
