"""`spark-seccomp k8s ...`: SparkApplication manifests, node profile installers, linting,
and dry-runs of a SparkApplication's security settings in the local Docker engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.table import Table

from profiler.cli.base import App
from profiler.cli.choices import Engines, OciRuntimes
from profiler.cli.common import (
    EGRESS_OPTION,
    ERRNO_OPTION,
    NODE_OPTION,
    OCI_RUNTIMES_OPTION,
    RUNTIME_PROBE_OPTION,
    RUNTIMES_OPTION,
    TRACER_OPTION,
    console,
    note,
    one_engine,
    output_file,
    progress,
    progress_reporter,
    run_dir_option,
    stdout,
    timeout_option,
    write_atomically,
)
from profiler.cli.dry_run_view import dry_run_blocks
from profiler.cli.results import (
    OUT_OPTION,
    RunReportFormat,
    check_out,
    emit,
    emit_blocks,
    emit_table,
    format_option,
    plan_outputs,
    write_reports,
)
from profiler.errors import EXIT_FAILED, UsageError
from profiler.image import DEFAULT_SPARK_VERSION
from profiler.k8s import dry_run, formats, install, lint, paths, plan, recording, sarif, sparkapp
from profiler.k8s.manifests import load_documents, manifest_inputs, render
from profiler.k8s.operator import DEFAULT_OPERATOR_VERSION, operator_for
from profiler.k8s.rules import RULES, FailOn, parse_rule_ids
from profiler.k8s.spo import SpoApi
from profiler.output import check_distinct_outputs, check_output_dir, check_output_path
from profiler.paths import run_folder
from profiler.seccomp.profile import load_profile_text, role_profile_path
from profiler.vocabulary import DeniedErrno, TracerName

if TYPE_CHECKING:
    from profiler.runtime.interface import Backend
    from profiler.runtime.run_shape import EngineChoice

app = App(help="Kubernetes: SparkApplication manifests, profile installers, lint, dry-runs.")

PROFILE_DIR_OPTION = typer.Option(
    paths.DEFAULT_PROFILE_DIR,
    "--profile-dir",
    help="Directory under <kubelet-root>/seccomp holding the profiles.",
)
SPO_OPTION = typer.Option(
    False,
    "--spo",
    help="Profiles are SeccompProfile resources of the Security Profiles Operator (v0.9+).",
)
SPO_API_OPTION = typer.Option(
    SpoApi.V1,
    "--spo-api-version",
    help="v1 (SPO 1.x, its storage version) or v1beta1 (SPO 0.x).",
)


OPERATOR_VERSION_OPTION = typer.Option(
    None,
    "--operator-version",
    help=f"Spark Operator release to model [default: {DEFAULT_OPERATOR_VERSION}, the newest "
    "whose source was read].",
)
SECCOMP_OPTION = typer.Option(
    sparkapp.Seccomp.LOCALHOST,
    "--seccomp",
    help="localhost: a Localhost profile per role on the nodes; runtime-default: the "
    "runtime's own, no node profiles.",
)
STYLE_OPTION = typer.Option(
    None,
    "--style",
    help="template: the driver/executor pod templates (operator 2.1.0+, Spark 3+); fields: "
    "the CRD's security fields [default: template where the operator and Spark allow it].",
)
WEBHOOK_OPTION = typer.Option(
    True,
    "--operator-webhook/--no-operator-webhook",
    help="Whether the operator's mutating webhook runs (chart value webhook.enable); without "
    "it the CRD's pod fields never reach the pods.",
)


@app.command("sparkapp")
def sparkapp_command(
    main: str = typer.Option(
        ..., "--main", help="mainApplicationFile, e.g. local:///opt/app/job.py."
    ),
    image: str = typer.Option(
        None,
        "--image",
        help="Spark image the cluster pulls, e.g. registry.example.com/spark:3.5.9 [default: "
        "spark-seccomp/spark:<--spark-version>, this machine's image: a warning says so].",
    ),
    profile: Path = typer.Option(None, "--profile", help="One profile for driver and executors."),
    driver_profile: Path = typer.Option(None, "--driver-profile", help="The driver's profile."),
    executor_profile: Path = typer.Option(
        None, "--executor-profile", help="The executors' profile."
    ),
    seccomp: sparkapp.Seccomp = SECCOMP_OPTION,
    style: sparkapp.Style = STYLE_OPTION,
    name: str = typer.Option("pyspark-job", "--name", help="metadata.name."),
    namespace: str = typer.Option(None, "--namespace", "-n", help="metadata.namespace."),
    spark_version: str = typer.Option(
        DEFAULT_SPARK_VERSION, "--spark-version", help="sparkVersion, e.g. 3.5.7 or 4.0.1."
    ),
    service_account: str = typer.Option(
        sparkapp.DEFAULT_SERVICE_ACCOUNT, "--service-account", help="The driver's service account."
    ),
    executors: int = typer.Option(1, "--executors", help="Executor instances (at least 1)."),
    arguments: list[str] = typer.Option(
        None, "--arg", help="An application argument (repeat for more)."
    ),
    profile_dir: str = PROFILE_DIR_OPTION,
    spo: bool = SPO_OPTION,
    operator_version: str = OPERATOR_VERSION_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Write a SparkApplication whose pods pass PSS "restricted" under the given profiles.

    The localhostProfile paths match where `k8s install` (with the same --profile-dir or
    --spo) puts the files. Names, namespace, counts, image, main file and versions are
    checked first, and the output is validated before it is written.
    """
    check_out(out)
    (driver_ref, executor_ref), used = _profile_refs(
        seccomp, profile, driver_profile, executor_profile, profile_dir, spo
    )
    spec = sparkapp.SparkAppSpec(
        name=name,
        image=image if image is not None else sparkapp.default_image(spark_version),
        main_application_file=main,
        spark_version=spark_version,
        namespace=namespace,
        style=style,
        seccomp=seccomp,
        driver_profile=driver_ref,
        executor_profile=executor_ref,
        service_account=service_account,
        executor_instances=executors,
        arguments=tuple(arguments or ()),
        operator=operator_for(operator_version),
    )
    notes = [*sparkapp.check_spec(spec), *sparkapp.spark_line_warnings(used, spark_version)]
    if image is None:
        notes.append(sparkapp.local_image_warning(spec.image))
    text = render([sparkapp.build_sparkapp(spec)])
    for message in notes:
        note(message if message.startswith("warning:") else f"note: {message}")
    emit(text, out)


