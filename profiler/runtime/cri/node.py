"""Where one containerd with its CRI lives, and the files the tool writes for it (pure).

A Kubernetes node is a containerd answering the CRI, CNI plugins that give each pod
sandbox a network namespace on a bridge, and a cluster DNS the pods ask. ``CriNode`` says
where each of those lives for one containerd: the host's own Debian containerd started
on a socket of its own (the default), or the containerd of a newer release's rootfs,
run through a command prefix such as ``chroot ROOTFS``. The containerd ``config.toml``
and the CNI network list are rendered from it here, byte for byte the same for the same
node, so a running containerd can be compared with what it should be running.

Paths come in two views: what the engine sees (written into its config and sent over the
CRI) and where this host finds them. They are the same for the host's own containerd; a
containerd in a node of its own (another root, mounts of its own) lists its ``views``:
pairs of (engine path, host path) prefixes, the longest matching prefix wins both ways.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass
from pathlib import Path, PurePath, PurePosixPath

# The pod network: out of Docker's (10.200-250.x) and the nodes' (10.196-197.x) way.
DEFAULT_SUBNET = "10.199.0.0/16"
DEFAULT_BRIDGE = "sscri0"
# The namespace the CRI keeps its images, containers and sandboxes in (the kubelet's).
CRI_NAMESPACE = "k8s.io"


@dataclass(frozen=True)
class CriNode:
    """One containerd with its CRI, its pod network and its cluster DNS."""

    # What reports add after "containerd" ("@sid"); "" for the host's own.
    name: str = ""
    # (engine path, host path) prefixes: where the engine's files lie on this host, and
    # where the host's files (a run's volumes, the workload) lie for the engine. The
    # host's own containerd sees what the host sees.
    views: tuple[tuple[PurePosixPath, PurePosixPath], ...] = (
        (PurePosixPath("/"), PurePosixPath("/")),
    )
    # How this host runs the engine's binaries (containerd, ctr): () runs them directly;
    # ("chroot", ROOTFS) runs a rootfs's own.
    command_prefix: tuple[str, ...] = ()
    containerd_binary: str = "/usr/bin/containerd"
    ctr_binary: str = "/usr/bin/ctr"
    # OCI runtime handler name -> its binary, as the engine sees it.
    runtimes: tuple[tuple[str, str], ...] = (("runc", "/usr/sbin/runc"), ("crun", "/usr/bin/crun"))
    # Everything of this node's containerd (engine view): config, socket, root and state.
    base_dir: PurePosixPath = PurePosixPath("/var/lib/spark-seccomp/cri")
    run_dir: PurePosixPath = PurePosixPath("/run/spark-seccomp/cri")
    cni_bin_dir: PurePosixPath = PurePosixPath("/usr/lib/cni")
    bridge: str = DEFAULT_BRIDGE
    subnet: str = DEFAULT_SUBNET
    # Whether pods may reach anything beyond the pod network (a default route through
    # the bridge and masquerading). Off: like the Docker runs' internal network.
    egress: bool = False
    # Sandbox image reference (set once the pause image is built: its tag is its digest).
    sandbox_image: str = ""
    # True where this host cannot lower a process's oom_score_adj (no CAP_SYS_RESOURCE):
    # the CRI gives the sandbox -998, which the OCI runtime then fails to set.
    restrict_oom_score_adj: bool = False
    # How this host runs commands (ip, iptables, dnsmasq) in the network namespace the
    # pods' bridge lives in: () for the host's own (a chrooted engine shares it).
    netns_prefix: tuple[str, ...] = ()
    dnsmasq_binary: str = "/usr/sbin/dnsmasq"
    # The host pid of PID 1 of the PID namespace containerd runs in (a node's): the pids
    # the CRI reports are of that namespace. None: the host's own.
    pid_namespace_init: int | None = None
    # What reports say the node is ("sid (Debian sid, built ...): ..."); "" on the host.
    description: str = ""

    # -- where things are (engine view) -------------------------------------------------
    @property
    def socket(self) -> PurePosixPath:
        return self.run_dir / "containerd.sock"

    @property
    def config_file(self) -> PurePosixPath:
        return self.run_dir / "config.toml"

    @property
    def containerd_root(self) -> PurePosixPath:
        return self.base_dir / "containerd"

    @property
    def containerd_state(self) -> PurePosixPath:
        return self.run_dir / "containerd"

    @property
    def cni_conf_dir(self) -> PurePosixPath:
        return self.run_dir / "net.d"

    @property
    def ipam_dir(self) -> PurePosixPath:
        return self.run_dir / "ipam"

    @property
    def dns_dir(self) -> PurePosixPath:
        """dnsmasq's pid file, query log and the hosts directory it watches."""
        return self.run_dir / "dns"

    @property
    def pods_dir(self) -> PurePosixPath:
        """Where pods' files (volumes, hosts files, logs) live while they run; the engine
        bind-mounts them, so they must be in its view."""
        return self.run_dir / "pods"

    @property
    def kubelet_root(self) -> PurePosixPath:
        """Plays the kubelet's root: Localhost profiles are read from its ``seccomp``."""
        return self.base_dir / "kubelet"

    @property
    def task_root(self) -> PurePosixPath:
        """Where containerd keeps each running task's OCI bundle (``config.json``)."""
        return self.containerd_state / "io.containerd.runtime.v2.task" / CRI_NAMESPACE

    @property
    def sandbox_root(self) -> PurePosixPath:
        """Where the CRI keeps each sandbox's resolv.conf, hostname and hosts files."""
        return self.containerd_root / "io.containerd.grpc.v1.cri" / "sandboxes"

    @property
    def gateway(self) -> str:
        """The bridge's own address: the pods' gateway, where the cluster DNS listens."""
        return str(ipaddress.ip_network(self.subnet)[1])

    @property
    def dns_server(self) -> str:
        return self.gateway

    @property
    def forward_chain(self) -> str:
        """The iptables chain (filter table) that lets pods reach each other and, unless
        ``egress``, nothing else."""
        return f"{self.bridge.upper()}-FORWARD"

    @property
    def label(self) -> str:
        return f"containerd@{self.name}" if self.name else "containerd"

    def host_path(self, engine_path: PurePath | str) -> PurePosixPath:
        """Where this host finds a path of the engine's view."""
        return _translate(PurePosixPath(engine_path), [(e, h) for e, h in self.views])

    def engine_path(self, host_path: PurePath | str) -> PurePosixPath:
        """Where the engine finds a path of this host (for bind mounts)."""
        return _translate(PurePosixPath(host_path), [(h, e) for e, h in self.views])


