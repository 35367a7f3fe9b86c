"""Fakes for unit tests of logic. They subclass the real interfaces; integration tests
use the real Docker engine instead."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from profiler.check import CheckPlan
from profiler.runtime.interface import Backend, ProfileSet, RunObserver, RunResult, RunSpec
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