def _profile_refs(
    seccomp: sparkapp.Seccomp,
    profile: Path | None,
    driver: Path | None,
    executor: Path | None,
    profile_dir: str,
    spo: bool,
) -> tuple[tuple[str | None, str | None], tuple[Path, ...]]:
    """Each role's localhostProfile, and the profile files they come from."""
    if seccomp is sparkapp.Seccomp.RUNTIME_DEFAULT:
        if profile or driver or executor:
            raise UsageError(
                "--seccomp runtime-default takes no profile",
                "drop the profile options or use --seccomp localhost",
            )
        return (None, None), ()
    if profile and (driver or executor):
        raise UsageError(
            "--profile sets both roles", "pass either --profile or --driver/--executor-profile"
        )
    if profile:
        # What `record` wrote in pod shape: each role's own profile beside the union.
        beside = [role_profile_path(profile, role) for role in ("driver", "executor")]
        driver, executor = (
            (beside[0], beside[1]) if all(p.is_file() for p in beside) else (profile, profile)
        )
        if driver != profile:
            note(f"note: the driver and executors use {beside[0]} and {beside[1]}")
    if driver is None or executor is None:
        raise UsageError(
            "localhost seccomp needs a profile for the driver and the executors",
            "pass --profile FILE, or --driver-profile and --executor-profile",
        )
    directory = paths.SPO_PROFILE_DIR if spo else profile_dir
    refs = []
    for path in (driver, executor):
        load_profile_text(path)  # fail here, not on the node
        refs.append(paths.localhost_profile(paths.node_file_name(path, spo=spo), directory))
    return (refs[0], refs[1]), (driver, executor)


# install's options that only the DaemonSet installer uses (the operator places SPO's files).
INSTALLER_ONLY = ("namespace", "kubelet_root", "profile_dir", "image", "pause_image")


def _given(ctx: typer.Context, name: str) -> bool:
    source = ctx.get_parameter_source(name)
    return source is not None and source.name == "COMMANDLINE"