def default_socket() -> Path:
    """The CRI socket of the host's own node, where this host finds it."""
    node = CriNode()
    return Path(node.host_path(node.socket))


def render_containerd_config(node: CriNode) -> str:
    """containerd's ``config.toml`` for ``node`` (version 2: containerd 1.6 and 1.7 read
    it as is, 2.x migrates it when it loads it)."""
    if not node.sandbox_image:
        raise ValueError("the node needs its sandbox image before its config is written")
    cri = '[plugins."io.containerd.grpc.v1.cri"'
    lines = [
        "# Written by spark-seccomp: a containerd whose CRI runs the tool's pods.",
        "version = 2",
        f'root = "{node.containerd_root}"',
        f'state = "{node.containerd_state}"',
        "",
        "[grpc]",
        f'  address = "{node.socket}"',
        "",
        "[ttrpc]",
        f'  address = "{node.socket}.ttrpc"',
        "",
        '[plugins."io.containerd.internal.v1.opt"]',
        f'  path = "{node.base_dir / "opt"}"',
        "",
        f"{cri}]",
        f'  sandbox_image = "{node.sandbox_image}"',
        # Its own network namespaces, not in the host's /var/run/netns.
        "  netns_mounts_under_state_dir = true",
        f"  restrict_oom_score_adj = {_toml_bool(node.restrict_oom_score_adj)}",
        "",
        f"{cri}.cni]",
        f'  bin_dir = "{node.cni_bin_dir}"',
        f'  conf_dir = "{node.cni_conf_dir}"',
        "  max_conf_num = 1",
        "",
        f"{cri}.containerd]",
        f'  default_runtime_name = "{node.runtimes[0][0]}"',
        '  snapshotter = "overlayfs"',
    ]
    for handler, binary in node.runtimes:
        lines += [
            "",
            f"{cri}.containerd.runtimes.{handler}]",
            '  runtime_type = "io.containerd.runc.v2"',
            "",
            f"{cri}.containerd.runtimes.{handler}.options]",
            f'  BinaryName = "{binary}"',
            "  SystemdCgroup = false",
        ]
    return "\n".join(lines) + "\n"


def render_cni_conflist(node: CriNode) -> str:
    """The pod network: a bridge with host-local IPAM, no masquerading and no default
    route unless ``egress``, so pods reach each other and the cluster DNS on the bridge's
    own address and nothing else (containerd's CRI adds loopback itself)."""
    network = ipaddress.ip_network(node.subnet)
    bridge: dict[str, object] = {
        "type": "bridge",
        "bridge": node.bridge,
        "isGateway": True,
        "isDefaultGateway": node.egress,
        "ipMasq": node.egress,
        "hairpinMode": True,
        "ipam": {
            "type": "host-local",
            "dataDir": str(node.ipam_dir),
            "ranges": [[{"subnet": str(network), "gateway": node.gateway}]],
        },
    }
    conflist = {"cniVersion": "1.0.0", "name": "spark-seccomp-pods", "plugins": [bridge]}
    return json.dumps(conflist, indent=2, sort_keys=True) + "\n"


def _translate(
    path: PurePosixPath, prefixes: list[tuple[PurePosixPath, PurePosixPath]]
) -> PurePosixPath:
    if not path.is_absolute():
        raise ValueError(f"not an absolute path: {path}")
    matching = [(src, dst) for src, dst in prefixes if path == src or src in path.parents]
    if not matching:
        raise ValueError(f"{path} is in no view the node shares with this host")
    src, dst = max(matching, key=lambda pair: len(pair[0].parts))
    return dst / path.relative_to(src)


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


def forward_rules(node: CriNode) -> list[list[str]]:
    """The rules of ``node.forward_chain``, in order (iptables arguments after ``-A
    CHAIN``). Hosts with a Docker engine drop forwarded traffic by default, bridged
    traffic included (br_netfilter): pods on the bridge must be let through to each
    other. Without egress, whatever else enters from the bridge is dropped outright,
    besides having no default route and no masquerading."""
    bridge = node.bridge
    rules = [["-i", bridge, "-o", bridge, "-j", "ACCEPT"]]
    if node.egress:
        rules += [
            ["-i", bridge, "-j", "ACCEPT"],
            ["-o", bridge, "-m", "conntrack", "--ctstate", "RELATED,ESTABLISHED", "-j", "ACCEPT"],
        ]
    else:
        rules += [["-i", bridge, "-j", "DROP"], ["-o", bridge, "-j", "DROP"]]
    return rules
