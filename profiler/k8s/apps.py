"""What record, check, bench and the demo run: catalogue names, scripts and jars given with
their own submission (arguments, ``--conf``, dependencies), and SparkApplication manifests,
each application a workload named ``<namespace>/<name>`` with the run its manifest shapes.

record, check, bench and the demo take a manifest wherever they take a workload and run it
as ``k8s dry-run`` does (``plan`` then ``dry_run.pod_plan``): the manifest's image unless
``--image``, its arguments, sparkConf, hadoopConf, env, dependencies that are files here or in
the image, emptyDir and hostPath volumes, each role's security context, CPU and memory, and
its executor count capped by ``--executors``. Only the seccomp setting is the command's own
(unconfined, runtime-default, the recording filter or the profiles under test), so the
manifest's ``seccompProfile`` is left out of the plan and no profile directory is needed.

Pure: files in, values out; nothing here starts a container.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from profiler import workloads as workloads_lib
from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.manifests import parse_yaml, read_text
from profiler.k8s.operator import Operator, operator_for
from profiler.k8s.plan import AppPlan, plan_app
from profiler.k8s.translate import SPARK_KINDS
from profiler.runtime.interface import Mount, RoleSettings, RunSpec
from profiler.runtime.run_shape import Submission
from profiler.workloads import Workload

MANIFEST_SUFFIXES = (".yaml", ".yml")
# spark-submit's dependency options, as the properties Spark reads (as the operator's deps).
DEPENDENCY_CONF = {
    "jars": "spark.jars",
    "py_files": "spark.submit.pyFiles",
    "files": "spark.files",
}


@dataclass(frozen=True)
class ScriptSubmission:
    """What spark-submit would get beside a script or jar given directly: its arguments,
    ``--class``, ``--jars``, ``--py-files``, ``--files`` (files of this machine) and
    ``--conf`` pairs."""

    arguments: tuple[str, ...] = ()
    main_class: str | None = None
    jars: tuple[Path, ...] = ()
    py_files: tuple[Path, ...] = ()
    files: tuple[Path, ...] = ()
    conf: tuple[tuple[str, str], ...] = ()

    @property
    def given(self) -> bool:
        return any(
            (self.arguments, self.main_class, self.jars, self.py_files, self.files, self.conf)
        )


@dataclass(frozen=True)
class Jobs:
    """The workloads of a command, with what each one's own submission adds."""

    workloads: tuple[Workload, ...]
    submissions: tuple[Submission, ...] = ()
    notes: tuple[str, ...] = ()


def resolve_jobs(
    names: Sequence[str],
    *,
    script: ScriptSubmission = ScriptSubmission(),
    image: str | None = None,
    max_executors: int | None = None,
    operator: Operator | None = None,
    egress: bool = False,
) -> Jobs:
    """Catalogue names, scripts, jars and manifests (``*.yaml``) as workloads; none means
    the catalogue. ``script`` belongs to the one script, jar or catalogue job given beside
    any manifests; ``image`` (``--image``) replaces the manifests' own images."""
    manifests = [Path(n) for n in names if is_manifest(n)]
    jobs = [n for n in names if not is_manifest(n)]
    if script.given and len(jobs) != 1:
        raise UsageError(
            "--arg, --class, --jars, --py-files, --files and --conf belong to one script or jar",
            f"give exactly one besides any manifests (got {len(jobs)})",
        )
    if script.main_class is not None and len(jobs) == 1 and not jobs[0].endswith(".jar"):
        raise UsageError(
            f"--class names the class of a jar, and {jobs[0]} is not one",
            "give a .jar, or drop --class",
        )
    workloads: list[Workload] = []
    submissions: list[Submission] = []
    notes: list[str] = []
    if jobs or not manifests:
        workloads = (
            workloads_lib.resolve_all(jobs)
            if len(jobs) != 1
            else [workloads_lib.resolve(jobs[0], main_class=script.main_class)]
        )
    if script.given:
        submissions.append(script_submission(workloads[0], script))
    for found in manifest_workloads(
        manifests, image=image, max_executors=max_executors, operator=operator, egress=egress
    ):
        workloads.append(found.workload)
        submissions.append(
            Submission(found.workload.name, run=found.template, follows_image=image is not None)
        )
        notes += [f"{found.workload.name}: {n}" for n in found.notes]
    names_seen: set[str] = set()
    for workload in workloads:
        if workload.name in names_seen:
            raise UsageError(f"workload {workload.name!r} given twice", "name each workload once")
        names_seen.add(workload.name)
    return Jobs(tuple(workloads), tuple(submissions), tuple(dict.fromkeys(notes)))


def script_submission(workload: Workload, script: ScriptSubmission) -> Submission:
    """The conf and mounts of a script's own submission: each dependency file of this
    machine is mounted read-only where the pods find it, and handed over as ``local://``."""
    conf = dict(script.conf)
    mounts: list[Mount] = []
    for kind, key in DEPENDENCY_CONF.items():
        uris = []
        for index, path in enumerate(getattr(script, kind)):
            if not Path(path).is_file():
                option = "--" + kind.replace("_", "-")
                raise UsageError(f"{option} {path} does not exist", "give files of this machine")
            target = f"{dry_run.DEPS_DIR}/{kind}-{index}-{Path(path).name}"
            mounts.append(Mount(target, str(Path(path).resolve()), read_only=True))
            uris.append(f"local://{target}")
        if uris:
            conf[key] = ",".join([*([conf[key]] if key in conf else []), *uris])
    return Submission(
        workload.name,
        spark_conf=tuple(sorted(conf.items())),
        app_args=script.arguments,
        mounts=tuple(mounts),
    )


