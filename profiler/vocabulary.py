"""The words every layer of the tool shares: security modes, pod security, topologies, the
roles of a Spark application's pods, where a Spark pod may write, the callbacks that
report progress, and every other fixed set a command line option chooses from (engines,
OCI runtimes, backends, tracers, the errno of denied calls).

Defined once, here, at the bottom floor: the runtime, the pipelines, the Kubernetes
manifests and the CLI all import them from this module (``profiler.runtime.interface``
re-exports the enums, where backends have always found them).
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable


class SecurityMode(str, enum.Enum):
    """The seccomp setting of a run, named as in Kubernetes' seccompProfile.type."""

    UNCONFINED = "unconfined"
    RUNTIME_DEFAULT = "runtime-default"
    LOCALHOST = "localhost"


class PodSecurity(str, enum.Enum):
    """The rest of the security context.

    ``restricted`` mirrors Kubernetes PSS restricted as the Spark Operator docs advise:
    uid/gid 185, all capabilities dropped, no-new-privileges, read-only root filesystem
    with tmpfs where Spark writes, and no network beyond loopback. ``none`` keeps the
    engine's defaults (root, default capabilities, writable root, bridge network).
    """

    RESTRICTED = "restricted"
    NONE = "none"


class Topology(str, enum.Enum):
    """``pod``: a driver pod and executor pods on a network, as a SparkApplication runs;
    ``local``: one container with a local master."""

    POD = "pod"
    LOCAL = "local"


class Choice(str, enum.Enum):
    """A value of a fixed set that reads as itself: ``f"{Engine.PODMAN}"`` is "podman"
    (a plain ``str`` enum would print "Engine.PODMAN" on Python 3.11)."""

    def __str__(self) -> str:
        return str(self.value)

    @classmethod
    def names(cls) -> str:
        """The values to choose from, for messages: "a, b or c"."""
        values = [str(m.value) for m in cls]
        return ", ".join(values[:-1]) + f" or {values[-1]}" if len(values) > 1 else values[0]


class Engine(Choice):
    """The container engine a run uses (``--runtime``)."""

    DOCKER = "docker"
    PODMAN = "podman"
    CONTAINERD = "containerd"


class OciRuntime(Choice):
    """The OCI runtime the engine starts containers with (``--oci-runtime``)."""

    RUNC = "runc"
    CRUN = "crun"


class BackendName(Choice):
    """``--backend``: an engine (Docker when one answers, for ``auto``) or host processes."""

    AUTO = "auto"
    DOCKER = "docker"
    LOCAL = "local"


class TracerName(Choice):
    """``--tracer``: eBPF (bpftrace), strace, or eBPF where it is usable (``auto``)."""

    AUTO = "auto"
    EBPF = "ebpf"
    STRACE = "strace"


class DeniedErrno(Choice):
    """``--errno``: what a denied call returns. ENOSYS lets glibc and the JVM fall back."""

    ENOSYS = "enosys"
    EPERM = "eperm"


class Role(str, enum.Enum):
    """The pod a container plays. ``ALL``: the one container of the local topology."""

    DRIVER = "driver"
    EXECUTOR = "executor"
    ALL = "all"


# The pods of a Spark application, by the names manifests, profiles and reports use.
ROLES = (Role.DRIVER.value, Role.EXECUTOR.value)

# The numeric user of Spark's images (and of the tool's): PSS restricted needs a number.
SPARK_UID = 185
# Where a hardened Spark container may write, each an emptyDir in a pod: scratch space, the
# home directory, $SPARK_HOME/work (local-cluster workers write there) and the working
# directory, where an executor copies the application's jars and files before it loads
# them (Executor.updateDependencies fetches spark.jars, local:// ones too, into ".").
WRITABLE_PATHS = ("/tmp", "/home/spark", "/opt/spark/work", "/opt/spark/work-dir")
# The emptyDir Spark itself mounts on driver and executor pods for SPARK_LOCAL_DIRS.
SPARK_LOCAL_DIR = "/var/data/spark-local-dir-1"
# Executor pods of a run in the pod topology, unless told otherwise.
DEFAULT_EXECUTORS = 2

# Progress of counted steps: (what is being done, steps done, steps in all).
Progress = Callable[[str, int, int], None]
# One line for the user (a stage, a note, a step of a build).
Note = Callable[[str], None]


def no_progress(_message: str, _done: int, _total: int) -> None:
    """A ``Progress`` that reports nothing."""


def no_note(_message: str) -> None:
    """A ``Note`` that says nothing."""


# The label the tool's Spark images carry with the Spark version they run (written by
# profiler.image, read by the bench's environment and by record for the summary).
SPARK_VERSION_LABEL = "io.spark-seccomp.spark-version"


class Stopwatch:
    """Where a pipeline's time goes: the seconds of each named step, in order (a step ends
    when the next ``lap`` is called)."""

    def __init__(self) -> None:
        self._laps: list[tuple[str, float]] = []
        self._since = time.monotonic()

    def lap(self, step: str) -> None:
        now = time.monotonic()
        self._laps.append((step, now - self._since))
        self._since = now

    def add(self, laps: tuple[tuple[str, float], ...], prefix: str = "") -> None:
        """Laps timed elsewhere (a sub-pipeline's), counted as part of this one."""
        self._laps.extend((prefix + step, seconds) for step, seconds in laps)
        self._since = time.monotonic()

    @property
    def laps(self) -> tuple[tuple[str, float], ...]:
        return tuple(self._laps)
