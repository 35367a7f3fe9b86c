"""`spark-seccomp record`: trace workloads, derive a profile, verify it, write it."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from profiler import record as record_lib
from profiler import workloads as workloads_lib
from profiler.cli.check import WORKLOADS_ARG, render_table
from profiler.cli.common import (
    EXECUTORS_OPTION,
    RUNTIME_OPTION,
    TOPOLOGY_OPTION,
    console,
    note,
    output_file,
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
from profiler.paths import run_folder
from profiler.runtime.interface import Backend, Topology
from profiler.runtime.run_shape import RunShape
from profiler.runtime.select import parse_engine_choices
from profiler.seccomp import generate
from profiler.seccomp.arch import parse_arches
from profiler.seccomp.profile import role_profile_path
from profiler.vocabulary import ROLES


def record(
    workloads: list[str] = WORKLOADS_ARG,
    out: Path = typer.Option(
        ...,
        "--out",
        "-o",
        help="Where to write the profile (OCI JSON).",
        parser=output_file,
        metavar="<path>",
    ),
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
    runtime: str = RUNTIME_OPTION,
    oci_runtime: str = typer.Option(
        None,
        "--oci-runtime",
        help="runc or crun, or runc,crun: record under both, verify under both, and say "
        "which calls only one needed [default: the engine's own].",
    ),
    topology: Topology = TOPOLOGY_OPTION,
    executors: int = EXECUTORS_OPTION,
) -> None:
    """Record syscalls of workloads and write minimal, verified Localhost profiles.

    In the pod topology (the default) the driver pod and the executor pods are recorded
    apart: NAME.driver.json and NAME.executor.json, and their union NAME.json, each with
    a summary (NAME[.ROLE].summary.json) saying which workloads and processes needed each
    syscall. In the local topology, NAME.json alone.
    """
    from profiler.runtime.select import make_backend

    out = Path(out)
    # The profile and its summary are written together at the end; both paths, and the
    # run directory, are checked now rather than after the recordings.
    # --out first: the role and summary paths are made from its name, which "." lacks.
    check_output_path(out, what="profile")
    for path in (out, *(role_profile_path(out, role) for role in ROLES)):
        check_output_path(path, what="profile")
        check_output_path(generate.summary_path_for(path), what="summary")
    root = run_folder("record", run_dir)
    check_output_dir(root)
    check_output_files(
        root,
        [
            f"profile{suffix}{kind}"
            for suffix in ("", ".driver", ".executor")
            for kind in (".json", ".summary.json")
        ],
    )
    security = parse_pod_security(pod_security)
    generate.parse_errno(errno)
    arches = parse_arches(arch) if arch else None
    image = image or default_tag()
    backends: list[Backend] = []
    recordings = None
    make_tracer = None
    if from_recordings:
        if workloads:
            raise UsageError("give workloads or --from-recordings, not both")
        recordings = record_lib.load_recordings(from_recordings)
        selected = record_lib.workloads_of(recordings) if verify else []
        if recordings and all(r.role == "all" for r in recordings):
            topology = Topology.LOCAL  # verify in the shape they were recorded in
    else:
        selected = workloads_lib.resolve_all(workloads or [])
        make_tracer = record_lib.tracer_factory(tracer, note)
    shape = RunShape(image, security, topology, executors)
    if make_tracer is not None or verify:
        engines = parse_engine_choices(runtime, oci_runtime)
        if len({e.engine for e in engines}) > 1:
            raise UsageError("record runs on one engine", "pass one --runtime")
        backends = [make_backend(backend_choice, note, engine=e) for e in engines]
        shape = shape.with_engine(engines[0]).on(backends[0], note)
    plan = record_lib.RecordPlan(
        workloads=tuple(selected), shape=shape, runs=runs, timeout_seconds=timeout
    )
    explicit = record_lib.needs_explicit_errno(backends[0], image) if backends else False
    options = record_lib.DeriveOptions(
        errno=errno, arches=arches, allow=tuple(allow), explicit_errno=explicit
    )

    def review(profiles: dict[str, record_lib.DerivedProfile]) -> None:
        _print_review(profiles[record_lib.UNION].summary, explicit)
        root.mkdir(parents=True, exist_ok=True)
        # The candidates stay in the run folder whatever the verification says.
        _write_profiles(root / "profile.json", profiles)

    with progress_reporter("record") as on_progress:
        outcome = record_lib.record_profile(
            backends,
            plan,
            options,
            run_root=root,
            make_tracer=make_tracer,
            recordings=recordings,
            verify=verify,
            progress=on_progress,
            on_derived=review,
        )
    for line in outcome.warnings:
        note(f"warning: {line}")
    for verification in outcome.verifications or (
        (outcome.verification,) if outcome.verification else ()
    ):
        console.print(render_table(verification))
    if not outcome.verified:
        raise VerificationFailed(
            f"the derived profile breaks a workload, so it was not written to {out}",
            f"see the verification table above and {root}/verify; the candidates are in {root}",
        )
    written = _write_profiles(out, outcome.profiles)
    union = outcome.union
    console.print(
        f"wrote {out}: {len(union.profile.allowed())} syscalls allowed from "
        f"{union.summary.total_runs} run(s) of {len(union.summary.workloads)} workload(s)",
        highlight=False,
    )
    for key, path in written:
        if key != record_lib.UNION:
            derived = outcome.profiles[key]
            console.print(
                f"wrote {path}: {len(derived.profile.allowed())} syscalls allowed for the "
                f"{key} pod",
                highlight=False,
            )


def _write_profiles(
    out: Path, profiles: dict[str, record_lib.DerivedProfile]
) -> list[tuple[str, Path]]:
    """Each profile with its summary, all together or none: the union at ``out``, roles at
    NAME.ROLE.json. A role file from an earlier recording that this one has no profile for
    is removed, so check never picks up a stale role profile beside a new union."""
    written = []
    files = []
    for key in (record_lib.UNION, *ROLES):
        derived = profiles.get(key)
        path = out if key == record_lib.UNION else role_profile_path(out, key)
        summary = generate.summary_path_for(path)
        if derived is None:
            files += [OutputFile(path, None), OutputFile(summary, None)]
            continue
        files += [
            OutputFile(path, derived.profile.to_json()),
            OutputFile(summary, derived.summary.to_json()),
        ]
        written.append((key, path))
    write_files(files)
    return written


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
    for label, names in sorted(summary.oci_runtime_only.items()):
        note(f"only the runs under {label} made: {', '.join(names) or 'none'}")
    if explicit:
        note(
            "this engine ignores defaultErrnoRet: denied syscalls are listed with an explicit errnoRet"
        )
