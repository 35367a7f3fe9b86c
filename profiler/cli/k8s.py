"""`spark-seccomp k8s ...`: SparkApplication manifests, node profile installers, linting,
and dry-runs of a SparkApplication's security settings in the local Docker engine."""

from __future__ import annotations

from pathlib import Path

import typer

from profiler.cli.common import (
    OCI_RUNTIME_OPTION,
    RUNTIME_OPTION,
    console,
    note,
    one_engine,
    output_file,
    progress,
    write_atomically,
)
from profiler.cli.dry_run_view import show_dry_run
from profiler.errors import EXIT_FAILED, UsageError
from profiler.image import DEFAULT_SPARK_VERSION
from profiler.k8s import dry_run, formats, install, lint, paths, plan, recording, sarif, sparkapp
from profiler.k8s.manifests import load_documents, render
from profiler.k8s.operator import DEFAULT_OPERATOR_VERSION, operator_for
from profiler.k8s.rules import Severity
from profiler.k8s.spo import SpoApi
from profiler.output import (
    check_distinct_outputs,
    check_output_dir,
    check_output_path,
    is_stdout,
)
from profiler.paths import run_folder
from profiler.seccomp.profile import load_profile_text, role_profile_path

app = typer.Typer(
    help="Kubernetes: SparkApplication manifests, profile installers, lint, dry-runs."
)

OUT_OPTION = typer.Option(
    None, "--out", "-o", help="Write here instead of stdout.", parser=output_file, metavar="<path>"
)
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
WEBHOOK_OPTION = typer.Option(
    True,
    "--operator-webhook/--no-operator-webhook",
    help="Whether the operator's mutating webhook runs (chart value webhook.enable); without "
    "it the CRD's pod fields never reach the pods.",
)


def _check_out(out: Path | None) -> None:
    """The --out path is checked before the work (``profiler.output``); ``-`` is stdout."""
    if out is not None:
        check_output_path(out, stdout_ok=True)


def _emit(text: str, out: Path | None) -> None:
    if out is None or is_stdout(out):
        typer.echo(text, nl=False)
    else:
        write_atomically(out, text)
        console.print(f"wrote {out}", highlight=False, soft_wrap=True)


