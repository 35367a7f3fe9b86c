"""`spark-seccomp demo`: the whole story on the catalogue, with a summary at the end."""

from __future__ import annotations

from pathlib import Path

import typer

from profiler import record as record_lib
from profiler.bench.bound import BoundReport
from profiler.cli.check import render_table
from profiler.cli.choices import Engines, OciRuntimes
from profiler.cli.common import (
    ARG_OPTION,
    BACKEND_OPTION,
    CLASS_OPTION,
    CONF_OPTION,
    EGRESS_OPTION,
    EXECUTORS_OPTION,
    FILES_OPTION,
    IMAGE_OPTION,
    JARS_OPTION,
    MANIFEST_OPERATOR_OPTION,
    NODE_OPTION,
    OCI_RUNTIMES_OPTION,
    PY_FILES_OPTION,
    RUNTIMES_OPTION,
    TOPOLOGY_OPTION,
    TRACER_OPTION,
    WORKLOADS_ARG,
    console,
    note,
    one_engine,
    progress_reporter,
    resolve_jobs,
    run_dir_option,
    stdout,
)
from profiler.demo import DEMO_WORKLOADS, DemoOutcome, DemoPlan, run_demo
from profiler.errors import EXIT_FAILED, ProfilerError, UsageError
from profiler.image import default_tag
from profiler.output import check_output_dir, check_output_files
from profiler.paths import run_folder
from profiler.report.build import REPORT_FILES
from profiler.report.inputs import KNOWN_FILES
from profiler.report.plots import require_plotting
from profiler.runtime.run_shape import RunShape
from profiler.vocabulary import BackendName, Topology, TracerName


def demo(
    workloads: list[str] = WORKLOADS_ARG,
    backend_choice: BackendName = BACKEND_OPTION,
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = NODE_OPTION,
    tracer: TracerName = TRACER_OPTION,
    bench_repeat: int = typer.Option(
        1,
        "--bench-repeat",
        min=1,
        help="Rounds of the short bench; the check's runs are the first, so 1 runs no job "
        "again (one run per mode: too few for an interval; the bound is the figure to quote).",
    ),
    micro_repeat: int = typer.Option(
        0,
        "--micro-repeat",
        min=0,
        help="Rounds of the syscall micro-benchmark (0: none; the bound already times one "
        "call under each filter).",
    ),
    image: str = IMAGE_OPTION,
    run_dir: Path = run_dir_option(
        "demo", "The recordings, the check and bench runs and the report"
    ),
    topology: Topology = TOPOLOGY_OPTION,
    executors: int = EXECUTORS_OPTION,
    all_workloads: bool = typer.Option(
        False, "--all", help="The whole catalogue instead of the two demo workloads."
    ),
    arguments: list[str] = ARG_OPTION,
    main_class: str = CLASS_OPTION,
    jars: str = JARS_OPTION,
    py_files: str = PY_FILES_OPTION,
    files: str = FILES_OPTION,
    conf: list[str] = CONF_OPTION,
    egress: bool = EGRESS_OPTION,
    operator_version: str = MANIFEST_OPERATOR_OPTION,
) -> None:
    """Record workloads in pod shape, derive their profiles, check all three modes, bench,
    report.

    Without workload names, two catalogue workloads of different kinds (Python RDD
    lambdas, a SQL shuffle and join): about five minutes on 2 cores. --all takes the whole
    catalogue (`workloads list`: PySpark and Java jobs). Exit 1 when a check cell fails.
    """
    from profiler.runtime.select import make_backend

    def stage(message: str) -> None:
        console.print(f"[bold]demo {message}[/bold]", highlight=False)

    if workloads and all_workloads:
        raise UsageError("give workload names or --all, not both", "drop one of them")
    names = workloads or ([] if all_workloads else list(DEMO_WORKLOADS))
    jobs = resolve_jobs(
        names,
        arguments=arguments,
        main_class=main_class,
        jars=jars,
        py_files=py_files,
        files=files,
        conf=conf,
        image=image,
        executors=executors,
        operator_version=operator_version,
        egress=egress,
    )
    root = run_folder("demo", run_dir)
    check_output_dir(root)  # before 20 minutes of runs, not after
    check_output_files(root, (*KNOWN_FILES, *REPORT_FILES))
    require_plotting()
    shape = RunShape(
        image or default_tag(),
        topology=topology,
        executors=executors,
        egress=egress,
        submissions=jobs.submissions,
    )
    backend = make_backend(backend_choice, note, engine=one_engine(runtime, oci_runtime, node))
    make_tracer = record_lib.tracer_factory(tracer, note)
    plan = DemoPlan(
        workloads=jobs.workloads,
        shape=shape.on(backend, note),
        bench_repeat=bench_repeat,
        micro_repeat=micro_repeat or None,
        explicit_errno=record_lib.needs_explicit_errno(backend, shape.image),
    )
    with progress_reporter("demo") as on_progress:
        outcome = run_demo(
            backend,
            plan,
            make_tracer,
            run_dir=root,
            stage=stage,
            progress=on_progress,
            note=note,
        )
    stdout.print(render_table(outcome.check))
    _summary(outcome, root)
    if not outcome.check.passed:
        raise typer.Exit(EXIT_FAILED)


def _summary(outcome: DemoOutcome, root: Path) -> None:
    from profiler.bench.jsonio import parse_json
    from profiler.report.inputs import runtime_default_allowed

    allowed = len(outcome.profile.allowed())
    lines = [f"profile: {allowed} syscalls allowed, from {outcome.summary.total_runs} recordings"]
    reference = root / "runtime_default.json"
    if reference.is_file():
        try:
            rd = runtime_default_allowed(parse_json(reference.read_text(), str(reference)))
            lines[0] += f"; {rd.name} allows {len(rd.allowed)} ({allowed / len(rd.allowed):.0%})"
        except ProfilerError:
            pass
    held = [h.name for h in outcome.summary.held_back]
    if held:
        lines.append(f"held back for review: {', '.join(held)}")
    cells = outcome.check.cells
    lines.append(f"check: {sum(c.verdict.ok for c in cells)} of {len(cells)} cells passed")
    if outcome.bench is not None:
        for overhead in outcome.bench.overheads:
            lines.append(f"bench {overhead.workload} [{overhead.mode}]: {overhead.verdict}")
    lines += bound_lines(outcome.bound)
    if outcome.timings:
        total = sum(seconds for _, seconds in outcome.timings)
        spent = "; ".join(f"{step} {_duration(seconds)}" for step, seconds in outcome.timings)
        lines.append(f"time: {_duration(total)} in all: {spent}")
    lines.append(f"report: {outcome.report.html}")
    for line in lines:
        stdout.print(line, highlight=False, markup=False, soft_wrap=True)


def bound_lines(bound: BoundReport | None) -> list[str]:
    """Per mode, the most a filter (or the recorder) can add to any pod's CPU time: the
    figure to quote, where the bench's few rounds are not."""
    if bound is None:
        return []
    lines = []
    for mode in dict.fromkeys(b.mode for b in bound.bounds):
        worst = max((b for b in bound.bounds if b.mode == mode), key=lambda b: b.high)
        lines.append(
            f"bound [{mode}]: at most {worst.share:+.3%} of a pod's CPU time "
            f"({worst.workload} {worst.role}; {bound.confidence:.0%} CI up to {worst.high:+.3%})"
        )
    return lines


def _duration(seconds: float) -> str:
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes}m{rest:02d}s" if minutes else f"{rest}s"
