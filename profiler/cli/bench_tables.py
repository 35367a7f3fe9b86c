"""The tables `bench` prints: overhead per workload and mode, CPU per pod, the syscall
micro-benchmark, the environment, and the side-by-side comparisons of images and engines."""

from __future__ import annotations

import statistics
from collections.abc import Sequence

from rich.console import Console
from rich.table import Column, Table

from profiler.bench.bound import BoundReport
from profiler.bench.cross_check import cross_check
from profiler.bench.microbench import MicrobenchReport
from profiler.bench.microbench_run import MicrobenchRun
from profiler.bench.stats import BenchReport
from profiler.cli.common import stdout

# The environment facts worth a line in the terminal; bench.json and the report have all.
SUMMARY_KEYS = (
    "kernel",
    "cpu_model",
    "cpu_count",
    "engine",
    "oci_runtime",
    "node",
    "speculation_store_bypass",
    "seccomp_filters_confined",
    "bpf_jit_enable",
    "spark_version",
    "date",
)


def render_runtime_comparison(
    labels: Sequence[str], micros: Sequence[MicrobenchRun | None]
) -> Table:
    """Engines and OCI runtimes side by side: a container's start-to-removal time and the
    per-syscall cost of each micro-benchmark mode (median, and the added ns against
    unconfined with its interval)."""
    table = Table(
        Column("measure", no_wrap=True),
        *labels,
        title="engines and OCI runtimes",
        caption="micro-benchmark; each column is measured in its own phase, so compare "
        "added ns rather than absolute ns",
    )
    modes = list(dict.fromkeys(r.mode for m in micros if m is not None for r in m.report.results))
    for mode in modes:
        row = [f"container lifecycle s ({mode})"]
        for micro in micros:
            values = (micro.container_seconds.get(mode) or ()) if micro else ()
            if len(values) >= 2:
                q1, _, q3 = statistics.quantiles(values, n=4)
                row.append(f"{statistics.median(values):.3f} (IQR {q1:.3f}..{q3:.3f})")
            else:
                row.append(f"{values[0]:.3f}" if values else "-")
        table.add_row(*row)
    for mode in modes:
        row = [f"ns per call ({mode})"]
        for micro in micros:
            result = micro.report.result(mode) if micro else None
            if result is None:
                row.append("-")
            elif result.added_ns is None:
                row.append(f"{result.ns_per_call.median:.1f}")
            else:
                row.append(
                    f"{result.ns_per_call.median:.1f} ({result.added_ns:+.1f}, "
                    f"{result.added_ci_low:+.1f}..{result.added_ci_high:+.1f})"
                )
        table.add_row(*row)
    return table


def render_image_comparison(labels: Sequence[str], reports: Sequence[BenchReport]) -> Table:
    """Each image's (or engine's) overhead against its own unconfined runs, side by side
    (``labels`` name the columns): absolute times differ (another Spark, another JVM,
    another OCI runtime), the ratios compare."""
    first = reports[0]
    table = Table(
        "workload",
        "mode",
        *labels,
        title=f"change against {first.reference} per column ({first.metric} time, "
        f"{first.confidence:.0%} CI)",
    )
    for workload in first.workloads:
        for mode in first.modes:
            if mode == first.reference:
                continue
            row = [workload, mode]
            for report in reports:
                overhead = report.overhead(workload, mode)
                if overhead is None:
                    row.append("-")
                    continue
                interval = f"{_percent(overhead.ci_low)}..{_percent(overhead.ci_high)}"
                row.append(f"{_percent(overhead.ratio)} ({interval})")
            table.add_row(*row)
    return table


def render_table(report: BenchReport) -> Table:
    metric = {"wall": "wall", "job": "job", "cpu": "CPU"}.get(report.metric, report.metric)
    table = Table(
        "workload",
        "mode",
        f"median {metric}",
        "IQR",
        "n",
        "change",
        f"{report.confidence:.0%} CI",
        "verdict",
        title=f"overhead against {report.reference} ({metric} time, paired rounds)",
    )
    for workload in report.workloads:
        for mode in report.modes:
            stat = report.stat(workload, mode)
            if stat is None:
                table.add_row(workload, mode, "-", "-", "0", "", "", "no successful runs")
                continue
            spread = stat.spread(report.metric) or stat.wall
            overhead = report.overhead(workload, mode)
            if mode == report.reference:
                ratio, interval, verdict = "", "", "reference"
            elif overhead is None:
                ratio, interval, verdict = "", "", f"no {report.reference} runs to compare"
            else:
                ratio = _percent(overhead.ratio)
                interval = f"{_percent(overhead.ci_low)}..{_percent(overhead.ci_high)}"
                verdict = (
                    _verdict(overhead.ratio) if overhead.measurable else "no measurable impact"
                )
            table.add_row(
                workload,
                mode,
                f"{spread.median:.2f}s",
                f"{spread.iqr:.2f}s",
                str(spread.n),
                ratio,
                interval,
                verdict,
            )
    return table