@app.command("sparkapp")
def sparkapp_command(
    main: str = typer.Option(
        ..., "--main", help="mainApplicationFile, e.g. local:///opt/app/job.py."
    ),
    image: str = typer.Option(
        None, "--image", help="Spark image [default: spark-seccomp/spark:<--spark-version>]."
    ),
    profile: Path = typer.Option(None, "--profile", help="One profile for driver and executors."),
    driver_profile: Path = typer.Option(None, "--driver-profile", help="The driver's profile."),
    executor_profile: Path = typer.Option(
        None, "--executor-profile", help="The executors' profile."
    ),
    seccomp: sparkapp.Seccomp = typer.Option(
        sparkapp.Seccomp.LOCALHOST,
        "--seccomp",
        help="localhost (recorded profiles on the nodes) or runtime-default.",
    ),
    style: sparkapp.Style = typer.Option(
        None,
        "--style",
        help="template: driver/executor pod templates (operator 2.1.0+, Spark 3+); fields: "
        "the CRD's security fields [default: template where possible].",
    ),
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
    _check_out(out)
    driver_ref, executor_ref = _profile_refs(
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
    notes = sparkapp.check_spec(spec)
    text = render([sparkapp.build_sparkapp(spec)])
    for message in notes:
        note(message if message.startswith("warning:") else f"note: {message}")
    _emit(text, out)


def _profile_refs(
    seccomp: sparkapp.Seccomp,
    profile: Path | None,
    driver: Path | None,
    executor: Path | None,
    profile_dir: str,
    spo: bool,
) -> tuple[str | None, str | None]:
    if seccomp is sparkapp.Seccomp.RUNTIME_DEFAULT:
        if profile or driver or executor:
            raise UsageError(
                "--seccomp runtime-default takes no profile",
                "drop the profile options or use --seccomp localhost",
            )
        return None, None
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
    return refs[0], refs[1]


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
    pause_image: str = typer.Option(install.DEFAULT_PAUSE_IMAGE, "--pause-image"),
    spo: bool = SPO_OPTION,
    spo_api_version: SpoApi = SPO_API_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Write manifests that put profiles on every node.

    A ConfigMap and a DaemonSet copying the profiles to <kubelet-root>/seccomp/<dir>/, or,
    with --spo, one SeccompProfile per profile for the Security Profiles Operator.
    """
    _check_out(out)
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
    _emit(render(manifests), out)
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
    _check_out(out)
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
    _emit(recording_text, out)
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


FAIL_ON_CHOICES = ("error", "warning", "info", "never")


@app.command("lint")
def lint_command(
    files: list[Path] = typer.Argument(..., help="YAML manifests (multi-document)."),
    profiles_dir: Path = typer.Option(
        None,
        "--profiles",
        help="Directory of profiles; Localhost profiles not found here are findings.",
    ),
    output_format: str = typer.Option("text", "--format", "-f", help="text, json or sarif."),
    fail_on: str = typer.Option(
        "error", "--fail-on", help="Exit 1 on a finding at or above: error, warning, info, never."
    ),
    operator_version: str = OPERATOR_VERSION_OPTION,
    webhook: bool = WEBHOOK_OPTION,
    out: Path = OUT_OPTION,
) -> None:
    """Find seccomp and PSS "restricted" problems in SparkApplication and pod workloads.

    SparkApplications are read the way the given Spark Operator release builds their
    pods. Wrong-typed fields and duplicate keys are findings; every other file and the
    rest of each document are still linted. Exit 0 when no finding reaches --fail-on, 1
    when one does, 2 when a file or part of one could not be read (missing, not UTF-8,
    broken YAML: the findings of everything readable are printed first).
    """
    _check_out(out)
    if output_format not in ("text", "json", "sarif"):
        raise UsageError(f"unknown format {output_format!r}", "choose text, json or sarif")
    if fail_on not in FAIL_ON_CHOICES:
        raise UsageError(f"unknown --fail-on {fail_on!r}", f"choose {', '.join(FAIL_ON_CHOICES)}")
    model = operator_for(operator_version, webhook=webhook)
    for message in model.notes:
        note(f"note: {message}")
    report = lint.lint_files(files, profiles_dir, model)
    if output_format == "json":
        text = formats.to_json(report)
    elif output_format == "sarif":
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
    _emit(text, out)
    note(formats.summary(report))
    if fail_on != "never" and report.at_or_above(Severity(fail_on)):
        raise typer.Exit(EXIT_FAILED)


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
        ..., help="YAML files with SparkApplications or ScheduledSparkApplications."
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
    timeout: float = typer.Option(600, "--timeout", min=1, help="Seconds before a run is killed."),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where run logs go [default: runs/dry-run-<time>]."
    ),
    json_out: Path = typer.Option(
        None,
        "--json",
        help="Also write plan and results as JSON here.",
        parser=output_file,
        metavar="<path>",
    ),
    junit_out: Path = typer.Option(
        None, "--junit", help="Also write JUnit XML here.", parser=output_file, metavar="<path>"
    ),
    no_diagnose: bool = typer.Option(
        False, "--no-diagnose", help="Do not rerun a failing role in complain mode."
    ),
    runtime: str = RUNTIME_OPTION,
    oci_runtime: str = OCI_RUNTIME_OPTION,
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
    for out in (json_out, junit_out):
        if out is not None:
            check_output_path(out, what="output")
    check_distinct_outputs({"--json": json_out, "--junit": junit_out})
    if run_dir is not None:
        check_output_dir(run_dir)
    model = operator_for(operator_version, webhook=webhook)
    apps = plan.plan_files(
        files, profiles_dir=profiles_dir, operator=model, image=image, max_executors=executors
    )
    reports = None
    root = run_folder("dry-run", run_dir)
    if not plan_only:
        from profiler.runtime.select import make_engine

        engine = one_engine(runtime, oci_runtime)
        reports = dry_run.run_plans(
            apps,
            lambda: make_engine(engine),
            workload=workload,
            image_from_manifest=image is None,
            timeout_seconds=timeout,
            run_root=root,
            progress=progress,
            diagnose=not no_diagnose,
        )
    show_dry_run(apps, reports)
    if json_out:
        write_atomically(json_out, dry_run.reports_to_json(apps, reports))
    if junit_out:
        write_atomically(junit_out, dry_run.reports_to_junit(apps, reports))
    if reports is not None and any(r.plan.runnable for r in reports):
        note(f"run logs in {root}")
    passed = (
        all(r.passed for r in reports) if reports is not None else all(a.runnable for a in apps)
    )
    if not passed:
        raise typer.Exit(EXIT_FAILED)
