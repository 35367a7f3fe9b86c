"""`spark-seccomp record`: trace workloads, derive a profile, verify it, write it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.table import Table

from profiler import record as record_lib
from profiler import workloads as workloads_lib
from profiler.cli.check import WORKLOADS_ARG, render_table
from profiler.cli.common import (
    console,
    note,
    parse_pod_security,
    progress_reporter,
)
from profiler.errors import UsageError, VerificationFailed
from profiler.image import default_tag
from profiler.output import (
    OutputFile,
    check_output_dir,
    check_output_files,
    check_output_path,
    write_files,
)
from profiler.paths import runs_dir
from profiler.seccomp import generate
from profiler.seccomp.arch import parse_arches


def record(
    workloads: list[str] = WORKLOADS_ARG,
    out: Path = typer.Option(..., "--out", "-o", help="Where to write the profile (OCI JSON)."),
    tracer: str = typer.Option("auto", "--tracer", help="auto, ebpf or strace."),
    pod_security: str = typer.Option(
        "restricted", "--pod-security", help="restricted or none: record as it will be enforced."
    ),
    runs: int = typer.Option(1, "--runs", min=1, help="Recordings per workload."),
    arch: str = typer.Option(
        None, "--arch", help="Target architectures, e.g. amd64,arm64 [default: this machine's]."
    ),
    errno: str = typer.Option("enosys", "--errno", help="enosys or eperm for denied calls."),
    allow: list[str] = typer.Option(
        [], "--allow", help="Allow a risky call the review held back (repeatable)."
    ),
    image: str = typer.Option(
        None, "--image", help="Spark image [default: spark-seccomp/spark:<V>]."
    ),
    timeout: float = typer.Option(900, "--timeout", min=1, help="Seconds before a run is killed."),
    verify: bool = typer.Option(
        True,
        "--verify/--no-verify",
        help="Run every workload under the new profile before writing it.",
    ),
    from_recordings: list[Path] = typer.Option(
        [],
        "--from-recordings",
        help="Derive from recording.json files or run folders instead of running workloads.",
    ),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where traces and logs go [default: runs/record-<time>]."
    ),
    backend_choice: str = typer.Option(
        "auto",
        "--backend",
        help="auto (Docker when an engine is reachable, else local), docker or local.",
    ),
) -> None:
    """Record syscalls of workloads and write a minimal, verified Localhost profile.

    Several workloads give one union profile. A summary (NAME.summary.json) beside the
    profile says which workloads and processes needed each syscall.
    """
    from profiler.runtime.select import make_backend

    out = Path(out)
    # The profile and its summary are written together at the end; both paths, and the
    # run directory, are checked now rather than after the recordings.
    check_output_path(out, what="profile")
    check_output_path(generate.summary_path_for(out), what="summary")
    root = run_dir or runs_dir() / f"record-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    check_output_dir(root)
    check_output_files(root, ["profile.json", "profile.summary.json"])
    security = parse_pod_security(pod_security)
    generate.parse_errno(errno)
    arches = parse_arches(arch) if arch else None
    image = image or default_tag()
    backend = None
    if from_recordings:
        if workloads:
            raise UsageError("give workloads or --from-recordings, not both")
        recordings = record_lib.load_recordings(from_recordings)
        selected = record_lib.workloads_of(recordings) if verify else []
    else:
        selected = workloads_lib.resolve_all(workloads or [])
        make_tracer = record_lib.tracer_factory(tracer, note)
        backend = make_backend(backend_choice, note)
        with progress_reporter("record") as on_progress:
            recordings = record_lib.record_workloads(
                backend,
                selected,
                image,
                make_tracer,
                pod_security=security,
                runs=runs,
                timeout_seconds=timeout,
                run_root=root,
                progress=on_progress,
            )
    if backend is None and verify:
        backend = make_backend(backend_choice, note)
    explicit = record_lib.needs_explicit_errno(backend, image) if backend else False
    profile, summary = generate.derive_profile(
        recordings, errno=errno, arches=arches, allow=allow, explicit_errno=explicit
    )
    _print_review(summary, explicit)
    root.mkdir(parents=True, exist_ok=True)
    write_files(
        [
            OutputFile(root / "profile.json", profile.to_json()),
            OutputFile(root / "profile.summary.json", summary.to_json()),
        ]
    )
    if verify and backend is not None:
        with progress_reporter("verify") as on_progress:
            report = record_lib.verify_profile(
                backend,
                selected,
                image,
                profile,
                recordings,
                pod_security=security,
                run_root=root,
                timeout_seconds=timeout,
                progress=on_progress,
            )
        console.print(render_table(report))
        if not report.passed:
            raise VerificationFailed(
                "the derived profile breaks a workload, so it was not written to " + str(out),
                f"see the verification table above and {root}/verify; the candidate is {root}/profile.json",
            )
    write_files(
        [
            OutputFile(out, profile.to_json()),
            OutputFile(generate.summary_path_for(out), summary.to_json()),
        ]
    )
    console.print(
        f"wrote {out}: {len(profile.allowed())} syscalls allowed from {summary.total_runs} "
        f"recording(s) of {len(summary.workloads)} workload(s); summary in {generate.summary_path_for(out)}",
        highlight=False,
    )


def _print_review(summary: generate.Summary, explicit: bool) -> None:
    if summary.held_back:
        table = Table("held back", "why it is risky", title="Review: left out of the profile")
        for item in summary.held_back:
            table.add_row(item.name, item.reason)
        console.print(table)
        console.print("Allow one with --allow NAME if verification shows the job needs it.")
    for arch, names in sorted(summary.missing.items()):
        if names:
            note(f"not on {arch} (left out there): {', '.join(sorted(names))}")
    if summary.flaky:
        note(f"seen in only some runs (more --runs may find more): {', '.join(summary.flaky)}")
    if explicit:
        note(
            "this engine ignores defaultErrnoRet: denied syscalls are listed with an explicit errnoRet"
        )