def render_role_table(report: BenchReport) -> Table:
    """CPU time per pod: where a mode's cost lands, in the driver or the executors."""
    table = Table(
        "workload",
        "mode",
        "driver CPU",
        "change",
        f"{report.confidence:.0%} CI",
        "executors' CPU",
        "change",
        f"{report.confidence:.0%} CI",
        title=f"CPU time per pod against {report.reference} (paired rounds)",
    )
    for workload in report.workloads:
        for mode in report.modes:
            stat = report.stat(workload, mode)
            if stat is None or mode == report.reference:
                continue
            row = [workload, mode]
            for metric in ("driver_cpu", "executor_cpu"):
                spread = stat.spread(metric)
                overhead = next(
                    (
                        o
                        for o in report.role_overheads
                        if (o.workload, o.mode, o.metric) == (workload, mode, metric)
                    ),
                    None,
                )
                if spread is None or overhead is None:
                    row += ["-", "", ""]
                    continue
                interval = f"{_percent(overhead.ci_low)}..{_percent(overhead.ci_high)}"
                row += [f"{spread.median:.2f}s", _percent(overhead.ratio), interval]
            table.add_row(*row)
    return table


def _verdict(ratio: float) -> str:
    return "slower" if ratio > 1 else "faster"


def print_wide(renderable: Table) -> None:
    # Piped output gets rich's 80 columns, which truncates every cell of these tables.
    if stdout.is_terminal:
        stdout.print(renderable)
    else:
        Console(soft_wrap=True, width=160).print(renderable)


def _percent(ratio: float) -> str:
    return f"{(ratio - 1) * 100:+.1f}%"


def render_micro_table(micro: MicrobenchReport) -> Table:
    iterations = f", {micro.iterations:,} calls per repeat" if micro.iterations else ""
    table = Table(
        "mode",
        "median ns/call",
        "IQR ns",
        "n",
        "added ns",
        f"{micro.confidence:.0%} CI",
        title=f"cost per {micro.syscall}() call{iterations}",
    )
    for r in micro.results:
        added = "reference" if r.added_ns is None else f"{r.added_ns:+.1f}"
        interval = (
            f"{r.added_ci_low:+.1f}..{r.added_ci_high:+.1f}"
            if r.added_ci_low is not None and r.added_ci_high is not None
            else ""
        )
        spread = r.ns_per_call
        table.add_row(
            r.mode, f"{spread.median:.1f}", f"{spread.iqr:.1f}", str(spread.n), added, interval
        )
    return table


def render_bound_table(bound: BoundReport) -> Table:
    """The bound per workload, pod and mode: what the filter (or the recorder) can add."""
    table = Table(
        "workload",
        "pod",
        "mode",
        "calls/run",
        "uncached",
        "CPU s",
        "added ms",
        "bound",
        f"{bound.confidence:.0%} CI",
        title="the bound: recorded calls x added cost per call, over the pod's CPU time",
    )
    for b in bound.bounds:
        table.add_row(
            b.workload,
            b.role,
            b.label if b.label.startswith(b.mode) else f"{b.mode} ({b.label})",
            f"{b.calls:,.0f}",
            f"{b.uncached_calls:,.0f}",
            f"{b.cpu_seconds:.2f}",
            f"{b.added_seconds * 1000:.2f}",
            f"{b.share:+.3%}",
            f"{b.low:+.3%}..{b.high:+.3%}",
        )
    return table


def render_cost_table(bound: BoundReport) -> Table:
    """Added ns per call under each filter: any cached call, and each uncached one."""
    table = Table(
        "filter",
        "call",
        "path",
        "added ns",
        f"{bound.confidence:.0%} CI",
        "how",
        title="added cost of one call (thread CPU time, against no filter)",
    )
    for c in bound.costs:
        table.add_row(
            c.label,
            c.name or "(any cached call)",
            c.path,
            f"{c.ns:+.1f}",
            f"{c.low:+.1f}..{c.high:+.1f}",
            c.rule,
        )
    return table


def render_cross_check_table(report: BenchReport, bound: BoundReport) -> Table | None:
    """The bound beside the CPU change the rounds measured, per pod and for the job."""
    rows = cross_check(report, bound)
    if not rows:
        return None
    table = Table(
        "workload",
        "mode",
        "scope",
        "measured CPU",
        f"{report.confidence:.0%} CI",
        "±",
        "bound",
        "inside",
        title=f"the bound against the measured CPU change ({rows[0].rounds} paired rounds)",
    )
    for r in rows:
        table.add_row(
            r.workload,
            r.mode,
            r.scope,
            _percent(r.ratio),
            f"{_percent(r.low)}..{_percent(r.high)}",
            f"{r.half_width:.1%}",
            f"{(r.bound - 1) * 100:+.3f}%",
            "yes" if r.inside else "NO",
        )
    return table


def render_environment(report: BenchReport) -> Table:
    table = Table("environment", "value", title="measured on")
    for key in SUMMARY_KEYS:
        if key in report.environment:
            table.add_row(key, str(report.environment[key]))
    return table
