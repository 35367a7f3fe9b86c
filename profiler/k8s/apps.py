"""SparkApplication manifests as workloads: each application, named ``<namespace>/<name>``,
with the run its manifest shapes.

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

from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.manifests import parse_yaml, read_text
from profiler.k8s.operator import Operator, operator_for
from profiler.k8s.plan import AppPlan, plan_app
from profiler.k8s.translate import SPARK_KINDS
from profiler.runtime.interface import RoleSettings, RunSpec
from profiler.workloads import Workload

MANIFEST_SUFFIXES = (".yaml", ".yml")


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
