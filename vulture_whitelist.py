"""What vulture cannot see being used: read by a framework or by memory, not by our code.

vulture (``make lint``) reports code nothing calls; the names below are used where it cannot
look. Nothing else belongs here: dead code is deleted instead.
"""

# ruff: noqa
from types import SimpleNamespace

_ = SimpleNamespace()

# profiler/k8s/models.py: fields of the Kubernetes and Spark Operator types, which pydantic
# reads when it validates a manifest (the linter reports a wrong one; no code reads it).
(
    _.allowPrivilegeEscalation, _.apiVersion, _.appArmorProfile, _.archives,
    _.automountServiceAccountToken, _.configMap, _.configMaps, _.containerPort, _.coreLimit,
    _.coreRequest, _.csi, _.deleteOnTermination, _.downwardAPI, _.dynamicAllocation, _.emptyDir,
    _.enabled, _.envFrom, _.envSecretKeyRefs, _.envVars, _.ephemeral, _.ephemeralContainers,
    _.excludePackages, _.fsGroup, _.fsGroupChangePolicy, _.generateName, _.hadoopConf,
    _.hadoopConfigMap, _.hostIP, _.hostIPC, _.hostNetwork, _.hostPID, _.hostPath, _.hostPort,
    _.imagePullPolicy, _.initContainers, _.initialExecutors, _.jars, _.javaOptions, _.jobTemplate,
    _.kubernetesMaster, _.limits, _.localhostProfile, _.mainApplicationFile, _.mainClass,
    _.maxExecutors, _.medium, _.memoryLimit, _.memoryOverhead, _.memoryOverheadFactor,
    _.minExecutors, _.mountPath, _.nfs, _.nodeSelector, _.packages, _.persistentVolumeClaim,
    _.podName, _.podSecurityContext, _.procMount, _.projected, _.protocol, _.proxyUser, _.pyFiles,
    _.pythonVersion, _.readOnly, _.readOnlyRootFilesystem, _.replicas, _.repositories, _.resources,
    _.runAsGroup, _.runAsNonRoot, _.runAsUser, _.seLinuxOptions, _.seccompProfile, _.secrets,
    _.securityContext, _.serviceAccount, _.serviceAccountName, _.shareProcessNamespace, _.sidecars,
    _.sizeLimit, _.sparkConf, _.sparkConfigMap, _.sparkVersion, _.subPath, _.supplementalGroups,
    _.supplementalGroupsPolicy, _.terminationGracePeriodSeconds, _.valueFrom, _.volumeMounts,
)

# profiler/k8s/spo.py: fields of the Security Profiles Operator's resources, the same way.
(
    _.apiVersion, _.baseProfileName, _.disableProfileAfterRecording, _.listenerMetadata,
    _.listenerPath, _.matchExpressions, _.matchLabels, _.mergeStrategy, _.podSelector,
)

# profiler/formats/seccomp.py: Docker's profile format has a comment key, validated and ignored.
(
    _.comment,
)

# profiler/k8s/plan.py: a planned mount's emptyDir medium, written out by dataclasses.asdict
# in the dry-run's JSON.
(
    _.medium,
)

# profiler/runtime/launcher.py: capability sets of the ctypes struct capset(2) reads.
(
    _.inheritable, _.permitted,
)

# profiler/tracing/ebpf.py: the events bpftrace lost; reported with the recording once issue
# 17's item 7 lands (another branch).
(
    _.lost_events,
)

# tests/conftest.py: pytest's sessionfinish hook, its signature and the status it sets.
(
    _.exitstatus,
)
