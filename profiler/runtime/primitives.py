"""The small set of things each container engine does for a run: the seam engines plug into.

``profiler.runtime.orchestration`` runs a pod (start the master, wait for it, start the
driver, wait for the application, start the executors, wait for the driver, wind the
executors down, collect results, always tear down) by calling only these. An engine
implements them in its own API: Docker's and Podman's (``dockerapi``), containerd's ``ctr``
(``containerd``), a CRI runtime service, an engine started in another release's rootfs.

Addresses and names are the engine's business: ``open_pod`` makes room for a pod before its
container is planned and answers the address the pod got (Docker hands out the next one of
the run's network; a CRI engine starts a pod sandbox and reads the address CNI's IPAM gave
it), and makes the pod's host name and ``PodShape.dns_names`` resolve to it for the other
pods of the run (Docker: network aliases; a CRI engine: its DNS server).

What may go wrong is typed: ``StartRefused`` when the OCI runtime could not start the
container (its init died under the filter: a verdict, not an engine failure), ``EngineLost``
when the engine stopped answering; any other engine error is an ``EnvironmentProblem``
raised by the engine with its own words.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.runtime.shape import ContainerShape, PodShape


class StartRefused(Exception):
    """The OCI runtime could not start a container: its own init died under the
    container's seccomp filter before it ran the entrypoint. ``reason`` is what the engine
    said, in one line; what the runtime itself printed is in the container's logs."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class EngineLost(Exception):
    """The engine stopped answering (its socket went away) in the middle of something."""


@dataclass(frozen=True)
class PodSite:
    """Room an engine made for one pod: the address it got on the run's network (None:
    loopback only) and whatever the engine keeps to remove it again (a sandbox id)."""

    address: str | None = None
    handle: Any = None


@dataclass(frozen=True)
class ContainerState:
    """What a container is doing. ``exit_code`` is None while it runs, or when it is gone."""

    exited: bool
    exit_code: int | None = None
    oom_killed: bool = False


class ContainerPrimitives(ABC):
    """What an engine does for a run. ``network`` and ``container`` values are the
    engine's own handles: the orchestration only passes them back."""

    # How messages name the engine ("the Docker engine stopped answering").
    engine_title: str = "container"

    @abstractmethod
    def create_network(self, run_id: str) -> Any:
        """The private network of one pod run, labelled as this process's."""

    @abstractmethod
    def remove_network(self, network: Any) -> None:
        """Remove a run's network (gone already is fine)."""

    @abstractmethod
    def open_pod(self, network: Any | None, pod: PodShape) -> PodSite:
        """Make room for ``pod`` on ``network`` (None: loopback only) and make its host
        name and DNS names resolve to its address for the run's other pods."""

    def close_pod(self, site: PodSite) -> None:
        """Undo ``open_pod`` once the pod's container is removed (gone is fine)."""
        return None

    @abstractmethod
    def create(self, shape: ContainerShape, site: PodSite, scratch: Path) -> Any:
        """A created, not yet started container of ``shape`` in its pod; ``scratch`` is a
        directory of the run's for files the engine must be given by path."""

    @abstractmethod
    def start(self, container: Any) -> None:
        """Start it; raise ``StartRefused`` when the OCI runtime could not."""

    @abstractmethod
    def state(self, container: Any) -> ContainerState:
        """Whether it exited, with its exit code (a container that is gone has exited)."""

    @abstractmethod
    def wait(self, container: Any, timeout: float) -> int | None:
        """Block until it exits: its exit code, or None when ``timeout`` passed first."""

    @abstractmethod
    def logs(self, container: Any) -> tuple[str, str]:
        """(stdout, stderr) so far; a note in stderr when they are gone."""

    @abstractmethod
    def host_pid(self, container: Any) -> int:
        """The host pid of its first process (the image's entrypoint, PID 1 inside)."""

    @abstractmethod
    def container_id(self, container: Any) -> str:
        """The engine's id of the container, for reports and bundle paths."""

    @abstractmethod
    def kill(self, container: Any) -> None:
        """SIGKILL; a container that already exited or is gone is fine."""

    @abstractmethod
    def stop(self, container: Any, grace_seconds: float) -> None:
        """SIGTERM, then SIGKILL after ``grace_seconds`` (a pod deleted); gone is fine."""

    @abstractmethod
    def remove(self, container: Any) -> None:
        """Remove it whatever its state; gone already is fine. ``EngineLost`` when the
        engine does not answer."""

    def run_files_dir(self) -> Path | None:
        """Where a run's host files (spark.properties, the shared volume, scratch files)
        must lie for the engine to see them (an engine chrooted into another release's
        rootfs sees only what is under it); None: anywhere, the system's temp directory."""
        return None

    def answering(self) -> bool:
        """Whether the engine answers now (after an ``EngineLost``)."""
        return True

    def cgroup_driver(self) -> str:
        """``cgroupfs`` when a container's cgroup parent is a plain path under the
        hierarchy (CPU accounting and the tracer's hold need it), else what it is."""
        return "unknown"
