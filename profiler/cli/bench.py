"""`spark-seccomp bench`: the performance cost of seccomp modes, measured honestly."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Column, Table

from profiler import workloads as workloads_lib
from profiler.bench.microbench import MicrobenchReport
from profiler.bench.microbench_run import DEFAULT_ITERATIONS, MicrobenchRun
from profiler.bench.runner import BenchPlan
from profiler.bench.stats import DEFAULT_PRECISION, BenchReport
from profiler.benchmark import (
    BenchOptions,
    BenchOutcome,
    MicrobenchOptions,
    check_bench_outputs,
    run_benchmarks,
)
from profiler.cli.common import (
    DRIVER_PROFILE_OPTION,
    EXECUTOR_PROFILE_OPTION,
    EXECUTORS_OPTION,
    NODES_OPTION,
    OCI_RUNTIMES_OPTION,
    RUNTIMES_OPTION,
    TOPOLOGY_OPTION,
    console,
    load_image_profiles,
    note,
    parse_images,
    parse_modes,
    parse_pod_security,
    parse_profile_paths,
    progress_reporter,
    stdout,
)
from profiler.errors import UsageError
from profiler.matrix import Target, matrix_cells, matrix_targets
from profiler.paths import run_folder
from profiler.runtime.interface import SecurityMode, Topology
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import parse_engine_choices

WORKLOADS_ARG = typer.Argument(
    None, help="Catalogue workload names or paths to PySpark scripts [default: the catalogue]."
)
# The environment facts worth a line in the terminal; bench.json and the report have all.
SUMMARY_KEYS = (
    "kernel",
    "cpu_model",
    "cpu_count",
    "engine",
    "oci_runtime",
    "speculation_store_bypass",
    "seccomp_filters_confined",
    "bpf_jit_enable",
    "spark_version",
    "date",
)


def bench(
    workloads: list[str] = WORKLOADS_ARG,
    modes: str = typer.Option(
        None,
        "--modes",
        help="Comma-separated: unconfined, runtime-default, localhost "
        "[default: unconfined,runtime-default, plus localhost with --profile].",
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="OCI seccomp profile for localhost; with several images, one for all or one "
        "per image, comma-separated in the same order.",
    ),
    repeat: int = typer.Option(10, "--repeat", min=1, help="Rounds (runs per workload and mode)."),
    warmup: int = typer.Option(
        1, "--warmup", min=0, help="Unmeasured unconfined runs per workload before round 1."
    ),
    microbench: bool = typer.Option(
        True, "--microbench/--no-microbench", help="Also time one syscall in a tight loop."
    ),
    micro_repeat: int = typer.Option(10, "--micro-repeat", min=1, help="Micro-benchmark rounds."),
    micro_iterations: int = typer.Option(
        DEFAULT_ITERATIONS, "--micro-iterations", min=1000, help="Syscalls per micro repeat."
    ),
    precision: float = typer.Option(
        DEFAULT_PRECISION, "--precision", help="Interval half-width wanted, as a fraction."
    ),
    pod_security: str = typer.Option(
        "restricted", "--pod-security", help="restricted (PSS restricted) or none."
    ),
    image: str = typer.Option(
        None,
        "--image",
        help="Spark image, or several comma-separated, benched one after the other and "
        "compared [default: spark-seccomp/spark:<V>].",
    ),
    spark_version: str = typer.Option(
        None,
        "--spark-version",
        help="Instead of --image: the tool's image of these Spark versions, comma-separated.",
    ),
    timeout: float = typer.Option(600, "--timeout", min=1, help="Seconds before a run is killed."),
    backend_choice: str = typer.Option(
        "auto",
        "--backend",
        help="auto (Docker when an engine is reachable, else local), docker or local.",
    ),
    runtime: str = RUNTIMES_OPTION,
    oci_runtime: str = OCI_RUNTIMES_OPTION,
    node: str = NODES_OPTION,
    runtime_default: Path = typer.Option(
        None,
        "--runtime-default",
        help="RuntimeDefault reference for the report's profile-size section and the "
        "local backend [default: probe the engine, else profiles/runtime-default-*.json].",
    ),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where bench.json and the report go [default: runs/bench-<time>]."
    ),
    topology: Topology = TOPOLOGY_OPTION,
    executors: int = EXECUTORS_OPTION,
    driver_profile: Path = DRIVER_PROFILE_OPTION,
    executor_profile: Path = EXECUTOR_PROFILE_OPTION,
    allow_unknown: bool = typer.Option(
        False,
        "--allow-unknown",
        help="Keep syscall names of --profile that libseccomp does not know, with a warning.",
    ),
) -> None:
    """Time workloads under each seccomp mode, interleaved; report overhead with intervals.

    Rounds run every mode once, in an order rotated each round, so drift of the machine
    is shared and cancelled. Writes bench.json, microbench.json, a copy of the profile
    (and its summary) and the report into the run directory. Exit 2 for usage errors,
    3 when the environment lacks something (no Docker engine, no image, no gcc).
    """
    from profiler.runtime.select import make_backend

    root = run_folder("bench", run_dir)
    images = parse_images(image, spark_version)
    profile_paths = parse_profile_paths(profile, images)
    engines = parse_engine_choices(runtime, oci_runtime, node)
    cells = matrix_cells(engines, images, root)
    # What the last step needs is checked before the first round.
    check_bench_outputs([c.folder for c in cells], runtime_default)
    if not 0 < precision < 1:
        raise UsageError(f"precision {precision} is not a fraction", "e.g. 0.02 for 2%")
    default_modes = "unconfined,runtime-default" + (",localhost" if profile_paths else "")
    mode_list = parse_modes(modes or default_modes)
    per_image = load_image_profiles(
        profile_paths,
        driver=driver_profile,
        executor=executor_profile,
        allow_unknown=allow_unknown,
    )
    if SecurityMode.LOCALHOST in mode_list and not profile_paths:
        raise UsageError("localhost mode needs a profile", "pass --profile PROFILE.json")
    cells = matrix_cells(engines, images, root, per_image)
    plan = BenchPlan(
        workloads=tuple(workloads_lib.resolve_all(workloads or [])),
        modes=tuple(mode_list),
        shape=RunShape(images[0], parse_pod_security(pod_security), topology, executors),
        repeat=repeat,
        warmup=warmup,
        timeout_seconds=timeout,
        precision=precision,
    )
    options = BenchOptions(
        run_root=root,
        microbench=MicrobenchOptions(micro_repeat, micro_iterations) if microbench else None,
        runtime_default=runtime_default,
    )
    targets = matrix_targets(
        plan.shape,
        cells,
        lambda engine: make_backend(
            backend_choice, note, runtime_default=runtime_default, engine=engine
        ),
        note=note,
    )
    with progress_reporter("bench") as on_progress:
        outcomes = run_benchmarks(
            targets,
            plan,
            options,
            progress=on_progress,
            note=lambda line: console.print(line, highlight=False, markup=False),
            on_outcome=_render_outcome,
        )
    labels = [t.label for t in targets]
    if len(outcomes) > 1:
        _print_wide(render_image_comparison(labels, [o.report for o in outcomes]))
    if len(engines) > 1 and microbench:
        _print_wide(render_runtime_comparison(labels, [o.micro for o in outcomes]))


def _render_outcome(target: Target, outcome: BenchOutcome) -> None:
    """One image's tables, as its bench ends."""
    report, micro = outcome.report, outcome.micro
    _print_wide(render_table(report))
    if report.role_overheads:
        _print_wide(render_role_table(report))
    for warning in report.warnings:
        stdout.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    if micro is not None:
        _print_wide(render_micro_table(micro.report))
        for failed in micro.failed:
            stdout.print(f"warning: micro {failed.describe()}", highlight=False, markup=False)
        for skipped in micro.skipped:
            stdout.print(f"note: micro-benchmark skipped {skipped}", highlight=False, markup=False)
    _print_wide(render_environment(report))
    console.print(f"bench.json, run logs and the report in {outcome.run_root}", highlight=False)
    stdout.print(f"report: {outcome.files.html}", highlight=False, markup=False)


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


def _print_wide(renderable: Table) -> None:
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


def render_environment(report: BenchReport) -> Table:
    table = Table("environment", "value", title="measured on")
    for key in SUMMARY_KEYS:
        if key in report.environment:
            table.add_row(key, str(report.environment[key]))
    return table