def parse_conf(pairs: Sequence[str]) -> tuple[tuple[str, str], ...]:
    """``--conf key=value`` pairs, as spark-submit takes them."""
    parsed = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(
                f"--conf {pair!r} is not key=value", "e.g. --conf spark.sql.shuffle.partitions=8"
            )
        parsed.append((key.strip(), value))
    return tuple(parsed)


@dataclass(frozen=True)
class ManifestWorkload:
    """One application of a manifest, ready to run under any mode."""

    workload: Workload  # named <namespace>/<name>
    template: RunSpec  # the run the manifest shapes; mode and profiles are the command's
    app: AppPlan
    notes: tuple[str, ...]


def is_manifest(name: str) -> bool:
    """Whether a workload argument names a manifest file rather than a job."""
    return Path(name).suffix.lower() in MANIFEST_SUFFIXES


def manifest_workloads(
    paths: Sequence[Path],
    *,
    image: str | None = None,
    max_executors: int | None = None,
    operator: Operator | None = None,
    timeout_seconds: float = 600.0,
    egress: bool = False,
) -> tuple[ManifestWorkload, ...]:
    """Every (Scheduled)SparkApplication of ``paths``, as workloads."""
    sources = [(str(path), read_text(Path(path))) for path in paths]
    return manifest_workloads_of(
        sources,
        image=image,
        max_executors=max_executors,
        operator=operator,
        timeout_seconds=timeout_seconds,
        egress=egress,
    )


def manifest_workloads_of(
    sources: Sequence[tuple[str, str]],
    *,
    image: str | None = None,
    max_executors: int | None = None,
    operator: Operator | None = None,
    timeout_seconds: float = 600.0,
    egress: bool = False,
) -> tuple[ManifestWorkload, ...]:
    """``manifest_workloads`` of (source name, YAML text) pairs."""
    model = operator or operator_for()
    found: list[ManifestWorkload] = []
    seen: dict[str, str] = {}
    for path, text in sources:
        apps = 0
        stream = parse_yaml(text)
        if stream.problem is not None:
            raise UsageError(f"{path}: {stream.problem.describe()}", "fix the YAML and run again")
        for document in stream.documents:
            data = document.data
            if not isinstance(data, dict) or data.get("kind") not in SPARK_KINDS:
                continue
            if document.duplicates:
                dup = document.duplicates[0]
                raise UsageError(
                    f"{path}:{dup.line}: a key is written twice (also on line {dup.first_line})",
                    "remove one of the two keys",
                )
            app = plan_app(
                without_seccomp(data),
                source=str(path),
                document=document,
                operator=model,
                image=image,
                max_executors=max_executors,
            )
            apps += 1
            if app.label in seen:
                raise UsageError(
                    f"{path}: {app.kind} {app.label} is also in {seen[app.label]}",
                    "give each application its own name",
                )
            seen[app.label] = str(path)
            found.append(
                _workload(
                    app, image_from_manifest=image is None, timeout=timeout_seconds, egress=egress
                )
            )
        if apps == 0:
            raise UsageError(
                f"{path}: no SparkApplication or ScheduledSparkApplication found",
                "pass the application's manifest",
            )
    return tuple(found)


def _workload(
    app: AppPlan, *, image_from_manifest: bool, timeout: float, egress: bool
) -> ManifestWorkload:
    blocked = [r for r in app.roles if r.cannot_start is not None]
    if blocked:
        raise UsageError(
            f"{app.source}: {app.label}: the {blocked[0].role} cannot start: "
            f"{blocked[0].cannot_start}",
            "fix the manifest (`spark-seccomp k8s dry-run --plan` shows why)",
        )
    planned = dry_run.pod_plan(
        app, image_from_manifest=image_from_manifest, timeout_seconds=timeout, egress=egress
    )
    assert planned.run is not None
    job = replace(
        planned.workload,
        name=app.label,
        description=f"{app.kind} {app.label} ({app.source})",
    )
    # The manifest's seccompProfile was left out: each role takes the command's mode.
    template = replace(
        planned.run,
        workload=job,
        driver=_without_mode(planned.run.driver),
        executor=_without_mode(planned.run.executor),
    )
    notes = [*app.notes, *(f"not emulated: {n}" for n in app.not_emulated), *planned.notes]
    for role in app.roles:
        notes += [f"{role.role}: not emulated: {n}" for n in role.not_emulated]
    return ManifestWorkload(job, template, app, tuple(dict.fromkeys(notes)))


def _without_mode(settings: RoleSettings) -> RoleSettings:
    return replace(settings, mode=None, profile_json=None, profile_label=None)


def without_seccomp(manifest: dict[str, Any]) -> dict[str, Any]:
    """The manifest with every Spark role's ``seccompProfile`` taken out (a copy)."""
    data = copy.deepcopy(manifest)
    node: Any = data
    for part in SPARK_KINDS[data["kind"]]:
        node = node.get(part) if isinstance(node, dict) else None
    if not isinstance(node, dict):
        return data
    for role in ("driver", "executor"):
        role_spec = node.get(role)
        if not isinstance(role_spec, dict):
            continue
        contexts = [role_spec.get("podSecurityContext"), role_spec.get("securityContext")]
        template = role_spec.get("template")
        spec = template.get("spec") if isinstance(template, dict) else None
        if isinstance(spec, dict):
            contexts.append(spec.get("securityContext"))
            for key in ("containers", "initContainers"):
                for container in spec.get(key) or []:
                    if isinstance(container, dict):
                        contexts.append(container.get("securityContext"))
        for context in contexts:
            if isinstance(context, dict):
                context.pop("seccompProfile", None)
    return data
