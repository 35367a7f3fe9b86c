"""Fakes for unit tests of logic. They subclass the real interfaces; integration tests
use the real Docker engine instead."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.check import CheckPlan
from profiler.runtime.interface import (
    Backend,
    ContainerEngine,
    ContainerSecurity,
    ProfileSet,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
)
from profiler.runtime.primitives import (
    ContainerPrimitives,
    ContainerState,
    EngineLost,
    PodSite,
    StartRefused,
)
from profiler.runtime.run_shape import RunShape
from profiler.runtime.shape import ContainerShape, PodShape
from profiler.tracing.interface import Recording, Tracer
from profiler.workloads import WorkloadResult

Outcome = Callable[
    [RunSpec], tuple[int | None, bool, str, str]
]  # exit, timed_out, checksum, stderr


class FakeBackend(Backend):
    name = "fake"

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome
        self.specs: list[RunSpec] = []

    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        self.specs.append(spec)
        if run_dir is not None:
            run_dir.mkdir(parents=True, exist_ok=True)  # as every backend writes its run folder
        exit_code, timed_out, checksum, stderr = self.outcome(spec)
        return RunResult(
            spec=spec,
            exit_code=exit_code,
            timed_out=timed_out,
            wall_seconds=10.0 + len(self.specs),
            cpu_seconds=5.0,
            stdout="",
            stderr=stderr,
            result=WorkloadResult(spec.workload.name, checksum, 1.0) if exit_code == 0 else None,
            run_dir=run_dir,
        )

    def cleanup(self) -> int:
        return 0


class FakeEngine(ContainerEngine, FakeBackend):
    """A container engine for unit tests: runs as FakeBackend does, answers one-off
    commands with scripted outputs per seccomp mode, and reports fixed versions."""

    name = "fake"
    oci_runtime = "runc"

    def __init__(
        self,
        outcome: Outcome,
        outputs: Mapping[SecurityMode, tuple[int | None, str, str]] | None = None,
    ) -> None:
        FakeBackend.__init__(self, outcome)
        self.outputs = dict(outputs or {})
        self.commands: list[tuple[list[str], SecurityMode, str | None]] = []
        self.securities: list[ContainerSecurity | None] = []

    def run_command(
        self,
        image: str,
        argv: Sequence[str],
        mode: SecurityMode,
        profile_json: str | None = None,
        security: ContainerSecurity | None = None,
        *,
        mounts: Mapping[str, str] | None = None,
        timeout_seconds: float = 120.0,
    ) -> tuple[int | None, str, str]:
        self.commands.append((list(argv), mode, profile_json))
        self.securities.append(security)
        return self.outputs[mode]

    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        return None

    def versions(self) -> dict[str, str]:
        return {"engine": "fake 20.10.24", "oci_runtime": "runc 1.1.5", "containerd": "1.6.20"}

    def require_image(self, image: str) -> None:
        return None

    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        return "sha256:abc", {"io.spark-seccomp.spark-version": "3.5.7"}

    def cgroup_driver(self) -> str:
        return "cgroupfs"


class FakeLoopEngine(FakeEngine):
    """Answers ``syscall_loop --cases`` with a figure per (profile, case) (100 ns unless
    told), failing at ``fail``; shows ``runtime_default`` as its RuntimeDefault filter."""

    def __init__(
        self,
        ns: Mapping[tuple[str | None, str], float],
        fail: str | None = None,
        *,
        outcome: Outcome = lambda _spec: (0, False, "x", ""),
        runtime_default: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(outcome)
        self.ns = ns
        self.fail = fail
        self.runtime_default = runtime_default

    def run_command(
        self,
        image: str,
        argv: Sequence[str],
        mode: SecurityMode,
        profile_json: str | None = None,
        security: ContainerSecurity | None = None,
        *,
        mounts: Mapping[str, str] | None = None,
        timeout_seconds: float = 120.0,
    ) -> tuple[int | None, str, str]:
        self.commands.append((list(argv), mode, profile_json))
        self.securities.append(security)
        if len(argv) < 2 or argv[1] != "--cases":
            return self.outputs.get(mode, (0, "", ""))  # not the loop: a status probe...
        lines = []
        for case in argv[4:]:
            if case == self.fail:
                return 2, "\n".join(lines), f"{case}: stacking the stub filter failed"
            value = self.ns.get((profile_json, case), 100.0)
            lines.append(json.dumps({"case": case, "ns_per_call": value}))
        return 0, "\n".join(lines) + "\n", ""

    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        if self.runtime_default is None:
            return None
        return "a fake bundle", self.runtime_default


def check_plan(
    workloads: list,
    modes: list,
    image: str = "img",
    *,
    profile_json: str | None = None,
    **fields: object,
) -> CheckPlan:
    """A CheckPlan the way tests spell it: lists, one profile for every container, and the
    run shape's fields (``topology``, ``executors``...) beside the plan's own."""
    profiles = ProfileSet.single(profile_json, "test profile") if profile_json else None
    shape_fields = {k: fields.pop(k) for k in list(fields) if k in RunShape.__dataclass_fields__}
    return CheckPlan(
        workloads=tuple(workloads),
        modes=tuple(modes),
        shape=RunShape(image, **shape_fields),  # type: ignore[arg-type]
        profiles=profiles,
        **fields,  # type: ignore[arg-type]
    )


@dataclass
class Script:
    """How one fake container behaves: refused by the OCI runtime at start, or exiting
    with ``exit_code`` after ``polls`` looks at its state (None: runs until killed)."""

    refused: bool = False
    polls: int | None = 2
    exit_code: int = 0
    stdout: str = ""
    stderr: str = ""


@dataclass
class FakeContainer:
    shape: ContainerShape
    site: PodSite
    script: Script
    number: int
    started: bool = False
    polls: int = 0
    exit_code: int | None = None
    removed: bool = False


class FakePrimitives(ContainerPrimitives):
    """An engine's primitives in memory, for the orchestration's unit tests: containers
    follow a ``Script`` chosen by role (``scripts``: "master", "driver", "executor",
    "all"); the master says it leads once started and that the application registered
    once the driver runs, unless ``registers`` is False."""

    engine_title = "Fake"

    def __init__(self, scripts: Mapping[str, Script] | None = None, *, registers: bool = True):
        self.scripts = dict(scripts or {})
        self.registers = registers
        self.containers: list[FakeContainer] = []
        self.networks: list[str] = []
        self.removed_networks: list[str] = []
        self.opened: list[PodShape] = []
        self.closed: list[PodSite] = []
        # Raise this from the next call of ``state`` (an interrupt in the middle of a run).
        self.interrupt_on_state: BaseException | None = None
        self.lost_removals = 0  # how many ``remove`` calls answer EngineLost first

    def _role(self, shape: ContainerShape) -> str:
        return shape.role.value if shape.role is not None else "master"

    def create_network(self, run_id: str, *, egress: bool = False) -> Any:
        name = f"net-{run_id}" + ("-egress" if egress else "")
        self.networks.append(name)
        return name

    def remove_network(self, network: Any) -> None:
        self.removed_networks.append(network)

    def open_pod(self, network: Any | None, pod: PodShape) -> PodSite:
        self.opened.append(pod)
        if network is None:
            return PodSite()
        return PodSite(f"10.9.0.{len(self.opened) + 1}", network)

    def close_pod(self, site: PodSite) -> None:
        self.closed.append(site)

    def create(self, shape: ContainerShape, site: PodSite, scratch: Path) -> Any:
        default = Script(polls=None) if shape.role is None else Script()
        script = self.scripts.get(self._role(shape), default)
        container = FakeContainer(shape, site, script, len(self.containers) + 1)
        self.containers.append(container)
        return container

    def start(self, container: Any) -> None:
        if container.script.refused:
            raise StartRefused("OCI runtime start failed: fake init died")
        container.started = True

    def state(self, container: Any) -> ContainerState:
        if self.interrupt_on_state is not None:
            raise self.interrupt_on_state
        if container.removed:
            return ContainerState(exited=True)
        if container.exit_code is None and container.started:
            container.polls += 1
            if container.script.polls is not None and container.polls >= container.script.polls:
                container.exit_code = container.script.exit_code
        return ContainerState(container.exit_code is not None, container.exit_code)

    def wait(self, container: Any, timeout: float) -> int | None:
        if container.script.polls is None:
            return None
        container.exit_code = container.script.exit_code
        return container.exit_code

    def logs(self, container: Any) -> tuple[str, str]:
        if self._role(container.shape) != "master":
            return container.script.stdout, container.script.stderr
        said = "Starting Spark master at spark://m:7077\n" if container.started else ""
        driver_runs = any(c.started and c.shape.role is Role.DRIVER for c in self.containers)
        if driver_runs and self.registers:
            said += "Registered app rdd_python with ID app-20260101-0001\n"
        return "", said

    def host_pid(self, container: Any) -> int:
        return 1000 + container.number

    def container_id(self, container: Any) -> str:
        return f"fake-{container.number}"

    def kill(self, container: Any) -> None:
        if container.exit_code is None:
            container.exit_code = 137

    def stop(self, container: Any, grace_seconds: float) -> None:
        if container.exit_code is None:
            container.exit_code = 143

    def remove(self, container: Any) -> None:
        if self.lost_removals:
            self.lost_removals -= 1
            raise EngineLost("ConnectionError")
        container.removed = True

    def cgroup_driver(self) -> str:
        return "systemd"  # no cgroup accounting: nothing on the host is touched


class FakeTracer(Tracer):
    """A tracer for unit tests of the record pipeline: it watches nothing and says each
    run made ``calls`` (per pod role in the pod topology, ``extra`` only in the driver)."""

    name = "fake"

    def __init__(
        self,
        run_dir: Path,
        calls: Sequence[str] = ("read", "write", "futex", "execve"),
        *,
        driver_only: Sequence[str] = ("sendmmsg",),
        pod: bool = True,
        runtime_calls: Sequence[str] = (),
    ) -> None:
        self.run_dir = run_dir
        self.calls = tuple(calls)
        self.driver_only = tuple(driver_only)
        self.pod = pod
        # What the OCI runtime's init was seen to call after the filter.
        self.runtime_calls = tuple(runtime_calls)

    def check_available(self) -> None:
        return None

    def recordings(self, workload: str, run_index: int, pod_security: str) -> tuple[Recording, ...]:
        def made(role: str, names: Sequence[str]) -> Recording:
            return Recording(
                workload=workload,
                run_index=run_index,
                tracer=self.name,
                arch="x86_64",
                pod_security=pod_security,
                counts={
                    name: {
                        "driver JVM": 1,
                        **({"container runtime": 1} if name in self.runtime_calls else {}),
                    }
                    for name in (*names, *self.runtime_calls)
                },
                role=role,
            )

        if not self.pod:
            return (made("all", (*self.calls, *self.driver_only)),)
        return (made("driver", (*self.calls, *self.driver_only)), made("executor", self.calls))


class FakeNodeEngine(FakeEngine):
    """A verification engine of a newer node: runs jobs as FakeEngine does, and one-off
    containers through in-memory primitives (the runtime probe starts one)."""

    oci_runtime = "crun"

    def __init__(self) -> None:
        super().__init__(lambda _spec: (0, False, "42", ""))
        self.primitives = FakePrimitives()

    @property
    def label(self) -> str:
        return "podman/crun@sid"

    def versions(self) -> dict[str, str]:
        return {"engine": "podman 5.8.6", "oci_runtime": "crun 1.28"}

    def run_files_dir(self) -> Path | None:
        return None

    def __getattr__(self, name: str) -> object:
        # open_pod, create, start, host_pid, wait, remove, close_pod
        return getattr(self.primitives, name)
