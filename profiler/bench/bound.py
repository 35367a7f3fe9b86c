"""The bound: what a filter (or the recorder) can add to a job, from counts and per-call cost.

A job's recording counts every syscall per pod role; ``filter_cost`` measures what one
call adds under each filter. Their product over the job's CPU time bounds the filter's
share of the job with the micro-benchmark's precision instead of the job's noise:

    share = sum over calls of count x added ns for that call under that filter
            / the role's CPU time (median of its unconfined bench runs)

Added ns per call, for a filter F (``c`` the cached cost, ``r`` the program's run):

* a call F's cache serves: ``c(F)`` = cheap call under F - the same without a filter;
* a call F does not cache (argument-checked, or refused): ``c(F) + r(F, call)``, where
  ``r`` = the call refused by a stub filter under F - the same without F (the program's
  own run, see ``filter_cost``). For a refused call this is an upper bound: the refusal
  also saves the call's own work, which is not subtracted;
* a call F refuses with ENOSYS that libc then retries with an older call (clone3 ->
  clone): the refused call's whole cost plus the fallback's added cost, since the job
  makes both where the recording saw one;
* the recorder: the cheap call under the recording filter with the eBPF tracer attached -
  the same without it, for every call.

Not counted: populating ``seccomp_data`` before an uncached call's program (a few ns, on
the few calls that are uncached), and effects beyond the syscall path (none known on
5.16+ kernels, where a filter no longer turns on the SSBD mitigation; the environment
record says which kernel and SSBD state the figures come from).

The interval is a percentile bootstrap over everything measured: each filter's and
case's micro-benchmark samples, the recorded runs (when there are several) and the CPU
time samples are resampled together, so the interval carries each one's noise. Pure:
numbers in, a ``BoundReport`` out, the same bytes for the same input.
"""

from __future__ import annotations

import json
import random
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from profiler.bench.filter_cost import (
    ENOSYS_FALLBACKS,
    RECORDING,
    REFERENCE,
    TRACED,
    FilterCostRun,
)
from profiler.bench.jsonio import DIGITS, round_float
from profiler.bench.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    MIN_RESAMPLES,
    median,
    quantile,
)
from profiler.formats import jsonfile
from profiler.formats.results import RESULTS_HINT, BoundFile
from profiler.seccomp.cache import CallPath
from profiler.tracing.interface import Recording

RECORDER_MODE = "recording"  # the bound for recording, beside the bench's modes
BOUND_FILE = "bound.json"
FORMAT_VERSION = 1
_ENOSYS = 38


@dataclass(frozen=True)
class CallCounts:
    """Syscalls of one pod role of one workload: one name -> count mapping per recorded run."""

    workload: str
    role: str  # "driver", "executor" (every executor pod together) or "all"
    runs: tuple[Mapping[str, int], ...]

    @property
    def names(self) -> frozenset[str]:
        return frozenset(name for run in self.runs for name in run)

    def mean_calls(self) -> float:
        return sum(sum(run.values()) for run in self.runs) / len(self.runs)


@dataclass(frozen=True)
class BoundTarget:
    """Which measured filter stands for a bench mode in one pod role."""

    mode: str  # "runtime-default", "localhost", or RECORDER_MODE
    role: str
    label: str  # the FilterCostRun label


@dataclass(frozen=True)
class CallCost:
    """Added ns of one call under one filter, with its bootstrap interval."""

    label: str
    name: str  # the call, or "" for the filter's cached cost
    path: str  # a seccomp.cache.CallPath value, or "recorder"
    ns: float
    low: float
    high: float
    rule: str  # how it was computed, in words


@dataclass(frozen=True)
class RoleBound:
    """The share of one pod role's CPU time a filter (or the recorder) can add."""

    workload: str
    role: str
    mode: str
    label: str
    calls: float  # per run, mean over the recorded runs
    uncached_calls: float  # of which the filter's cache does not serve
    cpu_seconds: float  # the role's CPU time, median of its unconfined runs
    added_seconds: float
    share: float  # added_seconds / cpu_seconds
    low: float
    high: float
    confidence: float
    recorded_runs: int
    cpu_runs: int
    notes: tuple[str, ...] = ()

    @property
    def verdict(self) -> str:
        return f"{_percent(self.share)} ({_percent(self.low)}..{_percent(self.high)})"


