from __future__ import annotations

import json

import pytest

from profiler.bench.microbench import (
    analyse_microbench,
    microbench_from_json,
    microbench_to_json,
)
from profiler.errors import UsageError

SAMPLES = {
    "unconfined": [50.0, 51.0, 49.5, 50.5, 50.2, 49.8],
    "runtime-default": [71.0, 70.0, 72.5, 70.8, 71.2, 70.9],
    "generated": [80.0, 81.0, 79.0, 80.5, 80.2, 80.1],
    "one-arg-rule": [95.0, 96.0, 94.0, 95.5, 95.2, 95.1],
}


def test_added_cost_against_unconfined() -> None:
    report = analyse_microbench(SAMPLES, syscall="getppid", iterations=1_000_000)
    assert [r.mode for r in report.results] == list(SAMPLES)
    unconfined = report.result("unconfined")
    assert unconfined is not None and unconfined.added_ns is None
    generated = report.result("generated")
    assert generated is not None and generated.added_ns == pytest.approx(30.05)
    assert generated.added_ci_low is not None and generated.added_ci_high is not None
    assert generated.added_ci_low <= 30.05 <= generated.added_ci_high
    assert generated.ns_per_call.n == 6


def test_round_trip_and_determinism() -> None:
    text = microbench_to_json(analyse_microbench(SAMPLES, syscall="getppid"))
    assert microbench_to_json(analyse_microbench(SAMPLES, syscall="getppid")) == text
    assert microbench_to_json(microbench_from_json(text)) == text


def test_samples_only_file_is_analysed() -> None:
    text = json.dumps({"syscall": "getppid", "samples": SAMPLES})
    report = microbench_from_json(text)
    assert report.result("one-arg-rule") is not None


def test_no_samples_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        analyse_microbench({}, syscall="getppid")
    with pytest.raises(UsageError, match="samples.generated"):
        microbench_from_json('{"samples": {"generated": ["x"]}}')
