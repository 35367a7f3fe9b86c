"""`spark-seccomp record`: trace workloads, derive a profile, verify it, write it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import typer
from rich.table import Table

from profiler import record as record_lib
from profiler.cli.check import render_table
from profiler.cli.choices import Engines, OciRuntimes
from profiler.cli.common import (
    ARG_OPTION,
    BACKEND_OPTION,
    CLASS_OPTION,
    CONF_OPTION,
    EGRESS_OPTION,
    ERRNO_OPTION,
    EXECUTORS_OPTION,
    FILES_OPTION,
    IMAGE_OPTION,
    JARS_OPTION,
    MANIFEST_OPERATOR_OPTION,
    OCI_RUNTIMES_OPTION,
    POD_SECURITY_OPTION,
    PY_FILES_OPTION,
    RUNTIME_PROBE_OPTION,
    RUNTIMES_OPTION,
    TOPOLOGY_OPTION,
    TRACER_OPTION,
    WORKLOADS_ARG,
    console,
    note,
    output_file,
    progress_reporter,
    resolve_jobs,
    run_dir_option,
    timeout_option,
)
from profiler.errors import EnvironmentProblem, UsageError, VerificationFailed
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
from profiler.runtime.nodes.catalogue import newest_node
from profiler.runtime.run_shape import EngineChoice, RunShape, Submission
from profiler.runtime.select import parse_engine_choices, verification_choices
from profiler.seccomp import generate
from profiler.seccomp.arch import parse_arches
from profiler.seccomp.profile import role_profile_path
from profiler.vocabulary import (
    ROLES,
    BackendName,
    DeniedErrno,
    PodSecurity,
    TracerName,
)


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
    tracer: TracerName = TRACER_OPTION,
    pod_security: PodSecurity = POD_SECURITY_OPTION,
    runs: int = typer.Option(1, "--runs", min=1, help="Recordings per workload."),
    arch: str = typer.Option(
        None, "--arch", help="Target architectures, e.g. amd64,arm64 [default: this machine's]."
    ),
    errno: DeniedErrno = ERRNO_OPTION,
    allow: list[str] = typer.Option(
        [], "--allow", help="Allow a risky call the review held back (repeatable)."
    ),
    image: str = IMAGE_OPTION,
    timeout: float = timeout_option(900),
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
    run_dir: Path = run_dir_option("record", "Traces and logs"),
    backend_choice: BackendName = BACKEND_OPTION,
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = typer.Option(
        None,
        "--node",
        help="Where to record: host, or nodes of newer releases (`spark-seccomp node "
        "list`), comma-separated: one profile from the runs on each [default: host].",
    ),
    verify_node: str = typer.Option(
        None,
        "--verify-node",
        help="Where to verify: the recording engines, and each of these nodes' Podman with "
        "runc and with crun [default: the recording nodes and the newest node, "
        f"{newest_node().name}]; `--verify-node host` verifies on the host alone.",
    ),
    runtime_probe: bool = RUNTIME_PROBE_OPTION,
    topology: Topology = TOPOLOGY_OPTION,
    executors: int = EXECUTORS_OPTION,
    arguments: list[str] = ARG_OPTION,
    main_class: str = CLASS_OPTION,
    jars: str = JARS_OPTION,
    py_files: str = PY_FILES_OPTION,
    files: str = FILES_OPTION,
    conf: list[str] = CONF_OPTION,
    egress: bool = EGRESS_OPTION,
    operator_version: str = MANIFEST_OPERATOR_OPTION,
) -> None:
    """Record syscalls of workloads and write minimal, verified Localhost profiles.

    In the pod topology (the default) the driver pod and the executor pods are recorded
    apart: NAME.driver.json and NAME.executor.json, and their union NAME.json, each with
    a summary (NAME[.ROLE].summary.json) saying which workloads and processes needed each
    syscall. In the local topology, NAME.json alone.

    With --oci-runtime runc,crun every workload is recorded under both, the profiles are
    verified under both, and the review says which calls only one needed.
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
    arches = parse_arches(arch) if arch else None
    image_given = image is not None
    own_image = image
    image = image or default_tag()
    backends: list[Backend] = []
    verifiers: list[Backend] = []
    recordings = None
    make_tracer = None
    if from_recordings:
        if workloads:
            raise UsageError("give workloads or --from-recordings, not both")
        recordings = record_lib.load_recordings(from_recordings)
        selected = record_lib.workloads_of(recordings) if verify else []
        if recordings and all(r.role == "all" for r in recordings):
            topology = Topology.LOCAL  # verify in the shape they were recorded in
        submissions: tuple[Submission, ...] = ()
    else:
        jobs = resolve_jobs(
            workloads,
            arguments=arguments,
            main_class=main_class,
            jars=jars,
            py_files=py_files,
            files=files,
            conf=conf,
            image=own_image,
            executors=executors,
            operator_version=operator_version,
            egress=egress,
        )
        selected, submissions = list(jobs.workloads), jobs.submissions
        make_tracer = record_lib.tracer_factory(tracer, note)
    shape = RunShape(
        image, pod_security, topology, executors, egress=egress, submissions=submissions
    )
    if make_tracer is not None or verify:
        engines = parse_engine_choices(runtime, oci_runtime, node)
        if len({(e.node, e.engine) for e in engines}) > len({e.node for e in engines}):
            raise UsageError("record runs on one engine per node", "pass one --runtime")
        made: dict[EngineChoice, Backend] = {}

        def backend_for(choice: EngineChoice) -> Backend:
            if choice not in made:
                made[choice] = make_backend(backend_choice, note, engine=choice)
            return made[choice]

        backends = [backend_for(e) for e in engines] if make_tracer is not None else []
        if verify:
            verifiers = _verifiers(engines, verify_node, backend_choice, backend_for)
        first = (backends or verifiers)[0]
        shape = shape.with_engine(engines[0]).on(first, note)
    plan = record_lib.RecordPlan(
        workloads=tuple(selected), shape=shape, runs=runs, timeout_seconds=timeout
    )
    explicit = (
        any(record_lib.needs_explicit_errno(b, image) for b in {*backends, *verifiers})
        if backends or verifiers
        else False
    )
    # Recordings read back ran on an image this run cannot know, unless --image says so.
    spark_versions = (
        record_lib.recorded_spark_versions(next(iter([*backends, *verifiers]), None), image)
        if make_tracer is not None or image_given
        else ()
    )
    options = record_lib.DeriveOptions(
        errno=errno,
        arches=arches,
        allow=tuple(allow),
        explicit_errno=explicit,
        spark_versions=spark_versions,
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
            verify_on=verifiers,
            probe_on=verifiers if runtime_probe and make_tracer is not None else (),
        )
    for line in outcome.warnings:
        note(f"warning: {line}")
    verifications = outcome.verifications or (
        (outcome.verification,) if outcome.verification else ()
    )
    for verification in verifications:
        if len(verifications) > 1 and verification.runtime:
            console.print(f"verified on {verification.runtime}:", highlight=False)
        console.print(render_table(verification))
    if not outcome.verified:
        fix = f"see the verification table above and {root}/verify; the candidates are in {root}"
        recorded_on = {e.label for e in engines} if make_tracer is not None else set()
        failed_elsewhere = sorted(
            v.runtime
            for v in verifications
            if not v.passed and v.runtime and v.runtime not in recorded_on
        )
        if failed_elsewhere and make_tracer is not None:
            # A newer runc calls what an older one never did after the filter (runc 1.3's
            # openat2): only runs under it can show that.
            fix += (
                f"; it failed on {', '.join(failed_elsewhere)}, where nothing was recorded: "
                "record there too (e.g. --node host,sid), or verify on the host alone "
                "(--verify-node host)"
            )
        raise VerificationFailed(
            f"the derived profile breaks a workload, so it was not written to {out}", fix
        )
    written = _write_profiles(out, outcome.profiles)
    union = outcome.union
    from profiler.tracing.runtime_probe import PROBE_PREFIX

    probes = [w for w in union.summary.workloads if w.startswith(PROBE_PREFIX)]
    runs_of = {w: n for w, n in union.summary.workloads.items() if w not in probes}
    console.print(
        f"wrote {out}: {len(union.profile.allowed())} syscalls allowed from "
        f"{sum(runs_of.values())} run(s) of {len(runs_of)} workload(s)"
        + (f" and {len(probes)} runtime probe(s)" if probes else ""),
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


def _verifiers(
    engines: list[EngineChoice],
    verify_node: str | None,
    backend_choice: str,
    backend_for: Callable[[EngineChoice], Backend],
) -> list[Backend]:
    """The backends ``record`` verifies on: the recording engines and, by default, the
    newest node's runc and crun. A default node that cannot be started here (not root,
    no mmdebstrap) is said and left out; one named with --verify-node is required."""
    if backend_choice.lower() == "local":
        return [backend_for(e) for e in engines]
    verifiers = []
    for choice in verification_choices(engines, verify_node):
        try:
            verifiers.append(backend_for(choice))
        except EnvironmentProblem as exc:
            if verify_node is not None or choice in engines:
                raise
            note(
                f"not verifying on {choice.label}: {exc.diagnostics()} "
                "(`--verify-node host` verifies on the host alone)"
            )
    return verifiers


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
    from profiler.tracing.runtime_probe import probe_workload

    for label, names in sorted(summary.oci_runtime_only.items()):
        if probe_workload(label) in summary.workloads:
            note(
                f"what {label}'s OCI runtime calls after the filter, seen in one probe "
                f"container and added: {', '.join(names)}"
            )
        else:
            note(f"only the runs under {label} made: {', '.join(names) or 'none'}")
    if explicit:
        note(
            "this engine ignores defaultErrnoRet: denied syscalls are listed with an explicit errnoRet"
        )
