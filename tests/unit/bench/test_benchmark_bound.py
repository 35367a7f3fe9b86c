"""The bench pipeline's bound step with a fake engine: counts from recordings given (or
recorded), per-call costs per filter, the bound in bound.json, bench.json and the report."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler.bench import filter_cost
from profiler.bench.microbench_run import with_timing_loop_calls
from profiler.bench.runner import BenchPlan
from profiler.benchmark import BenchOptions, BoundOptions, run_benchmark
from profiler.paths import data_dir
from profiler.runtime.interface import ProfileSet, SecurityMode, Topology
from profiler.runtime.run_shape import RunShape
from profiler.seccomp.arch import syscall_number
from profiler.tracing.interface import Recording
from profiler.workloads import Workload
from tests.fakes import FakeLoopEngine

FIXTURES = Path(__file__).parents[2] / "fixtures"
REFERENCE = data_dir("profiles") / "runtime-default-docker-20.10.24-amd64.json"
BUNDLE = json.loads(
    (FIXTURES / "seccomp" / "runtime_default_docker_20.10.24_bundle.json").read_text()
)
PROFILE = json.dumps(
    {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getppid", "read", "futex", "clone", "clone3"], "action": "SCMP_ACT_ALLOW"}
        ],
    }
)
PLAIN = f"plain:{syscall_number('getppid', 'x86_64')}"


@pytest.fixture(autouse=True)
def no_compiler(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    binary = tmp_path / "tools" / "syscall_loop-test"
    binary.parent.mkdir()
    binary.write_text("")
    monkeypatch.setattr(filter_cost, "syscall_loop_binary", lambda: binary)
    monkeypatch.setattr(filter_cost, "count_processes", lambda _name: 0)


def _recording(tmp_path: Path) -> Path:
    folder = tmp_path / "recorded" / "run-1"
    folder.mkdir(parents=True)
    Recording(
        workload="job",
        run_index=1,
        tracer="ebpf",
        arch="x86_64",
        pod_security="restricted",
        counts={"read": {"driver JVM": 900_000}, "clone3": {"driver JVM": 100}},
    ).save(folder / "recording.json")
    return tmp_path / "recorded"


def _bench(tmp_path: Path, engine: Any, bound: BoundOptions) -> Any:
    plan = BenchPlan(
        workloads=(Workload("job", Path("/jobs/job.py"), "", True),),
        modes=(SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST),
        shape=RunShape("img", topology=Topology.LOCAL),
        profiles=ProfileSet.single(PROFILE, "generated"),
        repeat=3,
    )
    options = BenchOptions(
        run_root=tmp_path / "bench", microbench=None, runtime_default=REFERENCE, bound=bound
    )
    return run_benchmark(engine, plan, options)


def test_the_bound_lands_in_bound_json_bench_json_and_the_report(tmp_path: Path) -> None:
    engine = FakeLoopEngine(
        {
            (json.dumps(BUNDLE, sort_keys=True), PLAIN): 130.0,
            # measured with the timing loop's clock allowed (the profile lacks it)
            (with_timing_loop_calls(PROFILE)[0], PLAIN): 120.0,
        },
        runtime_default=BUNDLE,
    )
    outcome = _bench(
        tmp_path,
        engine,
        BoundOptions(recordings=(_recording(tmp_path),), repeat=3, recorder=False),
    )
    assert outcome.bound is not None
    by_mode = {b.mode: b for b in outcome.bound.bounds}
    assert set(by_mode) == {"runtime-default", "localhost"}
    # The fake backend's runs take 5 CPU seconds; 900,100 calls at +20 ns under the profile.
    assert by_mode["localhost"].share == pytest.approx(900_100 * 20e-9 / 5.0)
    # RuntimeDefault refuses clone3, so its 100 calls cost the refusal and the clone retry.
    assert by_mode["runtime-default"].uncached_calls == 100
    root = tmp_path / "bench"
    assert json.loads((root / "bound.json").read_text())["kind"] == "bound"
    assert json.loads((root / "bench.json").read_text())["bound"]["bounds"]
    assert (root / "filter_cost.json").is_file()
    assert "What each filter can add" in (root / "report.md").read_text()
    # Every filter-cost container ran with a filter of the bench's or none.
    assert {mode for _argv, mode, _p in engine.commands} == {
        SecurityMode.UNCONFINED,
        SecurityMode.RUNTIME_DEFAULT,
        SecurityMode.LOCALHOST,
    }


def test_without_recordings_the_workloads_are_recorded_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from profiler import record
    from tests.fakes import FakeTracer

    monkeypatch.setattr(
        record, "tracer_factory", lambda _choice, _note: lambda d: FakeTracer(d, pod=False)
    )
    engine = FakeLoopEngine({}, runtime_default=BUNDLE)
    outcome = _bench(tmp_path, engine, BoundOptions(repeat=2, recorder=False))
    assert outcome.bound is not None and outcome.bound.bounds
    recorded = [s for s in engine.specs if s.profile_label == "recording (allow all)"]
    assert len(recorded) == 1
    assert (tmp_path / "bench" / "bound" / "record" / "job" / "run-1").is_dir()


def test_a_bound_that_cannot_be_made_is_a_note_not_a_failed_bench(tmp_path: Path) -> None:
    engine = FakeLoopEngine({}, runtime_default=BUNDLE)
    missing = BoundOptions(recordings=(tmp_path / "nowhere",), recorder=False)
    outcome = _bench(tmp_path, engine, missing)
    assert outcome.bound is None
    assert any(n.startswith("no bound:") and "nowhere" in n for n in outcome.notes)
    assert (tmp_path / "bench" / "report.html").is_file()


def test_recordings_in_hand_are_used_and_nothing_is_recorded(tmp_path: Path) -> None:
    """The demo hands over the recordings of its first stage."""
    engine = FakeLoopEngine({}, runtime_default=BUNDLE)
    recording = Recording.load(_recording(tmp_path) / "run-1" / "recording.json")
    outcome = _bench(tmp_path, engine, BoundOptions(recorded=(recording,), recorder=False))
    assert outcome.bound is not None and outcome.bound.bounds
    assert not [s for s in engine.specs if s.profile_label == "recording (allow all)"]
    assert not (tmp_path / "bench" / "bound").exists()
