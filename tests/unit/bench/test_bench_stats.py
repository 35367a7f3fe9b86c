"""Statistics of benchmarks: intervals that cover the truth, say "no impact" when there is
none, and give the same bytes for the same data."""

from __future__ import annotations

import json
import random

import pytest

from profiler.bench.stats import (
    MIN_RESAMPLES,
    Overhead,
    Sample,
    analyse_bench,
    bench_from_json,
    bench_to_json,
    bootstrap_ratio,
    quantile,
    spread_of,
)
from profiler.errors import UsageError

ENVIRONMENT = {
    "kernel": "6.8.0-45-generic",
    "engine": "Docker 27.3.1",
    "runc": "1.1.14",
    "cpu_model": "AMD EPYC 7B13",
    "cpu_count": 8,
    "speculation_store_bypass": "thread vulnerable",
    "bpf_jit": 1,
    "image": "spark-seccomp/spark:3.5.3",
    "spark_version": "3.5.3",
}


def interleaved(
    slowdowns: dict[str, float],
    *,
    rounds: int = 20,
    base: float = 30.0,
    noise: float = 0.01,
    drift: float = 0.0,
    seed: int = 7,
    workload: str = "etl",
) -> list[Sample]:
    """Rounds of A B C...: every mode's run in a round shares that round's drift."""
    rng = random.Random(seed)
    samples = []
    for r in range(rounds):
        shared = 1 + rng.gauss(0, drift)
        for mode, factor in slowdowns.items():
            wall = base * factor * shared * (1 + rng.gauss(0, noise))
            samples.append(Sample(workload, mode, r, wall, wall - 8.0, wall * 2.5))
    return samples


def test_quantile_interpolates_like_numpy_default() -> None:
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert quantile([1.0, 2.0, 3.0, 4.0], 0.25) == 1.75
    assert quantile([5.0], 0.9) == 5.0


def test_spread_reports_median_iqr_and_n() -> None:
    spread = spread_of([10.0, 11.0, 12.0, 13.0, 14.0])
    assert (spread.median, spread.q1, spread.q3, spread.n) == (12.0, 11.0, 13.0, 5)
    assert spread.iqr == 2.0
    assert spread.relative_iqr == pytest.approx(2 / 12)


def test_interval_contains_the_true_ratio() -> None:
    report = analyse_bench(
        interleaved({"unconfined": 1.0, "generated": 1.05}, rounds=30), environment=ENVIRONMENT
    )
    overhead = report.overhead("etl", "generated")
    assert overhead is not None
    assert overhead.ci_low < 1.05 < overhead.ci_high
    assert overhead.paired


def test_clear_ten_percent_slowdown_excludes_one() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0, "generated": 1.10}))
    overhead = report.overhead("etl", "generated")
    assert overhead is not None
    assert overhead.measurable
    assert overhead.ci_low > 1.0
    assert overhead.verdict.startswith("+")
    assert "(CI +" in overhead.verdict


def test_identical_distributions_show_no_measurable_impact() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0, "runtime-default": 1.0}))
    overhead = report.overhead("etl", "runtime-default")
    assert overhead is not None
    assert overhead.ci_low <= 1.0 <= overhead.ci_high
    assert overhead.verdict == "no measurable impact"


def test_verdict_text_format() -> None:
    overhead = Overhead("etl", "generated", "wall", 1.034, 1.012, 1.057, 0.95, 20, True)
    assert overhead.verdict == "+3.4% (CI +1.2%..+5.7%)"


def test_pairing_by_round_cancels_shared_drift() -> None:
    """Round-to-round drift of 5% must not hide a 3% slowdown when runs are interleaved."""
    samples = interleaved(
        {"unconfined": 1.0, "generated": 1.03}, rounds=20, noise=0.003, drift=0.05
    )
    paired = analyse_bench(samples).overhead("etl", "generated")
    assert paired is not None and paired.paired and paired.measurable
    # The same numbers without round information cannot be paired and are far less sure.
    shuffled = [
        Sample(s.workload, s.mode, s.round + (1000 if s.mode == "generated" else 0), s.wall_seconds)
        for s in samples
    ]
    unpaired = analyse_bench(shuffled).overhead("etl", "generated")
    assert unpaired is not None and not unpaired.paired
    assert unpaired.half_width > 3 * paired.half_width


