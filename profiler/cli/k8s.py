"""`spark-seccomp k8s ...`: SparkApplication manifests, node profile installers, linting,
and dry-runs of a SparkApplication's security settings in the local Docker engine."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import typer
from rich.markup import escape
from rich.table import Table

from profiler.cli.common import console, note, progress, stdout, write_atomically
from profiler.errors import EXIT_FAILED, UsageError
from profiler.image import DEFAULT_SPARK_VERSION
from profiler.k8s import dry_run, formats, install, lint, paths, sarif, sparkapp
from profiler.k8s.manifests import load_documents, render
from profiler.k8s.operator import DEFAULT_OPERATOR_VERSION, operator_for
from profiler.k8s.rules import Severity
from profiler.k8s.spo import SpoApi
from profiler.paths import runs_dir
from profiler.seccomp.profile import load_profile_text

app = typer.Typer(
    help="Kubernetes: SparkApplication manifests, profile installers, lint, dry-runs."
)

OUT_OPTION = typer.Option(None, "--out", "-o", help="Write here instead of stdout.")
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


def _emit(text: str, out: Path | None) -> None:
    if out is None:
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
    driver, executor = (profile, profile) if profile else (driver, executor)
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


@app.command("install")
def install_command(
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
    node_profiles: list[install.NodeProfile] = []
    for path in profiles:
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
    _emit(text, out)
    note(formats.summary(report))
    if report.unreadable:
        raise UsageError(
            "could not read " + "; ".join(u.describe() for u in report.unreadable),
            "fix it and lint again; everything readable was linted",
        )
    if fail_on != "never" and report.at_or_above(Severity(fail_on)):
        raise typer.Exit(EXIT_FAILED)


@app.command("dry-run")
def dry_run_command(
    file: Path = typer.Argument(..., help="YAML file holding one SparkApplication."),
    profiles_dir: Path = typer.Option(
        ...,
        "--profiles",
        help="Stands for <kubelet-root>/seccomp: localhostProfile paths are resolved under it.",
    ),
    workload: str = typer.Option(
        None,
        "--workload",
        help="Catalogue name or .py script to run [default: mainApplicationFile, if it is a "
        "file here; local:// paths are inside the image and need --workload].",
    ),
    image: str = typer.Option(
        None,
        "--image",
        help="Spark image to run [default: the manifest's spec.image, if the engine has it].",
    ),
    timeout: float = typer.Option(600, "--timeout", min=1, help="Seconds before a run is killed."),
    run_dir: Path = typer.Option(
        None, "--run-dir", help="Where run logs go [default: runs/dry-run-<time>]."
    ),
) -> None:
    """Run a SparkApplication's driver and executor security settings locally: will it run?

    Each role becomes one container with the role's seccomp profile (resolved as the
    kubelet would), user and group, capabilities, no-new-privileges, read-only root with
    its emptyDir volumes as tmpfs, and privileged flag. The container runs the whole job in
    Spark local mode, which runs both the driver's and the executor's code paths (the JVM's
    task threads fork the Python workers as an executor pod does), so one job exercises
    each role's settings. A Localhost profile missing under --profiles fails its role as
    the kubelet would (CreateContainerError) without starting a container.

    Exit 0 when both roles pass, 1 when any fails, 2 for usage errors, 3 when the engine
    or the image is missing.
    """
    from profiler.runtime.docker import DockerBackend

    if not profiles_dir.is_dir():
        raise UsageError(
            f"profiles directory {profiles_dir} does not exist",
            "pass the directory that plays <kubelet-root>/seccomp",
        )
    manifest = dry_run.find_sparkapp([d.data for d in load_documents(file)], str(file))
    plan = dry_run.plan_dry_run(
        manifest, profiles_dir, workload=workload, image=image, timeout_seconds=timeout
    )
    root = run_dir or runs_dir() / f"dry-run-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"
    # A role that cannot start needs no engine: its answer comes from the plan alone.
    backend = DockerBackend() if plan.runnable else None
    report = dry_run.run_dry_run(backend, plan, run_root=root, progress=progress)
    stdout.print(render_dry_run(report))
    for outcome in report.outcomes:
        if not outcome.verdict.ok:
            stdout.print(
                f"{outcome.plan.role}: {outcome.error_line}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )
    for message in (*plan.notes, *(f"{r.role}: {n}" for r in plan.roles for n in r.notes)):
        note(f"note: {message}")
    if backend is not None:
        note(f"run logs in {root}")
    if not report.passed:
        raise typer.Exit(EXIT_FAILED)


def render_dry_run(report: dry_run.DryRunReport) -> Table:
    plan = report.plan
    source = "manifest" if plan.image_from_manifest else "--image"
    table = Table(title=f"image: {plan.image} ({source}); job: {plan.workload.name}")
    for column in ("role", "seccomp", "user", "verdict", "time"):
        table.add_column(column, overflow="fold")
    table.add_column("error", overflow="fold", ratio=1)
    for o in report.outcomes:
        verdict = escape(o.verdict.value)
        verdict = f"[green]{verdict}[/green]" if o.verdict.ok else f"[red]{verdict}[/red]"
        time = f"{o.wall_seconds:.1f}s" if o.wall_seconds is not None else "not started"
        table.add_row(
            o.plan.role, escape(o.plan.seccomp), o.plan.user, verdict, time, escape(o.short_error)
        )
    return table
