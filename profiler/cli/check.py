"""`spark-seccomp check` and `cleanup`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table

from profiler.check import (
    CheckOptions,
    CheckPlan,
    CheckReport,
    Verdict,
    run_checks,
    versions_line,
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
    output_file,
    parse_images,
    parse_profile_paths,
    progress_reporter,
    resolve_jobs,
    run_dir_option,
    timeout_option,
    write_atomically,
)
from profiler.cli.results import (
    OUT_OPTION,
    RunReportFormat,
    emit,
    emit_blocks,
    format_option,
    plan_outputs,
    write_reports,
)
from profiler.errors import EXIT_FAILED, EnvironmentProblem, UsageError
from profiler.matrix import matrix_cells, matrix_targets
from profiler.output import (
    check_distinct_outputs,
    check_output_dir,
    check_output_files,
)
from profiler.paths import run_folder
from profiler.report.check_formats import (
    check_matrix_to_json,
    check_matrix_to_junit,
    check_to_json,
    check_to_junit,
)
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import parse_engine_choices
from profiler.seccomp.arch import native_arch
from profiler.seccomp.runtime_default import load_runtime_default
from profiler.vocabulary import BackendName, PodSecurity, SecurityMode, Topology


def check(
    workloads: list[str] = WORKLOADS_ARG,
    modes: Modes = MODES_OPTION,
    profile: str = PROFILES_OPTION,
    pod_security: PodSecurity = POD_SECURITY_OPTION,
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per workload and mode."),
    image: str = IMAGES_OPTION,
    spark_version: str = SPARK_VERSIONS_OPTION,
    timeout: float = timeout_option(600),
    output_format: RunReportFormat = format_option(
        RunReportFormat.TEXT, "text: the table; json or junit: what --json or --junit writes."
    ),
    out: Path = OUT_OPTION,
    json_out: Path = typer.Option(
        None,
        "--json",
        help="Also write the results as JSON to this file (- is stdout).",
        parser=output_file,
        metavar="<path>",
    ),
    junit_out: Path = typer.Option(
        None,
        "--junit",
        help="Also write JUnit XML to this file (- is stdout).",
        parser=output_file,
        metavar="<path>",
    ),
    run_dir: Path = run_dir_option("check", "Run logs and check.json"),
    complain: bool = typer.Option(
        False,
        "--complain",
        help="Run runtime-default/localhost cells in complain mode: nothing is denied, "
        "the would-be denials are listed (needs root and bpftrace).",
    ),
    no_diagnose: bool = typer.Option(
        False,
        "--no-diagnose",
        help="Do not rerun failing cells in complain mode to find the denied syscalls.",
    ),
    backend_choice: BackendName = BACKEND_OPTION,
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = NODES_OPTION,
    runtime_default: Path = RUNTIME_DEFAULT_OPTION,
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
    """Run workloads under each security mode; say which modes break which jobs.

    A cell that fails while the job passes unconfined is rerun in complain mode and the
    denied syscalls are named under it (needs root and bpftrace; --no-diagnose skips it).

    Exit 0 when every cell passes, 1 when any fails, 2 for usage errors, 3 when the
    environment lacks something (no Docker engine, no image, no bpftrace for --complain).
    """
    from profiler.diagnosis.diagnoser import ComplainDiagnoser
    from profiler.runtime.select import make_backend

    # Every output is checked before the first run, not found unwritable after the last.
    human = plan_outputs(output_format, out, {"--json": json_out, "--junit": junit_out})
    check_distinct_outputs({"--out": out, "--json": json_out, "--junit": junit_out})
    root = run_folder("check", run_dir)
    check_output_dir(root)
    check_output_files(root, ["check.json"])
    mode_list = list(
        default_modes(modes, profiles=bool(profile or driver_profile or executor_profile))
    )
    if complain and no_diagnose:
        raise UsageError("--complain and --no-diagnose contradict each other", "pick one")
    if complain and mode_list == [SecurityMode.UNCONFINED]:
        raise UsageError(
            "--complain needs a confined mode", "add runtime-default or localhost to --modes"
        )
    if runtime_default is not None and not Path(runtime_default).is_file():
        raise UsageError(
            f"RuntimeDefault profile {runtime_default} does not exist",
            "pass the engine's default profile, e.g. moby's profiles/seccomp/default.json",
        )
    if runtime_default is not None:
        load_runtime_default(runtime_default, arch=native_arch())  # a bad file fails now
    images = parse_images(image, spark_version)
    profile_paths = parse_profile_paths(profile, images)
    per_image = []
    if SecurityMode.LOCALHOST in mode_list:
        if not profile_paths:
            raise UsageError("localhost mode needs a profile", "pass --profile PROFILE.json")
        per_image = load_image_profiles(
            profile_paths,
            driver=driver_profile,
            executor=executor_profile,
            allow_unknown=allow_unknown,
        )
    elif profile_paths or driver_profile is not None or executor_profile is not None:
        raise UsageError("profiles are only used in localhost mode", "add localhost to --modes")
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
    plan = CheckPlan(
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
    )
    cells = matrix_cells(parse_engine_choices(runtime, oci_runtime, node), images, root, per_image)
    targets = matrix_targets(
        plan.shape,
        cells,
        lambda engine: make_backend(
            backend_choice, note, runtime_default=runtime_default, engine=engine
        ),
        note=note,
    )
    options = CheckOptions(
        timeout_seconds=timeout, run_root=root, diagnose=not no_diagnose, complain=complain
    )
    with progress_reporter("check") as on_progress:
        reports = run_checks(
            targets,
            plan,
            options,
            progress=on_progress,
            diagnoser_for=lambda b: ComplainDiagnoser(b, runtime_default=runtime_default),
        )
    table = render_table(reports[0]) if len(reports) == 1 else render_matrix(reports)
    # What each engine was, under the table: its versions (a node's build too).
    blocks: list[Table | str] = [
        table,
        *dict.fromkeys(versions_line(r.runtime, dict(r.versions)) for r in reports),
    ]
    for line in dict.fromkeys(n for r in reports for n in r.notes):
        note(f"note: {line}")
    for target, report in zip(targets, reports, strict=True):
        target.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(target.folder / "check.json", check_to_json(report))
    as_json = check_to_json(reports[0]) if len(reports) == 1 else check_matrix_to_json(reports)
    as_junit = check_to_junit(reports[0]) if len(reports) == 1 else check_matrix_to_junit(reports)
    if output_format is RunReportFormat.TEXT:
        emit_blocks(blocks, out, human)
    else:
        emit_blocks(blocks, None, human)
        emit(as_json if output_format is RunReportFormat.JSON else as_junit, out)
    write_reports([(json_out, as_json), (junit_out, as_junit)])
    console.print(f"run logs and check.json in {root}", highlight=False)
    if not all(r.passed for r in reports):
        raise typer.Exit(EXIT_FAILED)


def cleanup() -> None:
    """Remove every container this tool started that is still around (after a crash), on
    Docker, Podman and containerd."""
    from profiler.runtime.select import cleanup_everywhere

    found = cleanup_everywhere()
    if not any(isinstance(removed, int) for removed in found.values()):
        from profiler.runtime.engine import START_HINT

        raise EnvironmentProblem(str(found.get("docker", "no engine is reachable")), START_HINT)
    for engine, removed in found.items():
        if isinstance(removed, int):
            console.print(f"{engine}: removed {removed} container(s)", highlight=False)
        else:
            console.print(f"{engine}: skipped ({removed})", highlight=False)


def render_matrix(reports: Sequence[CheckReport]) -> Table:
    """Several images (or engines) side by side: a column per engine, image and mode."""
    first = reports[0]
    shape = _shape(first)
    title = f"topology: {shape}; pod security: {first.pod_security.value}"
    several_runtimes = len({r.runtime for r in reports}) > 1
    several_images = len({r.image for r in reports}) > 1 or not several_runtimes

    def heading(report: CheckReport) -> str:
        parts = [report.runtime] if several_runtimes else []
        if several_images:
            parts.append(report.image.rsplit(":", 1)[-1])
        return "\n".join(parts)

    columns = [f"{heading(r)}\n{m.value}" for r in reports for m in r.modes]
    table = Table("workload", *columns, title=title, min_width=len(title))
    for workload in first.workloads:
        row = [workload]
        for report in reports:
            for mode in report.modes:
                row.append(_render_cell(report, workload, mode))
        table.add_row(*row)
    labels = (
        list(dict.fromkeys(f"{r.image.rsplit(':', 1)[-1]}: {r.image}" for r in reports))
        if several_images
        else [f"image: {first.image}"]
    )
    profiles = list(
        dict.fromkeys(f"{r.image}: {r.profile_label}" for r in reports if r.profile_label)
    )
    shapes = list(dict.fromkeys(f"{r.runtime}: {_shape(r)}" for r in reports))
    caption = labels + [f"profile {p}" for p in profiles]
    if len({_shape(r) for r in reports}) > 1:
        caption.append("topology " + ", ".join(shapes))
    table.caption = "; ".join(caption)
    return table


def _shape(report: CheckReport) -> str:
    if report.topology is not Topology.POD:
        return "local"
    return f"pod ({report.executors} executor{'s' if report.executors != 1 else ''})"


def render_table(report: CheckReport) -> Table:
    shape = _shape(report)
    title = f"topology: {shape}; pod security: {report.pod_security.value}; image: {report.image}"
    if report.profile_label:
        title += f"; profile: {report.profile_label}"
    # At least as wide as its title, so the context line never wraps above a narrow table.
    table = Table("workload", *[m.value for m in report.modes], title=title, min_width=len(title))
    for workload in report.workloads:
        row = [workload]
        for mode in report.modes:
            row.append(_render_cell(report, workload, mode))
        table.add_row(*row)
    return table


def _render_cell(report: CheckReport, workload: str, mode: SecurityMode) -> str:
    cell = report.cell(workload, mode)
    times = f"{cell.median_wall:.1f}s"
    count = f" {cell.passes}/{len(cell.runs)}" if len(cell.runs) > 1 else ""
    if cell.verdict is Verdict.PASS:
        # A pass can carry a diagnosis too: complain mode lists would-be denials.
        return "\n".join(
            [f"[green]pass[/green]{count} {times}"] + [_escape(d) for d in cell.diagnosis]
        )
    failing = next(r for r in cell.runs if not r.verdict.ok)
    detail = failing.error_line
    lines = [f"[red]{cell.verdict.value}[/red]{count} {times}", _escape(detail[:240])]
    lines += [_escape(d) for d in cell.diagnosis]
    return "\n".join(lines)


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)
