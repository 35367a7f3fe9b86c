"""The bound from known counts and costs: its arithmetic, its interval, and the cache rule's
part in it (cached, argument-checked, refused with an ENOSYS fallback, the recorder)."""

from __future__ import annotations

import json

import pytest

from profiler.bench.bound import (
    RECORDER_MODE,
    BoundTarget,
    CallCounts,
    bound_to_json,
    compute_bounds,
    counts_from_recordings,
)
from profiler.bench.filter_cost import RECORDING, REFERENCE, TRACED, FilterCostRun
from profiler.seccomp.arch import syscall_number
from profiler.seccomp.cache import CallCache, CallPath, FilterCache
from profiler.tracing.interface import Recording

GETPPID = syscall_number("getppid", "x86_64")
CLONE = syscall_number("clone", "x86_64")
CLONE3 = syscall_number("clone3", "x86_64")
PLAIN = f"plain:{GETPPID}"


def flat(value: float, n: int = 8) -> tuple[float, ...]:
    """``n`` samples whose median is ``value``, with a little spread around it."""
    return tuple(value + d for d in (-0.5, 0.5, -0.25, 0.25, 0.0, 0.0, -0.1, 0.1)[:n])


def cache(label: str, calls: list[CallCache]) -> FilterCache:
    return FilterCache(label, "x86_64", (100,), tuple(calls))


def cached(name: str) -> CallCache:
    return CallCache(name, syscall_number(name, "x86_64"), CallPath.CACHED, ("allow",))


def cost_run() -> FilterCostRun:
    """unconfined getppid 100 ns; the filter's cached getppid 130 (+30); the filter runs
    its program for clone (stub 300 against 100 unconfined: +200) and refuses clone3 with
    ENOSYS (stub 250 under the filter); the tracer adds 110 ns to the recording filter."""
    runtime_default = cache(
        "runtime-default",
        [
            cached("getppid"),
            cached("read"),
            CallCache(
                "clone", CLONE, CallPath.ARGUMENT_CHECKED, ("allow", "errno 1"), (580, 590), 589, 1
            ),
            CallCache(
                "clone3", CLONE3, CallPath.DENIED, ("errno 38 (ENOSYS)",), (284, 284), 284, 38
            ),
        ],
    )
    generated = cache(
        "generated", [cached("getppid"), cached("read"), cached("clone"), cached("clone3")]
    )
    recording = cache(
        RECORDING, [cached("getppid"), cached("read"), cached("clone"), cached("clone3")]
    )
    return FilterCostRun(
        arch="x86_64",
        iterations=1000,
        repeat=8,
        samples={
            REFERENCE: {
                PLAIN: flat(100.0),
                f"stub:{CLONE}": flat(100.0),
                f"stub:{CLONE3}": flat(100.0),
            },
            "runtime-default": {
                PLAIN: flat(130.0),
                f"stub:{CLONE}": flat(300.0),
                f"stub:{CLONE3}": flat(250.0),
            },
            "generated": {PLAIN: flat(120.0)},
            RECORDING: {PLAIN: flat(125.0)},
            TRACED: {PLAIN: flat(235.0)},
        },
        caches={
            "runtime-default": runtime_default,
            "generated": generated,
            RECORDING: recording,
            TRACED: recording,
        },
        cached_case={"runtime-default": PLAIN, "generated": PLAIN, RECORDING: PLAIN, TRACED: PLAIN},
    )


COUNTS = [
    CallCounts("job", "driver", ({"read": 1_000_000, "getppid": 0, "clone": 100, "clone3": 50},)),
]
CPU = {("job", "driver"): [10.0, 10.0, 10.0]}
TARGETS = [
    BoundTarget("runtime-default", "driver", "runtime-default"),
    BoundTarget("localhost", "driver", "generated"),
    BoundTarget(RECORDER_MODE, "driver", TRACED),
]


def test_the_bound_is_counts_times_added_cost_over_cpu_time() -> None:
    report = compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000)
    runtime_default = report.bound("job", "driver", "runtime-default")
    assert runtime_default is not None
    # cached: 1,000,000 reads x 30 ns; clone: 100 x (30 + 200); clone3 refused with
    # ENOSYS: 50 x (250 for the refused call + 230 for the clone libc makes instead)
    added_ns = 1_000_000 * 30 + 100 * 230 + 50 * (250 + 230)
    assert runtime_default.added_seconds == pytest.approx(added_ns / 1e9)
    assert runtime_default.share == pytest.approx(added_ns / 1e9 / 10.0)
    assert runtime_default.uncached_calls == 150
    assert runtime_default.calls == 1_000_150
    assert any("clone3 -> clone" in n for n in runtime_default.notes)

    generated = report.bound("job", "driver", "localhost")
    assert generated is not None
    assert generated.share == pytest.approx(1_000_150 * 20 / 1e9 / 10.0)
    assert generated.uncached_calls == 0

    recorder = report.bound("job", "driver", RECORDER_MODE)
    assert recorder is not None
    assert recorder.share == pytest.approx(1_000_150 * 110 / 1e9 / 10.0)