@dataclass(frozen=True)
class BoundReport:
    costs: tuple[CallCost, ...]
    bounds: tuple[RoleBound, ...]
    confidence: float = DEFAULT_CONFIDENCE
    resamples: int = DEFAULT_RESAMPLES
    seed: int = DEFAULT_SEED

    def bound(self, workload: str, role: str, mode: str) -> RoleBound | None:
        return next(
            (
                b
                for b in self.bounds
                if b.workload == workload and b.role == role and b.mode == mode
            ),
            None,
        )


def counts_from_recordings(recordings: Iterable[Recording]) -> list[CallCounts]:
    """Counts per (workload, container role), every process role of a run added up."""
    grouped: dict[tuple[str, str], dict[int, dict[str, int]]] = defaultdict(dict)
    for recording in recordings:
        per_name = {name: recording.total(name) for name in recording.counts}
        runs = grouped[(recording.workload, recording.role)]
        index = recording.run_index
        while index in runs:  # two recordings claiming one run index stay apart
            index += 1_000_000
        runs[index] = per_name
    return [
        CallCounts(workload, role, tuple(runs[i] for i in sorted(runs)))
        for (workload, role), runs in sorted(grouped.items())
    ]


class _Costs:
    """Added ns per (filter, call) from one set of case medians (point or resample)."""

    def __init__(self, run: FilterCostRun, medians: Mapping[tuple[str, str], float]) -> None:
        self.run = run
        self.medians = medians

    def _difference(self, label: str, case: str, reference: str) -> float:
        return self.medians[(label, case)] - self.medians[(reference, case)]

    def cached(self, label: str) -> float:
        if label == TRACED:
            return self._difference(TRACED, self.run.cached_case[TRACED], RECORDING)
        return self._difference(label, self.run.cached_case[label], REFERENCE)

    def call(self, label: str, name: str) -> float:
        if label == TRACED:
            return self.cached(TRACED)
        entry = self.run.caches[label].call(name)
        if entry is None or entry.path is CallPath.CACHED:
            return self.cached(label)
        stub = self.run.stub_case(name)
        assert stub is not None
        fallback = ENOSYS_FALLBACKS.get(name)
        if entry.path is CallPath.DENIED and entry.denied_errno == _ENOSYS and fallback:
            return self.medians[(label, stub)] + self.call(label, fallback)
        return self.cached(label) + self._difference(label, stub, REFERENCE)


def needed_cases(run: FilterCostRun, label: str, names: Iterable[str]) -> set[tuple[str, str]]:
    """(label, case) pairs whose samples the costs of ``names`` under ``label`` use."""
    if label == TRACED:
        case = run.cached_case[TRACED]
        return {(TRACED, case), (RECORDING, case)}
    cases = {(label, run.cached_case[label]), (REFERENCE, run.cached_case[label])}
    cache = run.caches[label]
    pending = list(names)
    seen: set[str] = set()
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        seen.add(name)
        entry = cache.call(name)
        if entry is None or not entry.runs_program:
            continue
        stub = run.stub_case(name)
        if stub is not None:
            cases |= {(label, stub), (REFERENCE, stub)}
        if name in ENOSYS_FALLBACKS:
            pending.append(ENOSYS_FALLBACKS[name])
    return cases


