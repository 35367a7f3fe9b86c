"""Fakes for unit tests of logic. They subclass the real interfaces; integration tests
use the real Docker engine instead."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from profiler.check import CheckPlan
from profiler.runtime.interface import (
    Backend,
    ContainerEngine,
    ContainerSecurity,
    ProfileSet,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
)
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


def check_plan(
    workloads: list,
    modes: list,
    image: str = "img",
    *,
    profile_json: str | None = None,
    **fields: object,
) -> CheckPlan:
    """A CheckPlan the way tests spell it: lists, and one profile for every container."""
    profiles = ProfileSet.single(profile_json, "test profile") if profile_json else None
    return CheckPlan(
        workloads=tuple(workloads), modes=tuple(modes), image=image, profiles=profiles, **fields
    )  # type: ignore[arg-type]
