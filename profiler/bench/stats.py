"""Honest numbers for a benchmark: medians, spreads, and overhead with bootstrap intervals.

This module owns the statistics of ``spark-seccomp bench`` and its JSON form. It is pure:
samples in, a ``BenchReport`` out; the runner (``profiler.bench.runner``) produces the
samples and never computes a statistic itself.

Design choices, and why:

* **Medians, not means.** JVM start-up, GC pauses and a noisy neighbour produce long right
  tails; one slow run should not move the headline number.
* **Overhead is a ratio of medians** (mode / unconfined) of one metric, wall time by
  default, so "+3.1%" reads the same for a 10 s and a 10 min job.
* **The interval is a percentile bootstrap, resampling whole rounds.** Runs are
  interleaved (A B C A B C ...), so the runs of one round share whatever drifted during
  the benchmark: CPU frequency and thermal state, page cache, a background job on the
  host. A round is therefore the experimental unit. Resampling rounds (the same round
  indices for the mode and for unconfined) keeps that shared drift paired and cancels it
  out of the ratio, as the interleaving intended; resampling each mode independently
  would pretend the runs are independent, counting the drift twice as noise in one
  direction and ignoring the correlation in the other. When too few rounds have a
  successful run in both modes (a run failed or was dropped), the rounds can no longer
  be paired and each mode is resampled on its own; ``Overhead.paired`` says which.
* **Fixed seed, fresh generator per comparison.** The same samples give the same bytes,
  and one comparison's interval does not depend on which other comparisons were made.
  ``random.Random`` rather than numpy: its stream is stable across Python versions and
  the core tool does not depend on numpy.
* **Percentile intervals are optimistic for few runs.** With fewer than
  ``FEW_ROUNDS`` rounds the bootstrap distribution of a median is lumpy and its interval
  too narrow; the report warns rather than pretending.
* **Noise is reported, not hidden.** When an interval's half-width exceeds the precision
  asked for, the report says so and estimates how many repeats would reach it
  (half-width shrinks roughly with the square root of the number of rounds).

Samples are successful runs only; runs that failed are the compatibility check's
business and are left out by the runner.
"""

from __future__ import annotations

import json
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profiler.bench.jsonio import parse_json, round_float
from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.results import RESULTS_HINT, BenchFile, SpreadEntry

REFERENCE_MODE = "unconfined"
METRICS = ("wall", "job", "cpu")
# CPU time of each pod of a pod-topology run: the driver's, and all executors' together.
ROLE_METRICS = ("driver_cpu", "executor_cpu")
DEFAULT_RESAMPLES = 4000
MIN_RESAMPLES = 2000
DEFAULT_SEED = 20240917
DEFAULT_PRECISION = 0.02
DEFAULT_CONFIDENCE = 0.95
FEW_ROUNDS = 10  # below this, percentile bootstrap intervals of a median are optimistic
MIN_PAIRED_ROUNDS = 3  # fewer common rounds than this: resample each mode independently
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Sample:
    """One successful run of a workload under a mode, in round ``round`` (0-based)."""

    workload: str
    mode: str
    round: int
    wall_seconds: float
    job_seconds: float | None = None  # the job's own timer, without JVM start-up
    cpu_seconds: float | None = None  # user + system of the containers' cgroups
    driver_cpu_seconds: float | None = None  # the driver pod's part (pod topology)
    executor_cpu_seconds: float | None = None  # the executor pods' part, all together

    def value(self, metric: str) -> float | None:
        if metric == "wall":
            return self.wall_seconds
        if metric == "job":
            return self.job_seconds
        if metric == "cpu":
            return self.cpu_seconds
        if metric == "driver_cpu":
            return self.driver_cpu_seconds
        if metric == "executor_cpu":
            return self.executor_cpu_seconds
        raise ValueError(f"unknown metric {metric!r}")


@dataclass(frozen=True)
class Spread:
    """Median and quartiles of one metric over ``n`` runs."""

    median: float
    q1: float
    q3: float
    n: int

    @property
    def iqr(self) -> float:
        return self.q3 - self.q1

    @property
    def relative_iqr(self) -> float:
        """IQR as a fraction of the median: 0.05 means the middle half spans 5%."""
        return self.iqr / self.median if self.median else math.inf