def compute_bounds(
    counts: Sequence[CallCounts],
    cpu_seconds: Mapping[tuple[str, str], Sequence[float]],
    targets: Sequence[BoundTarget],
    run: FilterCostRun,
    *,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> BoundReport:
    """The bound per workload, role and mode, and the per-call costs it used.

    ``cpu_seconds`` maps (workload, role) to the role's CPU time of each unconfined run;
    a role without CPU samples, or a target whose filter was not measured, gets no bound.
    """
    if resamples < MIN_RESAMPLES:
        raise ValueError(f"at least {MIN_RESAMPLES} resamples, got {resamples}")
    measured = {label for label, cases in run.samples.items() if cases}
    usable = [t for t in targets if t.label in measured and _has_reference(run, t.label)]
    names_by_label: dict[str, set[str]] = defaultdict(set)
    for target in usable:
        for count in counts:
            if count.role == target.role:
                names_by_label[target.label] |= count.names
    # The cost table also shows what the filter's other uncached calls cost when measured
    # (RuntimeDefault's argument checks the job never triggered).
    for label in list(names_by_label):
        if label != TRACED:
            names_by_label[label] |= {
                c.name
                for c in run.caches[label].uncached
                if (stub := run.stub_case(c.name)) and run.samples.get(label, {}).get(stub)
            }
    cases: set[tuple[str, str]] = set()
    for label, names in names_by_label.items():
        cases |= needed_cases(run, label, names)
    missing = {c for c in cases if not run.samples.get(c[0], {}).get(c[1])}
    skipped_labels = {label for label, _ in missing}
    usable = [t for t in usable if t.label not in skipped_labels]

    samples = {case: run.samples[case[0]][case[1]] for case in cases - missing}
    point = _Costs(run, {case: median(values) for case, values in samples.items()})
    rng = random.Random(seed)
    draws = [
        _Costs(
            run,
            {case: median(rng.choices(values, k=len(values))) for case, values in samples.items()},
        )
        for _ in range(resamples)
    ]
    tail = (1 - confidence) / 2

    bounds: list[RoleBound] = []
    for count in counts:
        cpu = [v for v in cpu_seconds.get((count.workload, count.role), ()) if v and v > 0]
        if not cpu:
            continue
        for target in usable:
            if target.role != count.role:
                continue
            bounds.append(
                _role_bound(count, cpu, target, run, point, draws, seed, tail, confidence)
            )
    costs = _cost_table(run, names_by_label, point, draws, tail)
    return BoundReport(tuple(costs), tuple(bounds), confidence, resamples, seed)


def _role_bound(
    count: CallCounts,
    cpu: Sequence[float],
    target: BoundTarget,
    run: FilterCostRun,
    point: _Costs,
    draws: Sequence[_Costs],
    seed: int,
    tail: float,
    confidence: float,
) -> RoleBound:
    label = target.label
    cache = run.caches.get(label) if label != TRACED else None
    uncached = sorted(
        name
        for name in count.names
        if cache is not None and (entry := cache.call(name)) is not None and entry.runs_program
    )

    def added_ns(costs: _Costs, runs: Sequence[Mapping[str, int]]) -> float:
        total = cached_calls = 0.0
        for calls in runs:
            for name in uncached:
                total += calls.get(name, 0) * costs.call(label, name)
            cached_calls += sum(calls.values()) - sum(calls.get(n, 0) for n in uncached)
        total += cached_calls * costs.cached(label)
        return total / len(runs)

    share = added_ns(point, count.runs) / 1e9 / median(cpu)
    # A generator of its own, so one bound's interval does not depend on which others
    # were computed; the cost draws are shared, as every bound uses the same measurement.
    rng = random.Random(f"{seed}:{count.workload}:{count.role}:{target.mode}:{label}")
    shares = []
    for costs in draws:
        runs = rng.choices(count.runs, k=len(count.runs))
        cpu_draw = median(rng.choices(cpu, k=len(cpu)))
        shares.append(added_ns(costs, runs) / 1e9 / cpu_draw)
    shares.sort()
    notes = []
    if cache is not None:
        entries = [e for e in (cache.call(n) for n in uncached) if e is not None]
        refused = [e.name for e in entries if e.path is CallPath.DENIED]
        with_fallback = [
            e.name
            for e in entries
            if e.path is CallPath.DENIED
            and e.name in ENOSYS_FALLBACKS
            and e.denied_errno == _ENOSYS
        ]
        if with_fallback:
            notes.append(
                "refused with ENOSYS and retried by libc: "
                + ", ".join(f"{n} -> {ENOSYS_FALLBACKS[n]}" for n in with_fallback)
            )
        others = [n for n in refused if n not in with_fallback]
        if others:
            notes.append(
                "refused (counted at the filter's cost, the call's own work not subtracted): "
                + ", ".join(others)
            )
    mean_uncached = sum(sum(r.get(n, 0) for n in uncached) for r in count.runs) / len(count.runs)
    added = added_ns(point, count.runs) / 1e9
    return RoleBound(
        workload=count.workload,
        role=count.role,
        mode=target.mode,
        label=label,
        calls=count.mean_calls(),
        uncached_calls=mean_uncached,
        cpu_seconds=median(cpu),
        added_seconds=added,
        share=_as_written(share),
        low=_as_written(quantile(shares, tail)),
        high=_as_written(quantile(shares, 1 - tail)),
        confidence=confidence,
        recorded_runs=len(count.runs),
        cpu_runs=len(cpu),
        notes=tuple(notes),
    )


def _cost_table(
    run: FilterCostRun,
    names_by_label: Mapping[str, set[str]],
    point: _Costs,
    draws: Sequence[_Costs],
    tail: float,
) -> list[CallCost]:
    rows: list[CallCost] = []

    def interval(values: list[float]) -> tuple[float, float]:
        values.sort()
        return quantile(values, tail), quantile(values, 1 - tail)

    for label in sorted(names_by_label):
        low, high = interval([d.cached(label) for d in draws])
        if label == TRACED:
            rows.append(
                CallCost(label, "", "recorder", point.cached(label), low, high, "every call")
            )
            continue
        rows.append(
            CallCost(label, "", CallPath.CACHED.value, point.cached(label), low, high, "cached")
        )
        cache = run.caches[label]
        for name in sorted(names_by_label[label]):
            entry = cache.call(name)
            if entry is None or not entry.runs_program:
                continue
            low, high = interval([d.call(label, name) for d in draws])
            rule = f"runs {entry.zero_argument_instructions} instructions"
            if entry.instructions[0] != entry.instructions[1]:
                rule += f" ({entry.instructions[0]}-{entry.instructions[1]} by arguments)"
            fallback = ENOSYS_FALLBACKS.get(name)
            if entry.path is CallPath.DENIED and entry.denied_errno == _ENOSYS and fallback:
                rule += f"; refused with ENOSYS, then {fallback}"
            rows.append(
                CallCost(label, name, entry.path.value, point.call(label, name), low, high, rule)
            )
    return rows


def _has_reference(run: FilterCostRun, label: str) -> bool:
    if label == TRACED:
        return RECORDING in run.samples and TRACED in run.cached_case
    return REFERENCE in run.samples and label in run.caches and label in run.cached_case


def bound_to_dict(report: BoundReport) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": "bound",
        "confidence": round_float(report.confidence),
        "resamples": report.resamples,
        "seed": report.seed,
        "costs": [
            {
                "filter": c.label,
                "call": c.name,
                "path": c.path,
                "added_ns": round_float(c.ns),
                "added_ns_low": round_float(c.low),
                "added_ns_high": round_float(c.high),
                "rule": c.rule,
            }
            for c in report.costs
        ],
        "bounds": [
            {
                "workload": b.workload,
                "role": b.role,
                "mode": b.mode,
                "filter": b.label,
                "calls": round_float(b.calls),
                "uncached_calls": round_float(b.uncached_calls),
                "cpu_seconds": round_float(b.cpu_seconds),
                "added_seconds": round_float(b.added_seconds),
                # In percent: six decimals of a fraction would keep only three digits.
                "share_percent": round_float(b.share * 100),
                "share_percent_low": round_float(b.low * 100),
                "share_percent_high": round_float(b.high * 100),
                "confidence": round_float(b.confidence),
                "recorded_runs": b.recorded_runs,
                "cpu_runs": b.cpu_runs,
                "verdict": b.verdict,
                "notes": list(b.notes),
            }
            for b in report.bounds
        ],
    }


