"""`spark-seccomp bench`: the performance cost of seccomp modes, measured honestly.

Parses the options, runs the bench pipeline (``profiler.benchmark``), prints its tables
(``bench_tables``)."""

from __future__ import annotations

from pathlib import Path

import typer

from profiler.bench.filter_cost import DEFAULT_ITERATIONS as BOUND_ITERATIONS
from profiler.bench.filter_cost import DEFAULT_REPEAT as BOUND_REPEAT
from profiler.bench.microbench_run import DEFAULT_ITERATIONS
from profiler.bench.runner import BenchPlan
from profiler.bench.stats import DEFAULT_PRECISION
from profiler.benchmark import (
    BenchOptions,
    BenchOutcome,
    BoundOptions,
    MicrobenchOptions,
    check_bench_outputs,
    run_benchmarks,
)
from profiler.cli.bench_tables import (
    print_wide,
    render_bound_table,
    render_cost_table,
    render_cross_check_table,
    render_environment,
    render_image_comparison,
    render_micro_table,
    render_role_table,
    render_runtime_comparison,
    render_table,
)
from profiler.cli.choices import Engines, Modes, OciRuntimes
from profiler.cli.common import (
    ALLOW_UNKNOWN_OPTION,
    ARG_OPTION,
    BACKEND_OPTION,
    CLASS_OPTION,
    CONF_OPTION,
    DRIVER_PROFILE_OPTION,
    EGRESS_OPTION,
    EXECUTOR_PROFILE_OPTION,
    EXECUTORS_OPTION,
    FILES_OPTION,
    IMAGES_OPTION,
    JARS_OPTION,
    MANIFEST_OPERATOR_OPTION,
    MODES_OPTION,
    NODES_OPTION,
    OCI_RUNTIMES_OPTION,
    POD_SECURITY_OPTION,
    PROFILES_OPTION,
    PY_FILES_OPTION,
    RUNTIME_DEFAULT_OPTION,
    RUNTIMES_OPTION,
    SPARK_VERSIONS_OPTION,
    TOPOLOGY_OPTION,
    WORKLOADS_ARG,
    console,
    default_modes,
    load_image_profiles,
    note,
    parse_images,
    parse_profile_paths,
    progress_reporter,
    resolve_jobs,
    run_dir_option,
    stdout,
    timeout_option,
)
from profiler.errors import UsageError
from profiler.matrix import Target, matrix_cells, matrix_targets
from profiler.paths import run_folder
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import parse_engine_choices
from profiler.vocabulary import BackendName, PodSecurity, SecurityMode, Topology