@dataclass(frozen=True)
class ModeStats:
    """A workload under one mode: the spread of each metric that was measured."""

    workload: str
    mode: str
    wall: Spread
    job: Spread | None = None
    cpu: Spread | None = None
    driver_cpu: Spread | None = None
    executor_cpu: Spread | None = None

    def spread(self, metric: str) -> Spread | None:
        if metric not in METRICS and metric not in ROLE_METRICS:
            raise ValueError(f"unknown metric {metric!r}")
        spread: Spread | None = getattr(self, metric)
        return spread


MIN_RUNS_FOR_INTERVAL = 3


@dataclass(frozen=True)
class Overhead:
    """Median of ``mode`` over median of the reference mode, with a bootstrap interval."""

    workload: str
    mode: str
    metric: str
    ratio: float
    ci_low: float
    ci_high: float
    confidence: float
    n: int  # rounds resampled when paired, else the smaller of the two sample counts
    paired: bool

    @property
    def measurable(self) -> bool:
        """False when the interval contains 1.0, or when there are too few runs for one."""
        return self.n >= MIN_RUNS_FOR_INTERVAL and not (self.ci_low <= 1.0 <= self.ci_high)

    @property
    def half_width(self) -> float:
        return (self.ci_high - self.ci_low) / 2

    @property
    def verdict(self) -> str:
        if self.n < MIN_RUNS_FOR_INTERVAL:
            # A bootstrap of one or two runs is a point, not an interval.
            return f"{_percent(self.ratio)} from {self.n} run(s): too few for an interval"
        if not self.measurable:
            return "no measurable impact"
        return f"{_percent(self.ratio)} (CI {_percent(self.ci_low)}..{_percent(self.ci_high)})"


@dataclass(frozen=True)
class BenchReport:
    """Everything a bench produced: raw samples, derived statistics, and warnings.

    ``environment`` is carried as recorded by the runner (kernel, engine, runc, CPU model
    and count, Speculation_Store_Bypass state, BPF JIT state, image, Spark version...):
    the numbers mean little without it.
    """

    workloads: tuple[str, ...]
    modes: tuple[str, ...]
    samples: tuple[Sample, ...]
    stats: tuple[ModeStats, ...]
    overheads: tuple[Overhead, ...]
    warnings: tuple[str, ...]
    environment: Mapping[str, Any] = field(default_factory=dict)
    reference: str = REFERENCE_MODE
    metric: str = "wall"
    precision: float = DEFAULT_PRECISION
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED
    # CPU overhead per pod (metrics ROLE_METRICS), when the runs were pod-shaped.
    role_overheads: tuple[Overhead, ...] = ()

    def stat(self, workload: str, mode: str) -> ModeStats | None:
        return next((s for s in self.stats if s.workload == workload and s.mode == mode), None)

    def overhead(self, workload: str, mode: str) -> Overhead | None:
        return next((o for o in self.overheads if o.workload == workload and o.mode == mode), None)