def bound_to_json(report: BoundReport) -> str:
    return json.dumps(bound_to_dict(report), indent=2, sort_keys=True) + "\n"


def bound_from_dict(data: Any, source: str = BOUND_FILE) -> BoundReport:
    """Read what ``bound_to_dict`` wrote (validated: ``formats.results.BoundFile``)."""
    model = jsonfile.validate(BoundFile, data, source, RESULTS_HINT)
    return BoundReport(
        costs=tuple(
            CallCost(c.filter, c.call, c.path, c.added_ns, c.added_ns_low, c.added_ns_high, c.rule)
            for c in model.costs
        ),
        bounds=tuple(
            RoleBound(
                workload=b.workload,
                role=b.role,
                mode=b.mode,
                label=b.filter,
                calls=b.calls,
                uncached_calls=b.uncached_calls,
                cpu_seconds=b.cpu_seconds,
                added_seconds=b.added_seconds,
                share=b.share_percent / 100,
                low=b.share_percent_low / 100,
                high=b.share_percent_high / 100,
                confidence=b.confidence,
                recorded_runs=b.recorded_runs,
                cpu_runs=b.cpu_runs,
                notes=tuple(b.notes),
            )
            for b in model.bounds
        ),
        confidence=model.confidence or DEFAULT_CONFIDENCE,
        resamples=model.resamples or DEFAULT_RESAMPLES,
        seed=model.seed if model.seed is not None else DEFAULT_SEED,
    )


def _as_written(fraction: float) -> float:
    """A share as bound.json keeps it (percent, rounded), so a report made from the file
    says what the bench said."""
    return round(fraction * 100, DIGITS) / 100


def _percent(fraction: float) -> str:
    return f"{fraction * 100:+.3f}%"