def bench(
    workloads: list[str] = WORKLOADS_ARG,
    modes: Modes = MODES_OPTION,
    profile: str = PROFILES_OPTION,
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
    bound: bool = typer.Option(
        True,
        "--bound/--no-bound",
        help="Also bound each filter's share of each pod's CPU time: recorded syscall "
        "counts x the added cost of one call under that filter.",
    ),
    recordings: list[Path] = typer.Option(
        None,
        "--recordings",
        help="recording.json files or `record` run folders with the workloads' syscall "
        "counts for the bound [default: record each workload once].",
    ),
    bound_repeat: int = typer.Option(
        BOUND_REPEAT, "--bound-repeat", min=1, help="Rounds of the per-call cost."
    ),
    bound_iterations: int = typer.Option(
        BOUND_ITERATIONS, "--bound-iterations", min=1000, help="Calls per case and round."
    ),
    precision: float = typer.Option(
        DEFAULT_PRECISION, "--precision", help="Interval half-width wanted, as a fraction."
    ),
    pod_security: PodSecurity = POD_SECURITY_OPTION,
    image: str = IMAGES_OPTION,
    spark_version: str = SPARK_VERSIONS_OPTION,
    timeout: float = timeout_option(600),
    backend_choice: BackendName = BACKEND_OPTION,
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = NODES_OPTION,
    runtime_default: Path = RUNTIME_DEFAULT_OPTION,
    run_dir: Path = run_dir_option("bench", "bench.json, run logs and the report"),
    topology: Topology = TOPOLOGY_OPTION,
    executors: int = EXECUTORS_OPTION,
    driver_profile: Path = DRIVER_PROFILE_OPTION,
    executor_profile: Path = EXECUTOR_PROFILE_OPTION,
    allow_unknown: bool = ALLOW_UNKNOWN_OPTION,
    arguments: list[str] = ARG_OPTION,
    main_class: str = CLASS_OPTION,
    jars: str = JARS_OPTION,
    py_files: str = PY_FILES_OPTION,
    files: str = FILES_OPTION,
    conf: list[str] = CONF_OPTION,
    egress: bool = EGRESS_OPTION,
    operator_version: str = MANIFEST_OPERATOR_OPTION,
) -> None:
    """Time workloads under each seccomp mode, interleaved; report overhead with intervals.

    Rounds run every mode once, in an order rotated each round, so drift of the machine
    is shared and cancelled. Writes bench.json, microbench.json, a copy of the profile
    (and its summary), filter_cost.json and bound.json (the bound: each pod's recorded
    syscall counts x the added cost of one call under each filter, over its CPU time)
    and the report into the run directory. Exit 2 for usage errors,
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
    mode_list = default_modes(modes, profiles=bool(profile_paths))
    per_image = load_image_profiles(
        profile_paths,
        driver=driver_profile,
        executor=executor_profile,
        allow_unknown=allow_unknown,
    )
    if SecurityMode.LOCALHOST in mode_list and not profile_paths:
        raise UsageError("localhost mode needs a profile", "pass --profile PROFILE.json")
    jobs = resolve_jobs(
        workloads,
        arguments=arguments,
        main_class=main_class,
        jars=jars,
        py_files=py_files,
        files=files,
        conf=conf,
        image=images[0] if image or spark_version else None,
        executors=executors,
        operator_version=operator_version,
        egress=egress,
    )
    cells = matrix_cells(engines, images, root, per_image)
    plan = BenchPlan(
        workloads=jobs.workloads,
        modes=tuple(mode_list),
        shape=RunShape(
            images[0],
            pod_security,
            topology,
            executors,
            egress=egress,
            submissions=jobs.submissions,
        ),
        repeat=repeat,
        warmup=warmup,
        timeout_seconds=timeout,
        precision=precision,
    )
    options = BenchOptions(
        run_root=root,
        microbench=MicrobenchOptions(micro_repeat, micro_iterations) if microbench else None,
        runtime_default=runtime_default,
        bound=BoundOptions(
            recordings=tuple(recordings or ()), repeat=bound_repeat, iterations=bound_iterations
        )
        if bound
        else None,
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
        print_wide(render_image_comparison(labels, [o.report for o in outcomes]))
    if len(engines) > 1 and microbench:
        print_wide(render_runtime_comparison(labels, [o.micro for o in outcomes]))


def _render_outcome(target: Target, outcome: BenchOutcome) -> None:
    """One image's tables, as its bench ends."""
    report, micro = outcome.report, outcome.micro
    print_wide(render_table(report))
    if report.role_overheads:
        print_wide(render_role_table(report))
    for warning in report.warnings:
        stdout.print(f"warning: {warning}", highlight=False, markup=False, soft_wrap=True)
    if micro is not None:
        print_wide(render_micro_table(micro.report))
        for failed in micro.failed:
            stdout.print(f"warning: micro {failed.describe()}", highlight=False, markup=False)
        for skipped in micro.skipped:
            stdout.print(f"note: micro-benchmark skipped {skipped}", highlight=False, markup=False)
    if outcome.bound is not None:
        print_wide(render_cost_table(outcome.bound))
        print_wide(render_bound_table(outcome.bound))
        cross = render_cross_check_table(report, outcome.bound)
        if cross is not None:
            print_wide(cross)
    print_wide(render_environment(report))
    console.print(f"bench.json, run logs and the report in {outcome.run_root}", highlight=False)
    stdout.print(f"report: {outcome.files.html}", highlight=False, markup=False)
