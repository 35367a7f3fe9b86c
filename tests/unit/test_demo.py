"""The demo pipeline with a fake backend and a fake tracer: every step in order, every
file the report reads in the one run folder, and the short bench through the same
pipeline as `bench`."""

from __future__ import annotations

import json
from pathlib import Path

from profiler.bench.bound import BoundReport, RoleBound
from profiler.cli.demo import bound_lines
from profiler.demo import ALL_MODES, DEMO_WORKLOADS, DemoPlan, run_demo
from profiler.paths import data_dir
from profiler.runtime.interface import RunSpec, SecurityMode
from profiler.runtime.run_shape import RunShape
from profiler.workloads import Workload
from tests.fakes import FakeBackend, FakeTracer

REFERENCE = data_dir("profiles") / "runtime-default-docker-20.10.24-amd64.json"


def _passes(_spec: RunSpec) -> tuple[int | None, bool, str, str]:
    return 0, False, "42", ""


def _plan(*names: str) -> DemoPlan:
    return DemoPlan(
        workloads=tuple(Workload(n, Path(f"/jobs/{n}.py"), "", True) for n in names),
        shape=RunShape("img", executors=1),
        bench_repeat=2,
        micro_repeat=2,
        runtime_default=REFERENCE,
    )


def test_the_demo_records_checks_benches_and_reports_in_one_folder(tmp_path) -> None:
    backend = FakeBackend(_passes)
    stages: list[str] = []
    notes: list[str] = []
    outcome = run_demo(
        backend,
        _plan("rdd_python", "pandas_udf"),
        FakeTracer,
        run_dir=tmp_path,
        stage=stages.append,
        note=notes.append,
    )
    assert [s.split(" ", 1)[0] for s in stages] == ["1/4", "2/4", "3/4", "4/4"]
    for name in (
        "profile.json",
        "profile.summary.json",
        "profile.driver.json",
        "profile.executor.json",
        "check.json",
        "bench.json",
        "runtime_default.json",
        "report.html",
        "report.md",
    ):
        assert (tmp_path / name).is_file(), name
    assert outcome.check.passed and len(outcome.check.cells) == 2 * len(ALL_MODES)
    assert json.loads((tmp_path / "check.json").read_text())["passed"] is True
    # The bench is the short one: only the demo's bench workload among those recorded.
    assert outcome.bench is not None and outcome.bench.workloads == ("rdd_python",)
    assert (tmp_path / "bench" / "rdd_python").is_dir()  # its run logs stay apart
    # The check's runs are the bench's first round: rdd_python runs once per mode in the
    # check and once more in the bench's second (and last) round.
    runs = [
        s
        for s in backend.specs
        if s.workload.name == "rdd_python" and s.profile_label != "recording (allow all)"
    ]
    assert len(runs) == 2 * len(ALL_MODES)
    assert {s.round for s in outcome.bench.samples} == {0, 1}
    # A backend that runs no commands gets no micro-benchmark and no bound, and says so.
    assert notes == [
        "note: no micro-benchmark on the fake backend",
        "note: no bound on the fake backend: the per-call cost runs in containers",
    ]
    assert "sendmmsg" in outcome.profile.allowed()
    # Where the time went, stage by stage and step by step of the bench.
    steps = [step for step, _seconds in outcome.timings]
    assert steps[:3] == ["record and derive", "check", "bench rounds (and the environment record)"]
    assert steps[-1] == "report" and all(seconds >= 0 for _s, seconds in outcome.timings)
    assert outcome.report.html == tmp_path / "report.html"


def test_every_run_of_the_demo_has_its_shape_and_localhost_runs_their_role_profiles(
    tmp_path,
) -> None:
    backend = FakeBackend(_passes)
    run_demo(backend, _plan("sql_aggregation"), FakeTracer, run_dir=tmp_path)
    assert {(s.image, s.executors) for s in backend.specs} == {("img", 1)}
    confined = [
        s
        for s in backend.specs
        if s.mode is SecurityMode.LOCALHOST and s.profile_label != "recording (allow all)"
    ]
    assert confined and all(s.driver.profile_json != s.executor.profile_json for s in confined)


def test_by_default_the_demo_runs_no_job_twice_and_no_micro_benchmark(tmp_path) -> None:
    """The check's runs are the short bench's one round: each workload runs once per mode
    (plus its recording), and the bound stands for the micro-benchmark."""
    backend = FakeBackend(_passes)
    notes: list[str] = []
    default = DemoPlan(
        workloads=tuple(Workload(n, Path(f"/jobs/{n}.py"), "", True) for n in DEMO_WORKLOADS),
        shape=RunShape("img", executors=1),
        runtime_default=REFERENCE,
    )
    outcome = run_demo(backend, default, FakeTracer, run_dir=tmp_path, note=notes.append)
    recorded = [s for s in backend.specs if s.profile_label == "recording (allow all)"]
    confined = [s for s in backend.specs if s.profile_label != "recording (allow all)"]
    assert len(recorded) == len(DEMO_WORKLOADS)
    assert sorted((s.workload.name, s.mode) for s in confined) == sorted(
        (name, mode) for name in DEMO_WORKLOADS for mode in ALL_MODES
    )
    assert outcome.bench is not None and set(outcome.bench.workloads) == set(DEMO_WORKLOADS)
    assert {s.round for s in outcome.bench.samples} == {0}
    assert not any("micro-benchmark" in n for n in notes), notes
    assert not (tmp_path / "microbench.json").exists()


def _role_bound(workload: str, role: str, mode: str, share: float, high: float) -> RoleBound:
    return RoleBound(
        workload=workload,
        role=role,
        mode=mode,
        label=mode,
        calls=1000.0,
        uncached_calls=0.0,
        cpu_seconds=10.0,
        added_seconds=share * 10.0,
        share=share,
        low=share / 2,
        high=high,
        confidence=0.95,
        recorded_runs=1,
        cpu_runs=1,
    )


def test_the_summary_quotes_per_mode_the_pod_the_filter_can_cost_most() -> None:
    bound = BoundReport(
        costs=(),
        bounds=(
            _role_bound("rdd_python", "driver", "runtime-default", 0.00014, 0.00025),
            _role_bound("sql_aggregation", "executor", "runtime-default", 0.00015, 0.00027),
            _role_bound("rdd_python", "driver", "recording", 0.00131, 0.00222),
        ),
    )
    assert bound_lines(bound) == [
        "bound [runtime-default]: at most +0.015% of a pod's CPU time "
        "(sql_aggregation executor; 95% CI up to +0.027%)",
        "bound [recording]: at most +0.131% of a pod's CPU time "
        "(rdd_python driver; 95% CI up to +0.222%)",
    ]
    assert bound_lines(None) == []