# --- statistics -----------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return quantile(sorted(values), 0.5)


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between order statistics (numpy's default, R's type 7)."""
    if not sorted_values:
        raise ValueError("quantile of no values")
    position = (len(sorted_values) - 1) * q
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    fraction = position - low
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * fraction


def spread_of(values: Sequence[float]) -> Spread:
    ordered = sorted(values)
    return Spread(
        median=quantile(ordered, 0.5),
        q1=quantile(ordered, 0.25),
        q3=quantile(ordered, 0.75),
        n=len(ordered),
    )


def bootstrap_ratio(
    treated: Mapping[int, float],
    reference: Mapping[int, float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float, int, bool]:
    """Ratio of medians with a percentile bootstrap interval, from values keyed by round.

    Returns (ratio, low, high, n, paired). Rounds present in both are resampled together
    when there are at least ``MIN_PAIRED_ROUNDS`` of them; otherwise each side on its own.
    """
    if not treated or not reference:
        raise ValueError("bootstrap of an empty sample")
    if resamples < MIN_RESAMPLES:
        raise ValueError(f"at least {MIN_RESAMPLES} resamples, got {resamples}")
    common = sorted(set(treated) & set(reference))
    paired = len(common) >= MIN_PAIRED_ROUNDS
    rng = random.Random(seed)
    ratios: list[float] = []
    if paired:
        a = [treated[r] for r in common]
        b = [reference[r] for r in common]
        ratio = median(a) / median(b)
        indices = range(len(common))
        for _ in range(resamples):
            chosen = rng.choices(indices, k=len(common))
            ratios.append(median([a[i] for i in chosen]) / median([b[i] for i in chosen]))
        n = len(common)
    else:
        a = [treated[r] for r in sorted(treated)]
        b = [reference[r] for r in sorted(reference)]
        ratio = median(a) / median(b)
        for _ in range(resamples):
            ratios.append(median(rng.choices(a, k=len(a))) / median(rng.choices(b, k=len(b))))
        n = min(len(a), len(b))
    ratios.sort()
    tail = (1 - confidence) / 2
    return ratio, quantile(ratios, tail), quantile(ratios, 1 - tail), n, paired


def bootstrap_difference(
    treated: Sequence[float],
    reference: Sequence[float],
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> tuple[float, float, float]:
    """Difference of medians with a percentile bootstrap interval (independent samples)."""
    if not treated or not reference:
        raise ValueError("bootstrap of an empty sample")
    if resamples < MIN_RESAMPLES:
        raise ValueError(f"at least {MIN_RESAMPLES} resamples, got {resamples}")
    rng = random.Random(seed)
    a, b = list(treated), list(reference)
    differences = sorted(
        median(rng.choices(a, k=len(a))) - median(rng.choices(b, k=len(b)))
        for _ in range(resamples)
    )
    tail = (1 - confidence) / 2
    return (
        median(a) - median(b),
        quantile(differences, tail),
        quantile(differences, 1 - tail),
    )


def analyse_bench(
    samples: Iterable[Sample],
    *,
    environment: Mapping[str, Any] | None = None,
    workloads: Sequence[str] | None = None,
    modes: Sequence[str] | None = None,
    reference: str = REFERENCE_MODE,
    metric: str = "wall",
    precision: float = DEFAULT_PRECISION,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> BenchReport:
    """Statistics per workload and mode, and overhead of each mode against ``reference``.

    ``workloads`` and ``modes`` fix the order of the report (default: first appearance in
    ``samples``); naming one with no samples yields a warning, not an error.
    """
    if metric not in METRICS:
        raise UsageError(f"unknown metric {metric!r}", f"choose from {', '.join(METRICS)}")
    if not 0 < precision < 1:
        raise UsageError(f"precision {precision} is not a fraction", "e.g. 0.02 for 2%")
    if not 0 < confidence < 1:
        raise UsageError(f"confidence {confidence} is not a fraction", "e.g. 0.95")
    if resamples < MIN_RESAMPLES:
        raise UsageError(f"{resamples} resamples are too few", f"use at least {MIN_RESAMPLES}")
    # Rounded as JSON stores them, so analysing a file reproduces the original numbers.
    given = [_rounded(s) for s in samples]
    all_samples = tuple(sorted(given, key=lambda s: (s.workload, s.mode, s.round)))
    workload_order = tuple(workloads) if workloads else _unique(s.workload for s in given)
    mode_order = tuple(modes) if modes else _unique(s.mode for s in given)
    if reference in mode_order:  # the reference first, as in every table
        mode_order = (reference, *(m for m in mode_order if m != reference))
    grouped: dict[tuple[str, str], list[Sample]] = {}
    for s in all_samples:
        grouped.setdefault((s.workload, s.mode), []).append(s)
    _check_rounds(grouped)

    stats: list[ModeStats] = []
    overheads: list[Overhead] = []
    role_overheads: list[Overhead] = []
    warnings: list[str] = []
    for workload in workload_order:
        for mode in mode_order:
            runs = grouped.get((workload, mode), [])
            if not runs:
                warnings.append(f"{workload} [{mode}]: no successful runs to measure")
                continue
            stats.append(_mode_stats(workload, mode, runs))
        reference_runs = _by_round(grouped.get((workload, reference), []), metric)
        if reference_runs and len(reference_runs) < FEW_ROUNDS:
            warnings.append(
                f"{workload}: only {len(reference_runs)} {reference} runs; bootstrap "
                f"intervals are optimistic below {FEW_ROUNDS}, use --repeat {FEW_ROUNDS} or more"
            )
        variation = spread_of(list(reference_runs.values())).relative_iqr if reference_runs else 0.0
        compared = False
        for mode in mode_order:
            if mode == reference or not reference_runs:
                continue
            treated = _by_round(grouped.get((workload, mode), []), metric)
            if not treated:
                continue
            ratio, low, high, n, paired = bootstrap_ratio(
                treated, reference_runs, confidence=confidence, resamples=resamples, seed=seed
            )
            overhead = Overhead(workload, mode, metric, ratio, low, high, confidence, n, paired)
            overheads.append(overhead)
            compared = True
            if overhead.half_width > precision:
                needed = math.ceil(n * (overhead.half_width / precision) ** 2)
                warnings.append(
                    f"{workload} [{mode}]: the {confidence:.0%} interval is "
                    f"±{overhead.half_width:.1%}, wider than the {precision:.1%} precision "
                    f"asked for ({reference} runs vary by {variation:.1%} IQR/median); "
                    f"about {needed} repeats would reach it"
                )
        for role_metric in ROLE_METRICS:
            role_reference = _by_round(grouped.get((workload, reference), []), role_metric)
            for mode in mode_order:
                treated = _by_round(grouped.get((workload, mode), []), role_metric)
                if mode == reference or not role_reference or not treated:
                    continue
                ratio, low, high, n, paired = bootstrap_ratio(
                    treated, role_reference, confidence=confidence, resamples=resamples, seed=seed
                )
                role_overheads.append(
                    Overhead(workload, mode, role_metric, ratio, low, high, confidence, n, paired)
                )
        # Without a comparison, the reference's own spread is the only sign of noise. With
        # one, paired rounds cancel shared drift, so the interval is the honest test.
        if not compared and reference_runs and variation > precision:
            warnings.append(
                f"{workload}: {reference} runs vary by {variation:.1%} (IQR/median), more "
                f"than the {precision:.1%} precision asked for; quieten the machine or run "
                "more repeats"
            )
    return BenchReport(
        workloads=workload_order,
        modes=mode_order,
        samples=all_samples,
        stats=tuple(stats),
        overheads=tuple(overheads),
        warnings=tuple(warnings),
        environment=dict(environment or {}),
        reference=reference,
        metric=metric,
        precision=precision,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
        role_overheads=tuple(role_overheads),
    )


def _mode_stats(workload: str, mode: str, runs: Sequence[Sample]) -> ModeStats:
    def spread(metric: str) -> Spread | None:
        values = [v for v in (s.value(metric) for s in runs) if v is not None]
        return spread_of(values) if values else None

    wall = spread("wall")
    assert wall is not None  # every sample has a wall time
    return ModeStats(
        workload,
        mode,
        wall,
        spread("job"),
        spread("cpu"),
        spread("driver_cpu"),
        spread("executor_cpu"),
    )


def _rounded(sample: Sample) -> Sample:
    return Sample(
        sample.workload,
        sample.mode,
        sample.round,
        round_float(sample.wall_seconds) or 0.0,
        round_float(sample.job_seconds),
        round_float(sample.cpu_seconds),
        round_float(sample.driver_cpu_seconds),
        round_float(sample.executor_cpu_seconds),
    )


def _by_round(runs: Sequence[Sample], metric: str) -> dict[int, float]:
    return {s.round: v for s in runs if (v := s.value(metric)) is not None}


def _check_rounds(grouped: Mapping[tuple[str, str], Sequence[Sample]]) -> None:
    for (workload, mode), runs in grouped.items():
        if any(s.wall_seconds <= 0 for s in runs):
            raise UsageError(
                f"{workload} [{mode}] has a run of no duration", "wall times must be positive"
            )
        rounds = [s.round for s in runs]
        if len(set(rounds)) != len(rounds):
            raise UsageError(
                f"{workload} [{mode}] has two samples in one round",
                "each round runs every workload and mode once; number rounds 0, 1, 2...",
            )


def _unique(items: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


# --- JSON -----------------------------------------------------------------------------


def bench_to_dict(report: BenchReport) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": "bench",
        "environment": dict(report.environment),
        "workloads": list(report.workloads),
        "modes": list(report.modes),
        "reference": report.reference,
        "metric": report.metric,
        "precision": round_float(report.precision),
        "confidence": round_float(report.confidence),
        "resamples": report.resamples,
        "seed": report.seed,
        "samples": [
            {
                "workload": s.workload,
                "mode": s.mode,
                "round": s.round,
                "wall_seconds": round_float(s.wall_seconds),
                "job_seconds": round_float(s.job_seconds),
                "cpu_seconds": round_float(s.cpu_seconds),
                "driver_cpu_seconds": round_float(s.driver_cpu_seconds),
                "executor_cpu_seconds": round_float(s.executor_cpu_seconds),
            }
            for s in report.samples
        ],
        "stats": [
            {
                "workload": m.workload,
                "mode": m.mode,
                "wall": _spread_to_dict(m.wall),
                "job": _spread_to_dict(m.job),
                "cpu": _spread_to_dict(m.cpu),
                "driver_cpu": _spread_to_dict(m.driver_cpu),
                "executor_cpu": _spread_to_dict(m.executor_cpu),
            }
            for m in report.stats
        ],
        "overheads": [_overhead_to_dict(o) for o in report.overheads],
        "role_overheads": [_overhead_to_dict(o) for o in report.role_overheads],
        "warnings": list(report.warnings),
    }


def _overhead_to_dict(o: Overhead) -> dict[str, Any]:
    return {
        "workload": o.workload,
        "mode": o.mode,
        "metric": o.metric,
        "ratio": round_float(o.ratio),
        "ci_low": round_float(o.ci_low),
        "ci_high": round_float(o.ci_high),
        "confidence": round_float(o.confidence),
        "n": o.n,
        "paired": o.paired,
        "verdict": o.verdict,
    }


def bench_to_json(report: BenchReport) -> str:
    """Stable bytes: sorted keys, rounded floats, two-space indent, trailing newline."""
    return json.dumps(bench_to_dict(report), indent=2, sort_keys=True) + "\n"


def _overhead_from(o: Any) -> Overhead:
    return Overhead(
        o.workload, o.mode, o.metric, o.ratio, o.ci_low, o.ci_high, o.confidence, o.n, o.paired
    )


def bench_from_dict(data: Any, source: str = "bench.json") -> BenchReport:
    """Read what ``bench_to_dict`` wrote; statistics are taken as stored, not recomputed.

    A file with samples but no ``stats`` key (a runner that only records) is analysed
    here with the parameters it names, so a report can still be made from it.
    """
    model = jsonfile.validate(BenchFile, data, source, RESULTS_HINT)
    resamples = model.resamples or DEFAULT_RESAMPLES
    if resamples < MIN_RESAMPLES:
        raise UsageError(
            f"{source}: resamples: expected at least {MIN_RESAMPLES}, got {resamples}",
            RESULTS_HINT,
        )
    samples = tuple(
        Sample(
            s.workload,
            s.mode,
            s.round,
            s.wall_seconds,
            s.job_seconds,
            s.cpu_seconds,
            s.driver_cpu_seconds,
            s.executor_cpu_seconds,
        )
        for s in model.samples
    )
    environment = dict(model.environment)
    reference = model.reference or REFERENCE_MODE
    metric = model.metric or "wall"
    precision = model.precision or DEFAULT_PRECISION
    confidence = model.confidence or DEFAULT_CONFIDENCE
    seed = model.seed if model.seed is not None else DEFAULT_SEED
    if model.stats is None:
        return analyse_bench(
            samples,
            environment=environment,
            workloads=model.workloads or None,
            modes=model.modes or None,
            reference=reference,
            metric=metric,
            precision=precision,
            confidence=confidence,
            resamples=resamples,
            seed=seed,
        )

    def spread(raw: SpreadEntry) -> Spread:
        return Spread(raw.median, raw.q1, raw.q3, raw.n)

    return BenchReport(
        workloads=tuple(model.workloads),
        modes=tuple(model.modes),
        samples=samples,
        stats=tuple(
            ModeStats(
                m.workload,
                m.mode,
                spread(m.wall),
                None if m.job is None else spread(m.job),
                None if m.cpu is None else spread(m.cpu),
                None if m.driver_cpu is None else spread(m.driver_cpu),
                None if m.executor_cpu is None else spread(m.executor_cpu),
            )
            for m in model.stats
        ),
        overheads=tuple(_overhead_from(o) for o in model.overheads),
        role_overheads=tuple(_overhead_from(o) for o in model.role_overheads),
        warnings=tuple(model.warnings),
        environment=environment,
        reference=reference,
        metric=metric,
        precision=precision,
        confidence=confidence,
        resamples=resamples,
        seed=seed,
    )


def bench_from_json(text: str, source: str = "bench.json") -> BenchReport:
    return bench_from_dict(parse_json(text, source), source)


def _spread_to_dict(spread: Spread | None) -> dict[str, Any] | None:
    if spread is None:
        return None
    return {
        "median": round_float(spread.median),
        "q1": round_float(spread.q1),
        "q3": round_float(spread.q3),
        "n": spread.n,
    }