def test_noisy_reference_asks_for_more_repeats() -> None:
    report = analyse_bench(
        interleaved({"unconfined": 1.0, "generated": 1.0}, rounds=12, noise=0.06), precision=0.02
    )
    assert any("precision" in w and "repeats would reach it" in w for w in report.warnings)


def test_quiet_runs_give_no_precision_warning() -> None:
    report = analyse_bench(
        interleaved({"unconfined": 1.0, "generated": 1.0}, rounds=12, noise=0.002)
    )
    assert not [w for w in report.warnings if "precision" in w]


def test_few_rounds_are_flagged() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0, "generated": 1.0}, rounds=5))
    assert any("optimistic" in w for w in report.warnings)


def test_reference_alone_warns_about_its_own_spread() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0}, rounds=12, noise=0.08))
    assert report.overheads == ()
    assert any("IQR/median" in w for w in report.warnings)


def test_stats_per_mode_and_metric() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0, "generated": 1.1}, rounds=10))
    assert report.modes == ("unconfined", "generated")
    stat = report.stat("etl", "generated")
    assert stat is not None
    assert stat.wall.n == 10
    assert stat.job is not None and stat.job.median == pytest.approx(stat.wall.median - 8.0)
    assert stat.cpu is not None


def test_reference_comes_first_and_missing_modes_are_warnings() -> None:
    samples = interleaved({"generated": 1.1, "unconfined": 1.0}, rounds=10)
    report = analyse_bench(samples, modes=["generated", "unconfined", "runtime-default"])
    assert report.modes == ("unconfined", "generated", "runtime-default")
    assert any("etl [runtime-default]: no successful runs" in w for w in report.warnings)


def test_missing_job_and_cpu_times_are_allowed() -> None:
    samples = [
        Sample("etl", mode, r, 10.0 + r * 0.01) for r in range(10) for mode in ("unconfined", "x")
    ]
    stat = analyse_bench(samples).stat("etl", "x")
    assert stat is not None and stat.job is None and stat.cpu is None


def test_same_data_gives_same_bytes() -> None:
    samples = interleaved({"unconfined": 1.0, "runtime-default": 1.01, "generated": 1.04})
    shuffled = list(samples)
    random.Random(3).shuffle(shuffled)
    modes = ["unconfined", "runtime-default", "generated"]
    first = bench_to_json(analyse_bench(samples, environment=ENVIRONMENT, modes=modes))
    second = bench_to_json(analyse_bench(shuffled, environment=dict(ENVIRONMENT), modes=modes))
    assert first == second
    assert json.loads(first)["environment"]["kernel"] == "6.8.0-45-generic"


def test_json_round_trip_is_byte_identical() -> None:
    text = bench_to_json(analyse_bench(interleaved({"unconfined": 1.0, "generated": 1.04})))
    assert bench_to_json(bench_from_json(text)) == text


def test_json_with_only_samples_is_analysed_on_reading() -> None:
    report = analyse_bench(interleaved({"unconfined": 1.0, "generated": 1.1}))
    data = json.loads(bench_to_json(report))
    for key in ("stats", "overheads", "warnings"):
        del data[key]
    assert bench_to_json(bench_from_json(json.dumps(data))) == bench_to_json(report)


def test_malformed_json_names_the_file_and_key() -> None:
    with pytest.raises(UsageError, match="bench.json: samples\\[0\\].wall_seconds"):
        bench_from_json('{"samples": [{"workload": "a", "mode": "b", "round": 0}]}')
    with pytest.raises(UsageError, match="not valid JSON"):
        bench_from_json("{")


def test_two_samples_in_one_round_are_refused() -> None:
    samples = [Sample("etl", "unconfined", 0, 1.0), Sample("etl", "unconfined", 0, 1.1)]
    with pytest.raises(UsageError, match="two samples in one round"):
        analyse_bench(samples)


def test_too_few_resamples_are_refused() -> None:
    with pytest.raises(ValueError):
        bootstrap_ratio({0: 1.0}, {0: 1.0}, resamples=MIN_RESAMPLES - 1)


def test_one_or_two_runs_give_no_interval_and_no_verdict():
    from profiler.bench.stats import Overhead

    single = Overhead("w", "localhost", "wall", 1.158, 1.158, 1.158, 0.95, 1, False)
    assert not single.measurable
    assert "too few for an interval" in single.verdict
    enough = Overhead("w", "localhost", "wall", 1.10, 1.05, 1.15, 0.95, 5, True)
    assert enough.measurable and enough.verdict.startswith("+10.0%")
