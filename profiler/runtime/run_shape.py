"""The shape of a command's runs, as one value: the image, the pod security, the topology
and its executor count, the engine with its OCI runtime, whether the pods have a way out,
and what each workload's own submission adds.

record, check, bench, the demo and ``k8s dry-run`` each take a ``RunShape`` instead of
repeating those fields in their plans; ``RunShape.spec`` makes the ``RunSpec`` of one run.

A workload may bring its own submission (``Submission``): a script given with arguments,
``--conf`` and dependencies adds those to the command's shape; a SparkApplication brings
its whole run (image, conf, env, volumes, security context, resources, executor count) and
only the seccomp mode and profiles, the topology, the timeout and ``--egress`` are the
command's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from profiler.runtime.interface import Backend, Mount, ProfileSet, RunSpec
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
    """One ``--runtime`` / ``--oci-runtime`` pair ("podman", "crun"), on the host or on a
    node of a newer release (``--node``)."""

    engine: str
    oci_runtime: str
    node: str = "host"

    @property
    def label(self) -> str:
        """ "podman/crun", "podman/runc@sid": what backends call themselves."""
        suffix = "" if self.node == "host" else f"@{self.node}"
        return f"{self.engine}/{self.oci_runtime}{suffix}"


DOCKER_RUNC = EngineChoice("docker", "runc")


@dataclass(frozen=True)
class Submission:
    """What one workload's own submission adds to its runs, as spark-submit would get it."""

    workload: str  # the workload's name
    spark_conf: tuple[tuple[str, str], ...] = ()  # --conf pairs, dependencies included
    app_args: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()  # files from this machine, in every container
    # A manifest's whole run (``k8s.apps``); mode and profiles left to the command.
    run: RunSpec | None = None
    # The run's images follow the command's (--image given) rather than the manifest's.
    follows_image: bool = False


@dataclass(frozen=True)
class RunShape:
    """How every run of a command is shaped."""

    image: str
    pod_security: PodSecurity = PodSecurity.RESTRICTED
    topology: Topology = Topology.POD
    executors: int = DEFAULT_EXECUTORS  # executor pods in the pod topology
    engine: EngineChoice = DOCKER_RUNC
    egress: bool = False  # the pod network has a way out through the host
    submissions: tuple[Submission, ...] = ()

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
        own = self.submission_of(workload.name)
        if own is not None and own.run is not None:
            spec = replace(
                own.run,
                workload=workload,
                mode=mode,
                timeout_seconds=timeout_seconds,
                topology=self.topology,
                egress=self.egress,
            )
        else:
            spec = RunSpec(
                workload=workload,
                mode=mode,
                image=self.image,
                pod_security=self.pod_security,
                timeout_seconds=timeout_seconds,
                topology=self.topology,
                executors=self.executors,
                egress=self.egress,
            )
            if own is not None:
                spec = replace(
                    spec,
                    spark_conf=own.spark_conf,
                    app_args=own.app_args,
                    driver=replace(spec.driver, mounts=own.mounts),
                    executor=replace(spec.executor, mounts=own.mounts),
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

    def submission_of(self, workload: str) -> Submission | None:
        return next((s for s in self.submissions if s.workload == workload), None)

    def with_image(self, image: str) -> RunShape:
        submissions = tuple(
            replace(s, run=_with_image(s.run, image)) if s.run and s.follows_image else s
            for s in self.submissions
        )
        return replace(self, image=image, submissions=submissions)

    def with_engine(self, engine: EngineChoice) -> RunShape:
        return replace(self, engine=engine)

    def describe(self) -> str:
        """ "pod (2 executors)" or "local", as tables title a run's shape."""
        if self.topology is not Topology.POD:
            return "local"
        return f"pod ({self.executors} executor{'s' if self.executors != 1 else ''})"


def _with_image(run: RunSpec, image: str) -> RunSpec:
    return replace(
        run,
        image=image,
        driver=replace(run.driver, image=image),
        executor=replace(run.executor, image=image),
    )
