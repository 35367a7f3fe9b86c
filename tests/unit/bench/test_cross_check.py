"""The bound set beside a bench's measured CPU change: inside or not, per role and job."""

from __future__ import annotations

import json
import random

import pytest

from profiler.bench.bound import BoundReport, RoleBound
from profiler.bench.cross_check import JOB, cross_check, cross_check_to_json
from profiler.bench.stats import Sample, analyse_bench


def samples(rounds: int, driver_factor: float, executor_factor: float) -> list[Sample]:
    """Unconfined driver 10 s and executors 20 s of CPU, a mode scaled by the factors, with
    a round-to-round drift both modes share (paired rounds cancel it)."""
    rng = random.Random(7)
    found = []
    for r in range(rounds):
        drift = 1 + 0.01 * ((r * 7) % 5 - 2)
        for mode, fd, fe in (
            ("unconfined", 1.0, 1.0),
            ("localhost", driver_factor, executor_factor),
        ):
            driver = 10.0 * drift * fd * rng.gauss(1, 0.01)
            executor = 20.0 * drift * fe * rng.gauss(1, 0.01)
            found.append(
                Sample("job", mode, r, 30.0 * drift, None, driver + executor, driver, executor)
            )
    return found


def role_bound(role: str, share: float, cpu: float) -> RoleBound:
    return RoleBound(
        "job",
        role,
        "localhost",
        "generated",
        1e6,
        0,
        cpu,
        share * cpu,
        share,
        share * 0.9,
        share * 1.1,
        0.95,
        1,
        10,
    )


def test_a_bound_inside_the_measured_interval_is_said_so_per_role_and_for_the_job() -> None:
    bench = analyse_bench(samples(30, 1.0003, 1.0002), resamples=2000)
    bounds = BoundReport(
        (), (role_bound("driver", 0.0002, 10.0), role_bound("executor", 0.0002, 20.0))
    )
    rows = {r.scope: r for r in cross_check(bench, bounds)}
    assert set(rows) == {"driver", "executor", JOB}
    for row in rows.values():
        assert row.low <= row.ratio <= row.high
        assert row.inside
        assert row.bound == pytest.approx(1.0002)
    assert rows["executor"].half_width < 0.03


def test_a_measured_change_the_bound_cannot_explain_is_outside() -> None:
    bench = analyse_bench(samples(12, 1.05, 1.0), resamples=2000)
    bounds = BoundReport((), (role_bound("driver", 0.0002, 10.0),))
    (row,) = cross_check(bench, bounds)
    assert row.scope == "driver" and not row.inside and row.low > 1.02
    data = json.loads(cross_check_to_json([row], 0.03))
    assert data["inside"] == 0 and data["total"] == 1
    assert data["rows"][0]["precision_reached"] is True
