"""`spark-seccomp check` and `cleanup`."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer
from rich.table import Table

from profiler import workloads as workloads_lib
from profiler.check import CheckOptions, CheckPlan, CheckReport, Verdict, run_checks
from profiler.cli.common import (
    DRIVER_PROFILE_OPTION,
    EXECUTOR_PROFILE_OPTION,
    EXECUTORS_OPTION,
    OCI_RUNTIMES_OPTION,
    RUNTIMES_OPTION,
    TOPOLOGY_OPTION,
    console,
    load_image_profiles,
    note,
    output_file,
    parse_images,
    parse_modes,
    parse_pod_security,
    parse_profile_paths,
    progress_reporter,
    stdout,
    write_atomically,
)
from profiler.errors import EXIT_FAILED, EnvironmentProblem, UsageError
from profiler.matrix import matrix_cells, matrix_targets
from profiler.output import (
    check_distinct_outputs,
    check_output_dir,
    check_output_files,
    check_output_path,
)
from profiler.paths import run_folder
from profiler.report.check_formats import (
    check_matrix_to_json,
    check_matrix_to_junit,
    check_to_json,
    check_to_junit,
)
from profiler.runtime.interface import SecurityMode, Topology
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import parse_engine_choices
from profiler.seccomp.arch import native_arch
from profiler.seccomp.runtime_default import load_runtime_default

WORKLOADS_ARG = typer.Argument(
    None, help="Catalogue workload names or paths to PySpark scripts [default: the catalogue]."
)


def check(
    workloads: list[str] = WORKLOADS_ARG,
    modes: str = typer.Option(
        "unconfined,runtime-default",
        "--modes",
        help="Comma-separated: unconfined, runtime-default, localhost.",
    ),
    profile: str = typer.Option(
        None,
        "--profile",
        help="OCI seccomp profile for localhost mode; with several images, one for all or "
        "one per image, comma-separated in the same order.",
    ),
    pod_security: str = typer.Option(
        "restricted",
        "--pod-security",
        help="restricted (PSS restricted) or none (engine defaults).",
    ),
    repeat: int = typer.Option(1, "--repeat", min=1, help="Runs per workload and mode."),
    image: str = typer.Option(
        None,
        "--image",
        help="Spark image, or several comma-separated for a side-by-side matrix "
        "[default: spark-seccomp/spark:<V>].",
    ),
    spark_version: str = typer.Option(
        None,
        "--spark-version",
        help="Instead of --image: the tool's image of these Spark versions, comma-separated "
        "(e.g. 3.5.9,4.3.0; build them with `image build --spark-version V`).",
    ),
    timeout: float = typer.Option(600, "--timeout", min=1, help="Seconds before a run is killed."),
    json_out: Path = typer.Option(
        None,
        "--json",
        help="Also write the results as JSON here.",
        parser=output_file,
        metavar="<path>",
    ),
    junit_out: Path = typer.Option(
        None, "--junit", help="Also write JUnit XML here.", parser=output_file, metavar="<path>"
    ),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where run logs go [default: runs/check-<time>]."
    ),
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
    backend_choice: str = typer.Option(
        "auto",
        "--backend",
        help="auto (Docker when an engine is reachable, else local), docker or local.",
    ),
    runtime: str = RUNTIMES_OPTION,
    oci_runtime: str = OCI_RUNTIMES_OPTION,
    runtime_default: Path = typer.Option(
        None,
        "--runtime-default",
        help="The engine's default seccomp profile (e.g. moby's default.json), so "
        "RuntimeDefault failures can be diagnosed "
        "[default: profiles/runtime-default-docker-*.json if present].",
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
    """Run workloads under each security mode; say which modes break which jobs.

    A cell that fails while the job passes unconfined is rerun in complain mode and the
    denied syscalls are named under it (needs root and bpftrace; --no-diagnose skips it).

    Exit 0 when every cell passes, 1 when any fails, 2 for usage errors, 3 when the
    environment lacks something (no Docker engine, no image, no bpftrace for --complain).
    """
    from profiler.diagnosis.diagnoser import ComplainDiagnoser
    from profiler.runtime.select import make_backend

    # Every output is checked before the first run, not found unwritable after the last.
    for path, what in ((json_out, "--json"), (junit_out, "--junit")):
        if path is not None:
            check_output_path(path, what=f"{what} output")
    check_distinct_outputs({"--json": json_out, "--junit": junit_out})
    root = run_folder("check", run_dir)
    check_output_dir(root)
    check_output_files(root, ["check.json"])
    mode_list = parse_modes(modes)
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
    security = parse_pod_security(pod_security)
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
    plan = CheckPlan(
        workloads=tuple(workloads_lib.resolve_all(workloads or [])),
        modes=tuple(mode_list),
        shape=RunShape(images[0], security, topology, executors),
        repeat=repeat,
    )
    cells = matrix_cells(parse_engine_choices(runtime, oci_runtime), images, root, per_image)
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
    stdout.print(render_table(reports[0]) if len(reports) == 1 else render_matrix(reports))
    for line in dict.fromkeys(n for r in reports for n in r.notes):
        note(f"note: {line}")
    for target, report in zip(targets, reports, strict=True):
        target.folder.mkdir(parents=True, exist_ok=True)
        write_atomically(target.folder / "check.json", check_to_json(report))
    if json_out:
        write_atomically(
            json_out,
            check_to_json(reports[0]) if len(reports) == 1 else check_matrix_to_json(reports),
        )
    if junit_out:
        write_atomically(
            junit_out,
            check_to_junit(reports[0]) if len(reports) == 1 else check_matrix_to_junit(reports),
        )
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