def test_the_interval_holds_the_estimate_and_widens_with_noisier_samples() -> None:
    quiet = compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000)
    run = cost_run()
    noisy_samples = dict(run.samples)
    noisy_samples["generated"] = {PLAIN: (100.0, 110.0, 120.0, 130.0, 140.0, 115.0, 125.0, 120.0)}
    noisy = compute_bounds(
        COUNTS,
        CPU,
        TARGETS,
        FilterCostRun(
            run.arch, run.iterations, run.repeat, noisy_samples, run.caches, run.cached_case
        ),
        resamples=2000,
    )
    for report in (quiet, noisy):
        for bound in report.bounds:
            assert bound.low <= bound.share <= bound.high
    quiet_generated = quiet.bound("job", "driver", "localhost")
    noisy_generated = noisy.bound("job", "driver", "localhost")
    assert quiet_generated is not None and noisy_generated is not None
    assert noisy_generated.high - noisy_generated.low > 5 * (
        quiet_generated.high - quiet_generated.low
    )


def test_cpu_time_and_recorded_runs_carry_their_spread_into_the_interval() -> None:
    steady = compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000)
    spread_cpu = {("job", "driver"): [5.0, 10.0, 20.0, 8.0, 12.0]}
    two_runs = [CallCounts("job", "driver", ({"read": 500_000}, {"read": 1_500_000}))]
    wider_cpu = compute_bounds(COUNTS, spread_cpu, TARGETS, cost_run(), resamples=2000)
    wider_runs = compute_bounds(two_runs, CPU, TARGETS, cost_run(), resamples=2000)

    def width(report: object, mode: str = "localhost") -> float:
        bound = report.bound("job", "driver", mode)  # type: ignore[attr-defined]
        assert bound is not None
        return bound.high - bound.low

    assert width(wider_cpu) > 3 * width(steady)
    assert width(wider_runs) > 3 * width(steady)
    mean = wider_runs.bound("job", "driver", "localhost")
    assert mean is not None and mean.calls == 1_000_000 and mean.recorded_runs == 2


def test_costs_table_lists_cached_and_uncached_calls_with_intervals() -> None:
    report = compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000)
    rows = {(c.label, c.name): c for c in report.costs}
    assert rows[("runtime-default", "")].ns == pytest.approx(30.0)
    assert rows[("runtime-default", "clone")].ns == pytest.approx(230.0)
    assert rows[("runtime-default", "clone3")].ns == pytest.approx(480.0)
    assert "then clone" in rows[("runtime-default", "clone3")].rule
    assert rows[(TRACED, "")].ns == pytest.approx(110.0)
    for row in report.costs:
        assert row.low <= row.ns <= row.high


def test_roles_without_cpu_time_or_filters_without_samples_get_no_bound() -> None:
    run = cost_run()
    samples = {k: v for k, v in run.samples.items() if k != "generated"}
    partial = FilterCostRun(
        run.arch, run.iterations, run.repeat, samples, run.caches, run.cached_case
    )
    report = compute_bounds(COUNTS, CPU, TARGETS, partial, resamples=2000)
    assert report.bound("job", "driver", "localhost") is None
    assert report.bound("job", "driver", "runtime-default") is not None
    assert compute_bounds(COUNTS, {}, TARGETS, run, resamples=2000).bounds == ()


def test_bound_json_is_deterministic() -> None:
    first = bound_to_json(compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000))
    again = bound_to_json(compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000))
    assert first == again
    data = json.loads(first)
    assert {b["mode"] for b in data["bounds"]} == {"runtime-default", "localhost", RECORDER_MODE}


def test_counts_come_from_recordings_per_workload_and_pod_role() -> None:
    def recording(role: str, run_index: int, reads: int) -> Recording:
        return Recording(
            workload="job",
            run_index=run_index,
            tracer="ebpf",
            arch="x86_64",
            pod_security="restricted",
            counts={"read": {"driver JVM": reads, "python driver": 1}, "futex": {"driver JVM": 2}},
            role=role,
        )

    counts = counts_from_recordings(
        [recording("driver", 0, 10), recording("driver", 1, 20), recording("executor", 0, 5)]
    )
    assert [(c.workload, c.role, len(c.runs)) for c in counts] == [
        ("job", "driver", 2),
        ("job", "executor", 1),
    ]
    assert counts[0].runs[0] == {"read": 11, "futex": 2}
    assert counts[0].mean_calls() == pytest.approx((13 + 23) / 2)


def test_bound_json_round_trips_and_bad_files_are_refused() -> None:
    from profiler.bench.bound import bound_from_dict
    from profiler.errors import UsageError

    text = bound_to_json(compute_bounds(COUNTS, CPU, TARGETS, cost_run(), resamples=2000))
    assert bound_to_json(bound_from_dict(json.loads(text))) == text
    data = json.loads(text)
    data["bounds"][0]["cpu_seconds"] = -1
    with pytest.raises(UsageError, match="cpu_seconds"):
        bound_from_dict(data, "bound.json")
