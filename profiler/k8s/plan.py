"""`k8s dry-run`, the pure half: what each SparkApplication asks for, read as it is.

From one or several YAML files (SparkApplication, and ScheduledSparkApplication's
``spec.template``), one frozen ``AppPlan`` per application: the Spark conf the operator hands
spark-submit (``submission``), the main file and dependencies (``app_files``), and per role
a ``PlannedRole`` (``planned_role``: effective security, seccomp, env, CPU and memory,
volumes). Whatever a local run cannot reproduce is listed in ``not_emulated``, in plain
sentences.

Nothing here starts a container or imports an engine: the execution side turns these values
into runs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.app_files import AppFile, Dependency, Remote, classify, dependencies
from profiler.k8s.manifests import (
    ManifestPlace,
    YamlDocument,
    YamlPath,
    load_documents,
    render_path,
)
from profiler.k8s.models import DNS1035_LABEL_TEXT, is_dns1035_label, validate_manifest
from profiler.k8s.operator import ROLES, Operator, Version, operator_for, role_view
from profiler.k8s.planned_role import PlannedRole, plan_role
from profiler.k8s.submission import spark_conf
from profiler.k8s.translate import SPARK_KINDS

DEFAULT_EXECUTOR_INSTANCES = 2  # spark.executor.instances' default on Kubernetes


@dataclass(frozen=True)
class AppPlan:
    """One SparkApplication as the operator would submit it, each role planned."""

    name: str
    namespace: str
    kind: str  # "SparkApplication" or "ScheduledSparkApplication"
    source: str  # the file it came from
    document: int  # 1-based YAML document index in that file
    app_type: str  # Python, Scala, Java, R
    mode: str
    spark_version: str
    operator_version: str
    main: AppFile
    main_class: str | None
    arguments: tuple[str, ...]
    spark_conf: Mapping[str, str]  # sorted by key
    executor_instances: int  # what the application asks for
    deps: tuple[Dependency, ...]
    driver: PlannedRole
    executor: PlannedRole
    not_emulated: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def roles(self) -> tuple[PlannedRole, PlannedRole]:
        return (self.driver, self.executor)

    @property
    def runnable(self) -> bool:
        return all(r.can_start for r in self.roles)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


def plan_files(
    files: Sequence[Path],
    *,
    profiles_dir: Path | None = None,
    operator: Operator | None = None,
    image: str | None = None,
    max_executors: int | None = None,
) -> tuple[AppPlan, ...]:
    """Every SparkApplication (and ScheduledSparkApplication) of ``files``, planned.

    ``profiles_dir`` stands for ``<kubelet-root>/seccomp`` and is needed only when a
    Localhost profile is referenced. ``image`` replaces every role's image. At most
    ``max_executors`` executor containers are planned per application.
    """
    if not files:
        raise UsageError("no manifest given", "pass one or more SparkApplication YAML files")
    if profiles_dir is not None and not Path(profiles_dir).is_dir():
        raise UsageError(
            f"profiles directory {profiles_dir} does not exist",
            "pass the directory that plays <kubelet-root>/seccomp",
        )
    model = operator or operator_for()
    plans: list[AppPlan] = []
    seen: dict[str, str] = {}
    for path in files:
        for document in load_documents(Path(path)):
            for item, prefix in _items(document):
                kind = item.get("kind") if isinstance(item, dict) else None
                if kind not in SPARK_KINDS:
                    continue
                plan = plan_app(
                    item,
                    source=str(path),
                    document=document,
                    prefix=prefix,
                    profiles_dir=profiles_dir,
                    operator=model,
                    image=image,
                    max_executors=max_executors,
                )
                if plan.label in seen:
                    raise UsageError(
                        f"{path}: {plan.kind} {plan.label} is also in {seen[plan.label]}",
                        "give each application its own name, or dry-run one file at a time",
                    )
                seen[plan.label] = str(path)
                plans.append(plan)
    if not plans:
        names = ", ".join(str(p) for p in files)
        raise UsageError(
            f"{names}: no SparkApplication or ScheduledSparkApplication found",
            "pass the application's manifest",
        )
    return tuple(plans)


def _items(document: YamlDocument) -> list[tuple[Any, YamlPath]]:
    data = document.data
    if (
        isinstance(data, dict)
        and data.get("kind") == "List"
        and isinstance(data.get("items"), list)
    ):
        return [(item, ("items", i)) for i, item in enumerate(data["items"])]
    return [(data, ())]


def plan_app(
    manifest: dict[str, Any],
    *,
    source: str = "<manifest>",
    document: YamlDocument | None = None,
    prefix: YamlPath = (),
    profiles_dir: Path | None = None,
    operator: Operator | None = None,
    image: str | None = None,
    max_executors: int | None = None,
) -> AppPlan:
    """One application's plan; bad input is a ``UsageError`` naming file, line and path."""
    model = operator or operator_for()
    where = ManifestPlace(source, document, prefix)
    if document is not None and document.duplicates:
        dup = document.duplicates[0]
        raise UsageError(
            f"{source}:{dup.line}: {render_path(dup.path)} is written twice "
            f"(also on line {dup.first_line}); kubectl rejects the document",
            "remove one of the two keys",
        )
    problems = validate_manifest(manifest)
    if problems:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        raise UsageError(
            f"{where.at(first.path)}: {first.describe()}{more}",
            "fix the manifest (`spark-seccomp k8s lint` lists every problem)",
        )
    kind = manifest["kind"]
    base = SPARK_KINDS[kind]
    spec: dict[str, Any] = (
        manifest["spec"] if kind == "SparkApplication" else manifest["spec"]["template"]
    )
    meta = manifest.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str):
        raise UsageError(f"{where.at(('metadata',))}: the application has no metadata.name")
    namespace = meta.get("namespace") or "default"
    notes: list[str] = list(model.notes)
    not_emulated: list[str] = []
    if "namespace" not in meta:
        notes.append("no metadata.namespace: planned for namespace default (kubectl's default)")
    if kind == "ScheduledSparkApplication":
        schedule = manifest["spec"].get("schedule")
        notes.append(f"ScheduledSparkApplication (schedule {schedule!r}): one run is planned")

    views = {role: role_view(spec, role, base, model) for role in ROLES}
    # Why the operator's admission webhook rejects the application: every role then
    # fails to start with the first reason.
    rejections = [i.message for v in views.values() for i in v.ignored if i.rejects]
    if kind == "SparkApplication" and model.wants_dns1035_name and not is_dns1035_label(name):
        rejections.append(
            f"{model.name} rejects the name {name!r}: it must be {DNS1035_LABEL_TEXT} "
            "(sparkapplication_validator.go validateName)"
        )
    for view in views.values():
        for ignored in view.ignored:
            if not ignored.rejects:
                notes.append(f"{render_path(ignored.path)}: {ignored.message}")

    conf = spark_conf(manifest, spec, model, views)
    spark_version = str(spec["sparkVersion"])
    version = Version.parse(spark_version)
    non_jvm = spec["type"] in ("Python", "R")
    main = classify(spec["mainApplicationFile"], Path(source).parent)
    if isinstance(main, Remote):
        not_emulated.append(f"mainApplicationFile {main.url} is fetched by Spark; not emulated")
    deps = dependencies(spec, Path(source).parent)
    for dep in deps:
        if isinstance(dep.location, Remote):
            not_emulated.append(f"{dep.kind} {dep.uri} is fetched by Spark; not emulated")
    deps_spec = spec.get("deps") or {}
    for key in ("packages", "repositories", "excludePackages"):
        if deps_spec.get(key):
            not_emulated.append(f"deps.{key} ({', '.join(deps_spec[key])}): not emulated")
    for key in ("sparkConfigMap", "hadoopConfigMap"):
        if spec.get(key):
            not_emulated.append(f"{key} {spec[key]}: not emulated (the ConfigMap is not read)")
    if (spec.get("dynamicAllocation") or {}).get("enabled"):
        not_emulated.append("dynamicAllocation: a fixed number of executors is planned")

    instances = _int_conf(conf, "spark.executor.instances", DEFAULT_EXECUTOR_INSTANCES, where)
    to_run = instances if max_executors is None else min(instances, max_executors)
    if to_run < instances:
        notes.append(f"{instances} executors asked for; {to_run} planned (--executors)")

    roles = {}
    for role in ROLES:
        roles[role] = plan_role(
            views[role],
            spec,
            conf,
            where=where,
            operator=model,
            version=version,
            non_jvm=non_jvm,
            profiles_dir=profiles_dir,
            image=image,
            instances=1 if role == "driver" else to_run,
            rejection=rejections[0] if rejections else None,
        )
    return AppPlan(
        name=name,
        namespace=namespace,
        kind=kind,
        source=source,
        document=document.index if document is not None else 1,
        app_type=spec["type"],
        mode=spec.get("mode") or "cluster",
        spark_version=spark_version,
        operator_version=str(model.version),
        main=main,
        main_class=spec.get("mainClass"),
        arguments=tuple(spec.get("arguments") or ()),
        spark_conf=dict(sorted(conf.items())),
        executor_instances=instances,
        deps=deps,
        driver=roles["driver"],
        executor=roles["executor"],
        not_emulated=tuple(not_emulated),
        notes=tuple(notes),
    )


def _int_conf(conf: dict[str, str], key: str, default: int, where: ManifestPlace) -> int:
    raw = conf.get(key)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if value < 0:
        raise UsageError(
            f"{where.source}: {key} is {raw!r}; it must be a whole number of 0 or more",
            "fix spec.executor.instances or sparkConf",
        )
    return value
