"""The shape of a command's runs, as one value: the image, the pod security, the topology
and its executor count, and the engine with its OCI runtime.

record, check, bench, the demo and ``k8s dry-run`` each take a ``RunShape`` instead of
repeating those fields in their plans; ``RunShape.spec`` makes the ``RunSpec`` of one run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from profiler.runtime.interface import Backend, ProfileSet, RunSpec
from profiler.vocabulary import (
    DEFAULT_EXECUTORS,
    Note,
    PodSecurity,
    SecurityMode,
    Topology,
    no_note,
)
from profiler.workloads import Workload


@dataclass(frozen=True)
class EngineChoice:
    """One ``--runtime`` / ``--oci-runtime`` pair ("podman", "crun")."""

    engine: str
    oci_runtime: str

    @property
    def label(self) -> str:
        return f"{self.engine}/{self.oci_runtime}"


DOCKER_RUNC = EngineChoice("docker", "runc")


@dataclass(frozen=True)
class RunShape:
    """How every run of a command is shaped."""

    image: str
    pod_security: PodSecurity = PodSecurity.RESTRICTED
    topology: Topology = Topology.POD
    executors: int = DEFAULT_EXECUTORS  # executor pods in the pod topology
    engine: EngineChoice = DOCKER_RUNC

    def spec(
        self,
        workload: Workload,
        mode: SecurityMode,
        *,
        timeout_seconds: float,
        profiles: ProfileSet | None = None,
    ) -> RunSpec:
        """One run of ``workload`` under ``mode`` in this shape; ``profiles`` are the
        Localhost profiles (needed for, and only used in, localhost mode)."""
        spec = RunSpec(
            workload=workload,
            mode=mode,
            image=self.image,
            pod_security=self.pod_security,
            timeout_seconds=timeout_seconds,
            topology=self.topology,
            executors=self.executors,
        )
        if mode is SecurityMode.LOCALHOST:
            if profiles is None:
                raise ValueError("localhost mode needs profiles")
            spec = profiles.apply(spec)
        return spec

    def on(self, backend: Backend, note: Note = no_note) -> RunShape:
        """This shape as ``backend`` can run it (an engine without pod networks runs the
        local topology, and ``note`` hears why)."""
        return replace(self, topology=backend.topology_for(self.topology, note))

    def with_image(self, image: str) -> RunShape:
        return replace(self, image=image)

    def with_engine(self, engine: EngineChoice) -> RunShape:
        return replace(self, engine=engine)

    def describe(self) -> str:
        """ "pod (2 executors)" or "local", as tables title a run's shape."""
        if self.topology is not Topology.POD:
            return "local"
        return f"pod ({self.executors} executor{'s' if self.executors != 1 else ''})"
