"""The bound against a bench: does counts x per-call cost fall inside what the runs measured?

The bound says how much CPU time a filter can add to a pod; a long interleaved bench
measures the change of each pod's CPU time (cgroup), paired by round, with a bootstrap
interval. For every workload, mode and scope (each pod role, and the job's CPU time as a
whole) this module sets the two side by side: the measured ratio and its interval, the
bound as a ratio (1 + share), whether the bound lies inside the interval, and the
interval's half-width against the precision the bench aimed at. Pure.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from profiler.bench.bound import BoundReport, RoleBound
from profiler.bench.jsonio import round_float
from profiler.bench.stats import BenchReport, Sample, bootstrap_ratio, median

JOB = "job"  # the scope of the whole job's CPU time (every pod)
_METRIC = {"driver": "driver_cpu", "executor": "executor_cpu", "all": "cpu", JOB: "cpu"}


@dataclass(frozen=True)
class CrossCheckRow:
    workload: str
    mode: str
    scope: str  # "driver", "executor", "all" (one-container runs) or JOB
    ratio: float  # measured: median CPU under the mode / unconfined
    low: float
    high: float
    rounds: int
    bound: float  # 1 + the bound's share
    bound_low: float
    bound_high: float

    @property
    def inside(self) -> bool:
        return self.low <= self.bound <= self.high

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


def cross_check(bench: BenchReport, bound: BoundReport) -> tuple[CrossCheckRow, ...]:
    """One row per workload, mode and scope that both the bench and the bound cover."""
    rows: list[CrossCheckRow] = []
    for workload in bench.workloads:
        for mode in bench.modes:
            if mode == bench.reference:
                continue
            bounds = [b for b in bound.bounds if b.workload == workload and b.mode == mode]
            for role_bound in bounds:
                row = _row(bench, workload, mode, role_bound.role, [role_bound])
                if row is not None:
                    rows.append(row)
            if len(bounds) > 1:
                row = _row(bench, workload, mode, JOB, bounds)
                if row is not None:
                    rows.append(row)
    return tuple(rows)


def _row(
    bench: BenchReport, workload: str, mode: str, scope: str, bounds: Sequence[RoleBound]
) -> CrossCheckRow | None:
    metric = _METRIC.get(scope)
    if metric is None:
        return None
    treated = _by_round(bench.samples, workload, mode, metric)
    reference = _by_round(bench.samples, workload, bench.reference, metric)
    if not treated or not reference:
        return None
    ratio, low, high, rounds, _paired = bootstrap_ratio(
        treated,
        reference,
        confidence=bench.confidence,
        resamples=bench.resamples,
        seed=bench.seed,
    )
    cpu = sum(b.cpu_seconds for b in bounds)
    added = sum(b.added_seconds for b in bounds)
    # Each role's interval scaled by its share of the CPU time: the job's interval is no
    # wider than the widest role's (an approximation: the roles' draws are not summed).
    spread_low = sum((b.low - b.share) * b.cpu_seconds for b in bounds) / cpu
    spread_high = sum((b.high - b.share) * b.cpu_seconds for b in bounds) / cpu
    share = added / cpu
    return CrossCheckRow(
        workload,
        mode,
        scope,
        ratio,
        low,
        high,
        rounds,
        1 + share,
        1 + share + spread_low,
        1 + share + spread_high,
    )


def _by_round(samples: Sequence[Sample], workload: str, mode: str, metric: str) -> dict[int, float]:
    found: dict[int, float] = {}
    for sample in samples:
        if sample.workload == workload and sample.mode == mode:
            value = sample.value(metric)
            if value is not None and value > 0:
                found[sample.round] = value
    return found


def cross_check_to_dict(rows: Sequence[CrossCheckRow], precision: float) -> dict[str, Any]:
    return {
        "precision": round_float(precision),
        "rows": [
            {
                "workload": r.workload,
                "mode": r.mode,
                "scope": r.scope,
                "ratio": round_float(r.ratio),
                "ci_low": round_float(r.low),
                "ci_high": round_float(r.high),
                "half_width": round_float(r.half_width),
                "rounds": r.rounds,
                "bound_ratio": round_float(r.bound),
                "bound_low": round_float(r.bound_low),
                "bound_high": round_float(r.bound_high),
                "inside": r.inside,
                "precision_reached": r.half_width <= precision,
            }
            for r in rows
        ],
        "inside": sum(r.inside for r in rows),
        "total": len(rows),
        "median_half_width": round_float(median([r.half_width for r in rows]) if rows else None),
    }


def cross_check_to_json(rows: Sequence[CrossCheckRow], precision: float) -> str:
    return json.dumps(cross_check_to_dict(rows, precision), indent=2, sort_keys=True) + "\n"
