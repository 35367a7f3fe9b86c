"""The cost of one filtered syscall: nanoseconds per call under each seccomp mode.

A tight loop of one cheap syscall is timed under ``unconfined`` (no filter),
``runtime-default`` (the engine's profile), ``generated`` (ours) and ``one-arg-rule``
(ours plus a rule comparing an argument, the slowest kind of filter path). Each repeat
gives one ns-per-call figure; this module reduces the repeats to a median and IQR per
mode and the added cost against unconfined, with a bootstrap interval. Repeats of
different modes are not paired by round here: a micro-benchmark repeat takes
milliseconds, far shorter than the drift that pairing protects against in ``stats``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from profiler.bench.jsonio import parse_json, round_float
from profiler.bench.stats import (
    DEFAULT_CONFIDENCE,
    DEFAULT_RESAMPLES,
    DEFAULT_SEED,
    REFERENCE_MODE,
    Spread,
    bootstrap_difference,
    spread_of,
)
from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.results import RESULTS_HINT, MicrobenchFile

MICRO_MODES = ("unconfined", "one-rule-filter", "runtime-default", "generated", "one-arg-rule")
FORMAT_VERSION = 1


@dataclass(frozen=True)
class MicroModeResult:
    """ns per syscall under one mode; ``added_*`` is None for the reference itself."""

    mode: str
    ns_per_call: Spread
    added_ns: float | None = None  # median(mode) - median(unconfined)
    added_ci_low: float | None = None
    added_ci_high: float | None = None


@dataclass(frozen=True)
class MicrobenchReport:
    syscall: str  # the syscall in the loop, e.g. "getppid"
    iterations: int | None  # calls per repeat
    samples: Mapping[str, tuple[float, ...]]  # mode -> ns per call, one per repeat
    results: tuple[MicroModeResult, ...]
    environment: Mapping[str, Any] = field(default_factory=dict)
    confidence: float = DEFAULT_CONFIDENCE

    def result(self, mode: str) -> MicroModeResult | None:
        return next((r for r in self.results if r.mode == mode), None)


def analyse_microbench(
    samples: Mapping[str, Sequence[float]],
    *,
    syscall: str,
    iterations: int | None = None,
    environment: Mapping[str, Any] | None = None,
    confidence: float = DEFAULT_CONFIDENCE,
    resamples: int = DEFAULT_RESAMPLES,
    seed: int = DEFAULT_SEED,
) -> MicrobenchReport:
    """Median and IQR of ns per call per mode, in ``MICRO_MODES`` order then the rest."""
    # Rounded as JSON stores them, so analysing a file reproduces the original numbers.
    present = {
        mode: tuple(float(round_float(v) or 0.0) for v in values)
        for mode, values in samples.items()
        if values
    }
    if not present:
        raise UsageError("no micro-benchmark samples", "run the micro-benchmark first")
    order = [m for m in MICRO_MODES if m in present] + sorted(
        m for m in present if m not in MICRO_MODES
    )
    reference = present.get(REFERENCE_MODE)
    results = []
    for mode in order:
        values = present[mode]
        if mode == REFERENCE_MODE or reference is None:
            results.append(MicroModeResult(mode, spread_of(values)))
            continue
        added, low, high = bootstrap_difference(
            values, reference, confidence=confidence, resamples=resamples, seed=seed
        )
        results.append(MicroModeResult(mode, spread_of(values), added, low, high))
    return MicrobenchReport(
        syscall=syscall,
        iterations=iterations,
        samples={m: present[m] for m in order},
        results=tuple(results),
        environment=dict(environment or {}),
        confidence=confidence,
    )


def microbench_to_dict(report: MicrobenchReport) -> dict[str, Any]:
    return {
        "format": FORMAT_VERSION,
        "kind": "microbench",
        "syscall": report.syscall,
        "iterations": report.iterations,
        "confidence": round_float(report.confidence),
        "environment": dict(report.environment),
        "samples": {m: [round_float(v) for v in values] for m, values in report.samples.items()},
        "results": [
            {
                "mode": r.mode,
                "median_ns": round_float(r.ns_per_call.median),
                "q1_ns": round_float(r.ns_per_call.q1),
                "q3_ns": round_float(r.ns_per_call.q3),
                "n": r.ns_per_call.n,
                "added_ns": round_float(r.added_ns),
                "added_ci_low_ns": round_float(r.added_ci_low),
                "added_ci_high_ns": round_float(r.added_ci_high),
            }
            for r in report.results
        ],
    }


def microbench_to_json(report: MicrobenchReport) -> str:
    return json.dumps(microbench_to_dict(report), indent=2, sort_keys=True) + "\n"


def microbench_from_dict(data: Any, source: str = "microbench.json") -> MicrobenchReport:
    """Read what ``microbench_to_dict`` wrote; without ``results``, analyse the samples."""
    model = jsonfile.validate(MicrobenchFile, data, source, RESULTS_HINT)
    samples = {mode: tuple(values) for mode, values in model.samples.items()}
    syscall = model.syscall or "unknown"
    environment = dict(model.environment)
    confidence = model.confidence or DEFAULT_CONFIDENCE
    if model.results is None:
        return analyse_microbench(
            samples,
            syscall=syscall,
            iterations=model.iterations,
            environment=environment,
            confidence=confidence,
        )
    results = tuple(
        MicroModeResult(
            mode=r.mode,
            ns_per_call=Spread(median=r.median_ns, q1=r.q1_ns, q3=r.q3_ns, n=r.n),
            added_ns=r.added_ns,
            added_ci_low=r.added_ci_low_ns,
            added_ci_high=r.added_ci_high_ns,
        )
        for r in model.results
    )
    return MicrobenchReport(syscall, model.iterations, samples, results, environment, confidence)


def microbench_from_json(text: str, source: str = "microbench.json") -> MicrobenchReport:
    return microbench_from_dict(parse_json(text, source), source)
