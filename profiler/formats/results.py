"""Result files of ``check`` and ``bench``: ``check.json``, ``bench.json``, ``microbench.json``.

They are written by one command and read by another (``report``), maybe of another
version, so new keys are ignored; but every value that is read must have the type and
range it was written with, since the report computes with it.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, JsonValue

from profiler.formats.fields import NonNegativeInt, Open, fraction, integer, number

RESULTS_HINT = "regenerate it with the command that wrote it"

Text = Annotated[str, Field(max_length=65536)]
Seconds = Annotated[float, number("a number of seconds, 0 or more", minimum=0)]
Number = Annotated[float, number("a number")]
Fraction = Annotated[float, fraction("a fraction between 0 and 1, e.g. 0.95")]
# A file asking for a billion bootstrap resamples would keep `report` busy for hours; the
# lower bound (``stats.MIN_RESAMPLES``) is checked where the statistics are made.
Resamples = Annotated[int, integer(1, 1_000_000, "a resample count from 1 to 1000000")]
Seed = Annotated[int, integer(-(2**63), 2**63 - 1, "a 64-bit integer")]
Environment = dict[str, JsonValue]


# -- check.json ------------------------------------------------------------------------------
class CheckRun(Open):
    verdict: Text
    error_line: Text | None = None


class CheckCell(Open):
    workload: Text
    mode: Text
    verdict: Text
    passes: NonNegativeInt = 0
    median_wall_seconds: Seconds | None = None
    diagnosis: list[Text] = []
    runs: list[CheckRun] = []


class CheckFile(Open):
    image: Text | None = None
    pod_security: Text | None = None
    profile: Text | None = None
    workloads: list[Text] = []
    modes: list[Text] = []
    cells: list[CheckCell] = []


# -- bench.json ------------------------------------------------------------------------------
class BenchSample(Open):
    workload: Text
    mode: Text
    round: NonNegativeInt
    wall_seconds: Seconds
    job_seconds: Seconds | None = None
    cpu_seconds: Seconds | None = None
    driver_cpu_seconds: Seconds | None = None
    executor_cpu_seconds: Seconds | None = None


class SpreadEntry(Open):
    median: Number
    q1: Number
    q3: Number
    n: NonNegativeInt


class StatsEntry(Open):
    workload: Text
    mode: Text
    wall: SpreadEntry
    job: SpreadEntry | None = None
    cpu: SpreadEntry | None = None
    driver_cpu: SpreadEntry | None = None
    executor_cpu: SpreadEntry | None = None


class OverheadEntry(Open):
    workload: Text
    mode: Text
    metric: Text
    ratio: Number
    ci_low: Number
    ci_high: Number
    confidence: Number
    n: NonNegativeInt
    paired: bool = False


class BenchFile(Open):
    kind: Literal["bench"] = "bench"
    environment: Environment = {}
    workloads: list[Text] = []
    modes: list[Text] = []
    reference: Text | None = None
    metric: Literal["wall", "job", "cpu"] | None = None
    precision: Fraction | None = None
    confidence: Fraction | None = None
    resamples: Resamples | None = None
    seed: Seed | None = None
    samples: list[BenchSample] = []
    stats: list[StatsEntry] | None = None
    overheads: list[OverheadEntry] = []
    role_overheads: list[OverheadEntry] = []
    warnings: list[Text] = []


# -- microbench.json -------------------------------------------------------------------------
class MicroResult(Open):
    mode: Text
    median_ns: Number
    q1_ns: Number
    q3_ns: Number
    n: NonNegativeInt
    added_ns: Number | None = None
    added_ci_low_ns: Number | None = None
    added_ci_high_ns: Number | None = None


class MicrobenchFile(Open):
    kind: Literal["microbench"] = "microbench"
    syscall: Text | None = None
    iterations: NonNegativeInt | None = None
    confidence: Fraction | None = None
    environment: Environment = {}
    samples: dict[Text, list[Annotated[float, number("a number of nanoseconds")]]] = {}
    results: list[MicroResult] | None = None


# -- bound.json ------------------------------------------------------------------------------
class BoundCostEntry(Open):
    filter: Text
    call: Text
    path: Text
    added_ns: Number
    added_ns_low: Number
    added_ns_high: Number
    rule: Text = ""


class BoundEntry(Open):
    workload: Text
    role: Text
    mode: Text
    filter: Text
    calls: Annotated[float, number("a number of calls, 0 or more", minimum=0)]
    uncached_calls: Annotated[float, number("a number of calls, 0 or more", minimum=0)]
    cpu_seconds: Seconds
    added_seconds: Number
    share_percent: Number
    share_percent_low: Number
    share_percent_high: Number
    confidence: Fraction
    recorded_runs: NonNegativeInt
    cpu_runs: NonNegativeInt
    notes: list[Text] = []


class BoundFile(Open):
    kind: Literal["bound"] = "bound"
    confidence: Fraction | None = None
    resamples: Resamples | None = None
    seed: Seed | None = None
    costs: list[BoundCostEntry] = []
    bounds: list[BoundEntry] = []