def _option(ctx: typer.Context, name: str) -> str:
    return next(p.opts[0] for p in ctx.command.params if p.name == name)


def _refuse_unused_install_options(ctx: typer.Context, spo: bool) -> None:
    """Options the chosen installer would silently ignore are a usage error."""
    if spo:
        for name in INSTALLER_ONLY:
            if _given(ctx, name):
                option = _option(ctx, name)
                raise UsageError(
                    f"{option} is for the DaemonSet installer; with --spo the Security "
                    "Profiles Operator places the profiles",
                    f"drop {option}, or drop --spo",
                )
    elif _given(ctx, "spo_api_version"):
        raise UsageError(
            "--spo-api-version only applies with --spo", "add --spo, or drop --spo-api-version"
        )


@app.command("install")
def install_command(
    ctx: typer.Context,
    profiles: list[Path] = typer.Argument(..., help="OCI seccomp profiles (*.json)."),
    namespace: str = typer.Option(
        install.DEFAULT_NAMESPACE,
        "--namespace",
        "-n",
        help="Namespace of the ConfigMap and DaemonSet (must allow hostPath pods).",
    ),
    kubelet_root: str = typer.Option(
        paths.DEFAULT_KUBELET_ROOT, "--kubelet-root", help="The kubelet's --root-dir on nodes."
    ),
    profile_dir: str = PROFILE_DIR_OPTION,
    image: str = typer.Option(
        install.DEFAULT_IMAGE, "--image", help="Image with /bin/sh, cp and mv for the copy."
    ),
    pause_image: str = typer.Option(
        install.DEFAULT_PAUSE_IMAGE,
        "--pause-image",
        help="Image the DaemonSet idles in once the profiles are copied.",
    ),
    spo: bool = SPO_OPTION,
    spo_api_version: SpoApi = SPO_API_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Write manifests that put profiles on every node.

    A ConfigMap and a DaemonSet copying the profiles to <kubelet-root>/seccomp/<dir>/, or,
    with --spo, one SeccompProfile per profile for the Security Profiles Operator.
    """
    check_out(out)
    _refuse_unused_install_options(ctx, spo)
    node_profiles: list[install.NodeProfile] = []
    given = list(profiles)
    for path in given:
        # The names first: the role profiles beside a profile are found from its name.
        paths.node_file_name(path, spo=spo)
    for path in list(given):
        # A union recorded in pod shape brings its role profiles: install those too.
        for role in ("driver", "executor"):
            beside = role_profile_path(path, role)
            if beside.is_file() and beside not in given:
                given.append(beside)
                note(f"note: installing {beside} too (the {role} profile beside {path})")
    for path in given:
        file_name = paths.node_file_name(path, spo=spo)
        if any(p.file_name == file_name for p in node_profiles):
            raise UsageError(
                f"two profiles would both be installed as {file_name}", "rename one of them"
            )
        node_profiles.append(install.NodeProfile(file_name, load_profile_text(path)))
    if spo:
        result = install.build_spo_profiles(node_profiles, spo_api_version)
        for message in result.notes:
            note(f"note: {message}")
        manifests = result.manifests
    else:
        manifests = install.build_installer(
            node_profiles,
            namespace=namespace,
            directory=profile_dir,
            kubelet_root=kubelet_root,
            image=image,
            pause_image=pause_image,
        )
    emit(render(manifests), out)
    directory = paths.SPO_PROFILE_DIR if spo else profile_dir
    for p in sorted(node_profiles, key=lambda p: p.file_name):
        console.print(
            f"localhostProfile: {paths.localhost_profile(p.file_name, directory)}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


@app.command("record")
def record_command(
    manifest: Path = typer.Argument(..., help="YAML file with one SparkApplication."),
    spo: bool = typer.Option(
        False, "--spo", help="Record on the cluster with the Security Profiles Operator."
    ),
    name: str = typer.Option(
        None, "--name", help="The ProfileRecording's name [default: the application's]."
    ),
    recorder: recording.Recorder = typer.Option(
        recording.Recorder.BPF, "--recorder", help="bpf (eBPF) or logs (audit log)."
    ),
    label: str = typer.Option(
        None,
        "--label",
        help=f"key=value both roles' pods get and the recording selects on "
        f"[default: {recording.DEFAULT_LABEL_KEY}=<name>].",
    ),
    spo_api_version: SpoApi = SPO_API_OPTION,
    operator_version: str = OPERATOR_VERSION_OPTION,
    out: Path = OUT_OPTION,
    app_out: Path = typer.Option(
        None,
        "--app-out",
        help="Write the SparkApplication with the labels it needs here.",
        parser=output_file,
        metavar="<path>",
    ),
) -> None:
    """Write an SPO ProfileRecording for a SparkApplication's driver and executor pods.

    The recording selects the pods by the labels Spark and the operator put on them plus
    one label the SparkApplication must carry on both roles (printed, and written with
    --app-out). SPO merges each container's recordings into <name>-spark-kubernetes-driver
    and <name>-spark-kubernetes-executor; `spark-seccomp profile import` reads them back.
    """
    if not spo:
        raise UsageError(
            "k8s record writes Security Profiles Operator recordings: pass --spo",
            "to record on this machine use `spark-seccomp record`",
        )
    documents = [item for item in load_documents(manifest) if _is_app(item.data)]
    if len(documents) != 1:
        raise UsageError(
            f"{manifest} holds {len(documents)} SparkApplications",
            "pass a file with exactly one (Scheduled)SparkApplication",
        )
    if documents[0].duplicates:
        dup = documents[0].duplicates[0]
        raise UsageError(f"{manifest}:{dup.line}: a key is written twice", "remove one of the two")
    check_distinct_outputs({"--out": out, "--app-out": app_out})
    # Both outputs are checked before either is written: a bad --out must not leave a
    # written --app-out behind.
    check_out(out)
    if app_out is not None:
        check_output_path(app_out, what="--app-out output")
    result = recording.build_recording(
        documents[0].data,
        name=name,
        recorder=recorder,
        label=label,
        api=spo_api_version,
        operator=operator_for(operator_version),
        source=str(manifest),
    )
    recording_text = render([result.recording])
    app_text = render([result.app])
    if app_out is not None:
        write_atomically(app_out, app_text)
        console.print(f"wrote {app_out}", highlight=False, soft_wrap=True)
    emit(recording_text, out)
    for key, value in result.pod_labels:
        note(f"label on spec.driver.labels and spec.executor.labels: {key}: {value}")
    note("annotations: none needed (SPO's webhook adds its own)")
    for profile_name in result.profiles:
        note(f"SPO will write SeccompProfile {profile_name}")
    for message in result.notes:
        note(f"note: {message}")


def _is_app(data: object) -> bool:
    return isinstance(data, dict) and data.get("kind") in (
        "SparkApplication",
        "ScheduledSparkApplication",
    )


MANIFESTS_HELP = (
    "YAML manifests (multi-document), directories of them (*.yaml and *.yml, read "
    "recursively), or - for standard input."
)


@app.command("lint")
def lint_command(
    files: list[Path] = typer.Argument(None, help=MANIFESTS_HELP, show_default=False),
    profiles_dir: Path = typer.Option(
        None,
        "--profiles",
        help="Directory of profiles; Localhost profiles not found here are findings.",
    ),
    output_format: formats.LintFormat = format_option(
        formats.LintFormat.TEXT, "How findings are written."
    ),
    fail_on: FailOn = typer.Option(
        FailOn.ERROR, "--fail-on", help="Exit 1 on a finding of this severity or above."
    ),
    disable: list[str] = typer.Option(
        [],
        "--disable",
        metavar="RULE[,RULE]",
        help="Turn these rules off for this run (comma-separated or repeated; ids from "
        "--list-rules).",
    ),
    list_rules: bool = typer.Option(
        False,
        "--list-rules",
        help="List the rules (id, severity, what each finds) and exit; --format json for "
        "the fixes too.",
    ),
    operator_version: str = OPERATOR_VERSION_OPTION,
    webhook: bool = WEBHOOK_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Find seccomp and PSS "restricted" problems in SparkApplication, SparkConnect and pod
    workloads.

    SparkApplications are read the way the given Spark Operator release builds their
    pods; a SparkConnect's server and executor pods from their templates. Wrong-typed
    fields and duplicate keys are findings; every other file and the rest of each document
    are still linted. Exit 0 when no finding reaches --fail-on, 1 when one does, 2 when a
    file or part of one could not be read (missing, not UTF-8, broken YAML: the findings
    of everything readable are printed first).
    """
    check_out(out)
    disabled = parse_rule_ids(disable)
    if list_rules:
        if output_format is formats.LintFormat.SARIF:
            raise UsageError("--list-rules writes text or json", "pass --format text or json")
        if output_format is formats.LintFormat.JSON:
            emit(formats.rules_to_json(), out)
        else:
            emit_table(render_rules(), out)
        return
    inputs = manifest_inputs(files or [])
    model = operator_for(operator_version, webhook=webhook)
    for message in model.notes:
        note(f"note: {message}")
    for line in inputs.describe():
        note(line)
    report = lint.lint_files(inputs.files, profiles_dir, model, disabled)
    if output_format is formats.LintFormat.JSON:
        text = formats.to_json(report)
    elif output_format is formats.LintFormat.SARIF:
        text = sarif.to_sarif(report)
    else:
        text = formats.to_text(report)
    if report.unreadable:
        # Never a findings file for input that was only partly read: print, then fail.
        typer.echo(text, nl=False)
        note(formats.summary(report))
        raise UsageError(
            "could not read " + "; ".join(u.describe() for u in report.unreadable),
            "fix it and lint again; everything readable was linted",
        )
    emit(text, out)
    note(formats.summary(report))
    threshold = fail_on.severity
    if threshold is not None and report.at_or_above(threshold):
        raise typer.Exit(EXIT_FAILED)


def render_rules() -> Table:
    table = Table("rule", "severity", "what it finds")
    for rule in RULES:
        table.add_row(rule.id, rule.severity.value, escape(rule.title))
    return table


# dry-run's options that only the run uses: with --plan nothing runs.
RUN_ONLY = ("workload", "timeout", "run_dir", "no_diagnose", "runtime", "oci_runtime")


def _refuse_run_options(ctx: typer.Context) -> None:
    for name in RUN_ONLY:
        if _given(ctx, name):
            option = _option(ctx, name)
            raise UsageError(
                f"{option} only applies to the run, and --plan runs nothing",
                f"drop {option}, or drop --plan",
            )


@app.command("dry-run")
def dry_run_command(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(
        None,
        help="YAML files with SparkApplications or ScheduledSparkApplications, directories "
        "of them (*.yaml and *.yml, read recursively), or - for standard input.",
        show_default=False,
    ),
    profiles_dir: Path = typer.Option(
        None,
        "--profiles",
        help="Stands for <kubelet-root>/seccomp: localhostProfile paths are resolved under "
        "it [needed only when a Localhost profile is referenced].",
    ),
    operator_version: str = OPERATOR_VERSION_OPTION,
    webhook: bool = WEBHOOK_OPTION,
    workload: str = typer.Option(
        None,
        "--workload",
        help="Catalogue name or .py script to run instead of mainApplicationFile "
        "[default: mainApplicationFile: local:// runs from inside the image, a path from here].",
    ),
    image: str = typer.Option(
        None,
        "--image",
        help="Spark image to run [default: each role's image from the manifest].",
    ),
    executors: int = typer.Option(
        2, "--executors", min=1, help="Plan at most this many executor containers per app."
    ),
    plan_only: bool = typer.Option(
        False, "--plan", help="Print the plan (resources, mounts, env, seccomp) and run nothing."
    ),
    timeout: float = timeout_option(600),
    run_dir: Path = run_dir_option("dry-run"),
    output_format: RunReportFormat = format_option(
        RunReportFormat.TEXT,
        "text: the plan or results table; json or junit: what --json or --junit writes.",
    ),
    out: Path = OUT_OPTION,
    json_out: Path = typer.Option(
        None,
        "--json",
        help="Also write plan and results as JSON to this file (- is stdout).",
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
    no_diagnose: bool = typer.Option(
        False, "--no-diagnose", help="Do not rerun a failing role in complain mode."
    ),
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = NODE_OPTION,
    egress: bool = EGRESS_OPTION,
) -> None:
    """Will a SparkApplication, as written, run under its own security settings?

    Each application is planned the way the given Spark Operator release builds its pods:
    the Spark conf (sparkConf, hadoopConf, cores, memory, instances...), each role's
    effective security context (template or CRD fields), seccomp resolved as the kubelet
    would, env, CPU and memory limits as Spark computes them, emptyDir and hostPath mounts.
    A Localhost profile missing under --profiles fails its role as the kubelet would
    (CreateContainerError) without starting anything. --plan stops there.

    Otherwise the application runs as its pods would: a driver container and the
    manifest's executor containers (at most --executors) on a private network, through the
    image's own entrypoint, each with its role's settings; mainApplicationFile runs from
    inside the image (local://) or from this machine, with spec.arguments and the conf. A
    role that fails is rerun in complain mode to name the denied call (--no-diagnose skips
    it); what cannot be emulated (ConfigMaps, Secrets, PVCs, remote files) is listed.

    Exit 0 when every role passes (or, with --plan, can start), 1 when one fails, 2 for
    usage errors, 3 when the engine or the image is missing.
    """
    if plan_only:
        _refuse_run_options(ctx)
    human = plan_outputs(output_format, out, {"--json": json_out, "--junit": junit_out})
    check_distinct_outputs({"--out": out, "--json": json_out, "--junit": junit_out})
    if run_dir is not None:
        check_output_dir(run_dir)
    inputs = manifest_inputs(files or [])
    model = operator_for(operator_version, webhook=webhook)
    for line in inputs.describe():
        note(line)
    apps = plan.plan_files(
        inputs.files,
        profiles_dir=profiles_dir,
        operator=model,
        image=image,
        max_executors=executors,
    )
    reports = None
    root = run_folder("dry-run", run_dir)
    if not plan_only:
        from profiler.runtime.select import make_engine

        engine = one_engine(runtime, oci_runtime, node)
        reports = dry_run.run_plans(
            apps,
            lambda: make_engine(engine),
            workload=workload,
            image_from_manifest=image is None,
            timeout_seconds=timeout,
            run_root=root,
            progress=progress,
            diagnose=not no_diagnose,
            egress=egress,
        )
    blocks = dry_run_blocks(apps, reports)
    as_json = dry_run.reports_to_json(apps, reports)
    as_junit = dry_run.reports_to_junit(apps, reports)
    if output_format is RunReportFormat.TEXT:
        emit_blocks(blocks, out, human)
    else:
        emit_blocks(blocks, None, human)
        emit(as_json if output_format is RunReportFormat.JSON else as_junit, out)
    write_reports([(json_out, as_json), (junit_out, as_junit)])
    if reports is not None and any(r.plan.runnable for r in reports):
        note(f"run logs in {root}")
    passed = (
        all(r.passed for r in reports) if reports is not None else all(a.runnable for a in apps)
    )
    if not passed:
        raise typer.Exit(EXIT_FAILED)


@app.command("harden")
def harden_command(
    files: list[Path] = typer.Argument(
        ..., help="YAML files with SparkApplications or ScheduledSparkApplications."
    ),
    out_dir: Path = typer.Option(
        ...,
        "--out-dir",
        help="Where <name>.yaml, seccomp/ (the tree for <kubelet-root>/seccomp) and "
        "install.yaml go.",
    ),
    seccomp: sparkapp.Seccomp = SECCOMP_OPTION,
    style: sparkapp.Style = STYLE_OPTION,
    runs: int = typer.Option(1, "--runs", min=1, help="Recordings per application."),
    image: str = typer.Option(
        None, "--image", help="Spark image to run [default: each role's image from the manifest]."
    ),
    executors: int = typer.Option(
        2, "--executors", min=1, help="Run at most this many executor pods per application."
    ),
    tracer: TracerName = TRACER_OPTION,
    errno: DeniedErrno = ERRNO_OPTION,
    allow: list[str] = typer.Option(
        [], "--allow", help="Allow a risky call the review held back (repeatable)."
    ),
    profile_dir: str = PROFILE_DIR_OPTION,
    spo: bool = SPO_OPTION,
    spo_api_version: SpoApi = SPO_API_OPTION,
    operator_version: str = OPERATOR_VERSION_OPTION,
    webhook: bool = WEBHOOK_OPTION,
    timeout: float = timeout_option(600),
    run_dir: Path = run_dir_option("harden", "Traces and run logs"),
    no_diagnose: bool = typer.Option(
        False, "--no-diagnose", help="Do not rerun a failing role in complain mode."
    ),
    runtime: Engines = RUNTIMES_OPTION,
    oci_runtime: OciRuntimes = OCI_RUNTIMES_OPTION,
    node: str = NODE_OPTION,
    egress: bool = EGRESS_OPTION,
    runtime_probe: bool = RUNTIME_PROBE_OPTION,
) -> None:
    """Harden SparkApplications with profiles recorded from them, and prove it with a dry-run.

    Each application is recorded as its hardened pods will run (--runs times, in pod shape,
    each role apart), its driver and executor profiles are derived, and DIR/<name>.yaml
    (the same application with a seccompProfile per role, runAsNonRoot with a numeric
    runAsUser, allowPrivilegeEscalation false, all capabilities dropped and a read-only
    root with emptyDirs where Spark writes; every other field, comment and quote kept),
    DIR/seccomp/ (to copy under <kubelet-root>/seccomp) and DIR/install.yaml (the
    DaemonSet of `k8s install`, or SPO SeccompProfiles with --spo) are written together.
    Then the written manifests are dry-run against DIR/seccomp. The diff is printed.

    Exit 0 when every dry-run passes, 1 when one fails (the failure is shown), 2 for usage
    errors, 3 when the engine, the image or the tracer is missing.
    """
    from profiler import record as record_lib
    from profiler.k8s import harden, harden_run
    from profiler.runtime.select import make_engine

    engine = one_engine(runtime, oci_runtime, node)
    options = harden.HardenOptions(
        operator=operator_for(operator_version, webhook=webhook),
        seccomp=seccomp,
        style=style,
        profile_dir=paths.check_profile_dir(profile_dir),
        spo=spo,
    )
    request = harden_run.HardenRequest(
        files=tuple(files),
        out_dir=out_dir,
        options=options,
        image=image,
        executors=executors,
        runs=runs,
        timeout_seconds=timeout,
        derive=record_lib.DeriveOptions(errno=errno, allow=tuple(allow)),
        egress=egress,
        spo_api=spo_api_version,
        diagnose=not no_diagnose,
    )
    root = run_folder("harden", run_dir)
    check_output_dir(root)
    make_tracer = (
        record_lib.tracer_factory(tracer, note) if seccomp is sparkapp.Seccomp.LOCALHOST else None
    )
    with progress_reporter("harden") as on_progress:
        report = harden_run.harden_apps(
            request,
            lambda: make_engine(engine),
            make_tracer=make_tracer,
            run_root=root,
            progress=on_progress,
            note=note,
            probe_engines=(lambda: _newest_node_engines(engine)) if runtime_probe else tuple,
        )
    for outcome in report.outcomes:
        stdout.print(outcome.app.diff(str(outcome.manifest_path)), markup=False, highlight=False)
        for message in outcome.app.notes:
            note(f"note: {outcome.app.label}: {message}")
        sizes = ", ".join(f"{role} {n} calls" for role, n in sorted(outcome.profile_sizes.items()))
        if sizes:
            note(f"{outcome.app.label}: profiles: {sizes}")
    emit_blocks(
        dry_run_blocks(
            [o.dry_run.plan.app for o in report.outcomes if o.dry_run.plan.app],
            [o.dry_run for o in report.outcomes if o.dry_run.plan.app],
        ),
        None,
        stdout,
    )
    for message in report.notes:
        note(f"note: {message}")
    for path in report.written:
        console.print(f"wrote {path}", highlight=False, markup=False, soft_wrap=True)
    note(f"run logs in {root}")
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


def _newest_node_engines(recorded: EngineChoice) -> list[Backend]:
    """The engines `record` verifies on by default besides the one recorded on (the
    newest node's Podman with runc and crun), for the runtime probe; one that cannot start
    here (not root, no mmdebstrap) is said and left out."""
    from profiler.errors import EnvironmentProblem
    from profiler.runtime.select import make_engine, verification_choices

    engines: list[Backend] = []
    for choice in verification_choices([recorded]):
        if choice == recorded:
            continue
        try:
            engines.append(make_engine(choice, note))
        except EnvironmentProblem as exc:
            note(
                f"not probing {choice.label}'s OCI runtime: {exc.diagnostics()} "
                "(the profiles may lack what it calls after the filter)"
            )
    return engines
