"""`k8s dry-run`, the pure half: what each SparkApplication asks for, read as it is.

From one or several YAML files (SparkApplication, and ScheduledSparkApplication's
``spec.template``), one frozen ``AppPlan`` per application: the Spark conf the operator hands
spark-submit (in its order, later settings winning, as spark-submit's ``--conf`` does), the
main file and dependencies, and per role a ``RolePlan`` with the effective security (from
the template or the CRD fields, per operator release: ``operator.role_view``), the seccomp
profile resolved like the kubelet (``kubelet``), env, CPU and memory as Spark computes them
(``resources``), and the emptyDir and hostPath mounts. Whatever a local run cannot
reproduce is listed in ``not_emulated``, in plain sentences.

Nothing here starts a container or imports an engine: the execution side turns these values
into runs. The Spark conf mapping is the operator's, from
internal/controller/sparkapplication/submission.go (``buildSparkSubmitArgs`` and the
option functions it lists, at the modelled release).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from profiler.errors import UsageError
from profiler.k8s import kubelet
from profiler.k8s.kubelet import CannotStart
from profiler.k8s.manifests import (
    YamlDocument,
    YamlPath,
    display_name,
    line_of,
    load_documents,
    render_path,
)
from profiler.k8s.models import DNS1035_LABEL_TEXT, is_dns1035_label, validate_manifest
from profiler.k8s.operator import (
    LABEL_APP_NAME,
    LABEL_LAUNCHED_BY,
    ROLES,
    SPARK_CONTAINER,
    Operator,
    RoleView,
    Version,
    operator_for,
    role_view,
    spark_version_below_3,
)
from profiler.k8s.resources import (
    Cpu,
    Memory,
    SizeError,
    container_cpu,
    container_memory,
    k8s_bytes,
)
from profiler.k8s.translate import SPARK_KINDS, role_security
from profiler.runtime.interface import ContainerSecurity

LOCAL_DIR_PREFIX = "spark-local-dir-"
# Spark's LocalDirsFeatureStep names the volume spark-local-dir-1 and mounts it at
# /var/data/spark-<uuid>; a fixed path stands for the random one.
SPARK_LOCAL_DIR = "/var/data/spark-local-dir-1"
DEFAULT_EXECUTOR_INSTANCES = 2  # spark.executor.instances' default on Kubernetes
SPARK_VOLUME_TYPES = ("emptyDir", "hostPath", "persistentVolumeClaim", "nfs")


# ---------------------------------------------------------------------------------------
# Values


@dataclass(frozen=True)
class InImage:
    """A file the image holds (``local://`` or a bare absolute path): the pod finds it there."""

    path: str


@dataclass(frozen=True)
class HostFile:
    """A file on the submitting machine (``file://`` or a path that exists here)."""

    path: Path


@dataclass(frozen=True)
class Remote:
    """A URL Spark fetches (s3a://, https://, hdfs://...): not emulated."""

    url: str


AppFile = InImage | HostFile | Remote


@dataclass(frozen=True)
class Dependency:
    kind: str  # "jars", "files", "pyFiles" or "archives"
    uri: str
    location: AppFile


@dataclass(frozen=True)
class EnvVar:
    name: str
    value: str
    origin: str  # "template", "spark-conf", "crd" or "spark"


@dataclass(frozen=True)
class Mount:
    """An emptyDir (a tmpfs when emulated, sizeLimit honoured) or a hostPath (a bind mount)."""

    volume: str
    kind: str  # "emptyDir" or "hostPath"
    mount_path: str
    read_only: bool = False
    sub_path: str | None = None
    size_limit_bytes: int | None = None  # emptyDir.sizeLimit
    medium: str | None = None  # emptyDir.medium, "Memory" or None
    host_path: str | None = None  # hostPath.path
    origin: str = "template"  # "template", "crd", "spark-conf" or "spark"


@dataclass(frozen=True)
class SeccompPlan:
    """The seccomp filter the container runtime would load, resolved like the kubelet."""

    type: str  # "Unconfined", "RuntimeDefault" or "Localhost"
    localhost_profile: str | None = None
    profile_json: str | None = None  # the Localhost profile's text
    profile_path: Path | None = None  # where it was read (under --profiles)
    declared: bool = True  # False: nothing set, so the kubelet's default (Unconfined)

    @property
    def label(self) -> str:
        if self.type == "Localhost":
            return f"Localhost {self.localhost_profile}"
        return self.type if self.declared else "Unconfined (not set)"


@dataclass(frozen=True)
class RolePlan:
    role: str  # "driver" or "executor"
    image: str
    container_name: str
    instances: int  # containers to start: 1 for the driver, the capped executor count
    security: ContainerSecurity
    seccomp: SeccompPlan
    cannot_start: CannotStart | None  # why the kubelet or API server would not start it
    pod_context_source: str  # "crd", "template" or "none"
    container_context_source: str
    env: tuple[EnvVar, ...]
    cpu: Cpu
    memory: Memory
    mounts: tuple[Mount, ...]
    not_emulated: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    @property
    def can_start(self) -> bool:
        return self.cannot_start is None

    @property
    def user(self) -> str:
        user = "image" if self.security.user is None else str(self.security.user)
        if self.security.user is not None and self.security.group is not None:
            user += f":{self.security.group}"
        return user

    @property
    def memory_limit_bytes(self) -> int:
        return self.memory.limit_bytes

    @property
    def cpu_limit(self) -> float | None:
        return self.cpu.limit_cores


@dataclass(frozen=True)
class AppPlan:
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
    driver: RolePlan
    executor: RolePlan
    not_emulated: tuple[str, ...] = ()
    notes: tuple[str, ...] = field(default=())

    @property
    def roles(self) -> tuple[RolePlan, RolePlan]:
        return (self.driver, self.executor)

    @property
    def runnable(self) -> bool:
        return all(r.can_start for r in self.roles)

    @property
    def label(self) -> str:
        return f"{self.namespace}/{self.name}"


# ---------------------------------------------------------------------------------------
# Entry points


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
                    source=display_name(path),
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
    where = _Where(source, document, prefix)
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
    rejections: list[Any] = [i for v in views.values() for i in v.ignored if i.rejects]
    if kind == "SparkApplication" and model.wants_dns1035_name and not is_dns1035_label(name):
        rejections.append(
            _Rejection(
                f"{model.name} rejects the name {name!r}: it must be {DNS1035_LABEL_TEXT} "
                "(sparkapplication_validator.go validateName)"
            )
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
    deps = _dependencies(spec, Path(source).parent)
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
        roles[role] = _plan_role(
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
            rejections=rejections,
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


@dataclass(frozen=True)
class _Rejection:
    message: str


@dataclass(frozen=True)
class _Where:
    """Names a place in the input for error messages: file:line: path."""

    source: str
    document: YamlDocument | None
    prefix: YamlPath

    def at(self, path: YamlPath) -> str:
        full = self.prefix + tuple(path)
        line = line_of(self.document.node, full) if self.document is not None else None
        place = f"{self.source}:{line}" if line is not None else self.source
        return f"{place}: {render_path(full)}" if full else place


# ---------------------------------------------------------------------------------------
# The Spark conf the operator builds


def spark_conf(
    manifest: dict[str, Any],
    spec: dict[str, Any],
    operator: Operator,
    views: Mapping[str, RoleView] | None = None,
) -> dict[str, str]:
    """The ``--conf`` settings spark-submit gets, later ones winning (submission.go,
    ``buildSparkSubmitArgs``: namespace, image, pythonVersion, memoryOverheadFactor,
    sparkConf, hadoopConf, pod templates, driver pod name, driverConfOption, driverEnv,
    driver volumes, executorConfOption, executorEnv, executor volumes, node selector,
    dynamic allocation). The operator's own pod template file paths and the submission id
    are left out: they name files and values that only exist in the operator's pod."""
    conf: dict[str, str] = {}
    meta = manifest.get("metadata") or {}
    name = str(meta.get("name"))
    namespace = meta.get("namespace") or "default"
    conf["spark.kubernetes.namespace"] = namespace
    if spec.get("image"):
        conf["spark.kubernetes.container.image"] = spec["image"]
    if spec.get("imagePullPolicy"):
        conf["spark.kubernetes.container.image.pullPolicy"] = spec["imagePullPolicy"]
    if spec.get("pythonVersion"):
        conf["spark.kubernetes.pyspark.pythonVersion"] = spec["pythonVersion"]
    if spec.get("memoryOverheadFactor"):
        conf["spark.kubernetes.memoryOverheadFactor"] = spec["memoryOverheadFactor"]
    conf["spark.kubernetes.submission.waitAppCompletion"] = "false"
    for key, value in (spec.get("sparkConf") or {}).items():
        if key != "spark.kubernetes.driver.pod.name":
            conf[key] = value
    for key, value in (spec.get("hadoopConf") or {}).items():
        conf[f"spark.hadoop.{key}"] = value
    models = views or {role: role_view(spec, role, ("spec",), operator) for role in ROLES}
    for role in ROLES:
        role_spec = spec.get(role) or {}
        if operator.has_template and (
            models[role].template_used or operator.version >= Version(2, 4)
        ):
            # driverPodTemplateOption / executorPodTemplateOption (always from 2.4.0).
            conf[f"spark.kubernetes.{role}.podTemplateContainerName"] = SPARK_CONTAINER[role]
        if role == "driver":
            pod_name = (
                role_spec.get("podName")
                or (spec.get("sparkConf") or {}).get("spark.kubernetes.driver.pod.name")
                or f"{name}-driver"
            )
            conf["spark.kubernetes.driver.pod.name"] = pod_name
        _role_conf(conf, manifest, spec, role, role_spec, operator)
    for key, value in (spec.get("nodeSelector") or {}).items():
        conf[f"spark.kubernetes.node.selector.{key}"] = value
    dynamic = spec.get("dynamicAllocation") or {}
    if dynamic.get("enabled"):
        conf["spark.dynamicAllocation.enabled"] = "true"
        for key in ("initialExecutors", "minExecutors", "maxExecutors"):
            if dynamic.get(key) is not None:
                conf[f"spark.dynamicAllocation.{key}"] = str(dynamic[key])
        tracking = dynamic.get("shuffleTrackingEnabled", True)
        conf["spark.dynamicAllocation.shuffleTracking.enabled"] = str(bool(tracking)).lower()
    return conf


def _role_conf(
    conf: dict[str, str],
    manifest: dict[str, Any],
    spec: dict[str, Any],
    role: str,
    role_spec: dict[str, Any],
    operator: Operator,
) -> None:
    """driverConfOption / executorConfOption, then the role's env and volume options."""
    k8s = f"spark.kubernetes.{role}"
    labels = f"{k8s}.label."
    meta = manifest.get("metadata") or {}
    conf[labels + LABEL_APP_NAME] = str(meta.get("name"))
    conf[labels + LABEL_LAUNCHED_BY] = "true"
    if operator.has_template and (
        spark_version_below_3(spec.get("sparkVersion")) or role_spec.get("template") is None
    ):
        conf[labels + "sparkoperator.k8s.io/mutated-by-spark-operator"] = "true"
    if role == "executor" and role_spec.get("instances") is not None:
        conf["spark.executor.instances"] = str(role_spec["instances"])
    image = role_spec.get("image") or spec.get("image")
    if image:
        conf[f"{k8s}.container.image"] = image
    if role_spec.get("cores") is not None:
        conf[f"spark.{role}.cores"] = str(role_spec["cores"])
    if role_spec.get("coreRequest") is not None:
        conf[f"{k8s}.request.cores"] = role_spec["coreRequest"]
    if role_spec.get("coreLimit") is not None:
        conf[f"{k8s}.limit.cores"] = role_spec["coreLimit"]
    if role_spec.get("memory") is not None:
        conf[f"spark.{role}.memory"] = role_spec["memory"]
    if role_spec.get("memoryOverhead") is not None:
        conf[f"spark.{role}.memoryOverhead"] = role_spec["memoryOverhead"]
    if role_spec.get("serviceAccount") is not None:
        conf[f"spark.kubernetes.authenticate.{role}.serviceAccountName"] = role_spec[
            "serviceAccount"
        ]
    if role == "executor" and role_spec.get("deleteOnTermination") is not None:
        value = str(role_spec["deleteOnTermination"]).lower()
        conf["spark.kubernetes.executor.deleteOnTermination"] = value
    for key, value in (meta.get("labels") or {}).items():
        if not key.startswith("kueue.x-k8s.io/"):
            conf[labels + key] = value
    for key, value in (role_spec.get("labels") or {}).items():
        conf[labels + key] = value
    for key, value in (role_spec.get("annotations") or {}).items():
        conf[f"{k8s}.annotation.{key}"] = value
    if role == "driver":
        for key, value in (role_spec.get("serviceLabels") or {}).items():
            conf[f"{k8s}.service.label.{key}"] = value
        for key, value in (role_spec.get("serviceAnnotations") or {}).items():
            conf[f"{k8s}.service.annotation.{key}"] = value
    for key, ref in (role_spec.get("envSecretKeyRefs") or {}).items():
        conf[f"{k8s}.secretKeyRef.{key}"] = f"{ref.get('name')}:{ref.get('key')}"
    if role_spec.get("javaOptions") is not None:
        conf[f"spark.{role}.extraJavaOptions"] = role_spec["javaOptions"]
    if role == "driver" and role_spec.get("kubernetesMaster") is not None:
        conf["spark.kubernetes.driver.master"] = role_spec["kubernetesMaster"]
    env_prefix = "spark.kubernetes.driverEnv." if role == "driver" else "spark.executorEnv."
    for key, value in (role_spec.get("envVars") or {}).items():
        conf[env_prefix + key] = value
    for secret in role_spec.get("secrets") or []:
        if isinstance(secret, dict) and secret.get("name"):
            conf[f"{k8s}.secrets.{secret['name']}"] = str(secret.get("path", ""))
    _local_volume_conf(conf, spec, role, role_spec)


def _local_volume_conf(
    conf: dict[str, str], spec: dict[str, Any], role: str, role_spec: dict[str, Any]
) -> None:
    """driverVolumeMountsOption: spark-local-dir-* volumes go to Spark as conf."""
    volumes = {
        v["name"]: v
        for v in spec.get("volumes") or []
        if isinstance(v, dict) and str(v.get("name", "")).startswith(LOCAL_DIR_PREFIX)
    }
    prefix = f"spark.kubernetes.{role}.volumes"
    for mount in role_spec.get("volumeMounts") or []:
        name = mount.get("name", "")
        if not name.startswith(LOCAL_DIR_PREFIX) or name not in volumes:
            continue
        volume = volumes[name]
        kind = next((t for t in SPARK_VOLUME_TYPES if volume.get(t) is not None), None)
        if kind is None:
            continue  # the operator fails the submission: "unsupported volume type"
        base = f"{prefix}.{kind}.{name}"
        if mount.get("mountPath"):
            conf[f"{base}.mount.path"] = mount["mountPath"]
        if mount.get("subPath"):
            conf[f"{base}.mount.subPath"] = mount["subPath"]
        if mount.get("readOnly"):
            conf[f"{base}.mount.readOnly"] = "true"
        source = volume[kind] or {}
        if kind == "emptyDir":
            if source.get("sizeLimit") is not None:
                conf[f"{base}.options.sizeLimit"] = str(source["sizeLimit"])
            if source.get("medium"):
                conf[f"{base}.options.medium"] = source["medium"]
        elif kind == "hostPath":
            conf[f"{base}.options.path"] = str(source.get("path", ""))
            if source.get("type"):
                conf[f"{base}.options.type"] = source["type"]
        elif kind == "persistentVolumeClaim":
            conf[f"{base}.options.claimName"] = str(source.get("claimName", ""))
        elif kind == "nfs":
            conf[f"{base}.options.path"] = str(source.get("path", ""))
            conf[f"{base}.options.server"] = str(source.get("server", ""))


# ---------------------------------------------------------------------------------------
# One role


def _plan_role(
    view: RoleView,
    spec: dict[str, Any],
    conf: dict[str, str],
    *,
    where: _Where,
    operator: Operator,
    version: Version | None,
    non_jvm: bool,
    profiles_dir: Path | None,
    image: str | None,
    instances: int,
    rejections: Sequence[Any],
) -> RolePlan:
    role = view.role
    notes: list[str] = []
    not_emulated: list[str] = []

    role_image = view.role_spec.get("image") or spec.get("image")
    if image is not None:
        if role_image and role_image != image:
            notes.append(f"--image {image} runs instead of the manifest's {role_image}")
        role_image = image
    if not role_image:
        raise UsageError(
            f"{where.at(view.role_path)}: no image for the {role}: spark-submit fails with "
            '"Must specify the driver container image"',
            f"set spec.image or {render_path(view.role_path)}.image, or pass --image",
        )

    mounts = _mounts(view, spec, conf, not_emulated)
    resolved = role_security(view, spec)
    base_security = resolved.container
    security = ContainerSecurity(
        user=base_security.user,
        group=base_security.group,
        cap_drop=base_security.cap_drop,
        cap_add=base_security.cap_add,
        no_new_privileges=base_security.no_new_privileges,
        read_only_root=base_security.read_only_root,
        writable_paths=tuple(
            m.mount_path for m in mounts if m.kind == "emptyDir" and not m.read_only
        ),
        network=True,
        privileged=base_security.privileged,
    )
    seccomp, cannot = _seccomp(resolved.seccomp, profiles_dir, where, role)
    if rejections:
        cannot = CannotStart(
            "Invalid",
            "admission webhook denied the request: " + rejections[0].message,
            "rejected by the operator",
        )
    if security.privileged and seccomp.type != "Unconfined":
        notes.append("privileged: container runtimes apply no seccomp filter to it")
    if seccomp.type == "RuntimeDefault":
        notes.append(
            "RuntimeDefault is the local engine's default profile; a node's containerd or "
            "CRI-O default allows a slightly different set of system calls"
        )
    if seccomp.type == "Unconfined" and seccomp.declared:
        notes.append("seccompProfile Unconfined: the pod runs without any seccomp filter")
    if not seccomp.declared:
        notes.append(
            "no seccompProfile: the kubelet runs the pod Unconfined "
            "(RuntimeDefault only where the kubelet runs with --seccomp-default)"
        )

    env = _env(view, conf, not_emulated, mounts)
    try:
        memory_limit = view.role_spec.get("memoryLimit")
        if memory_limit is not None and not (operator.has_memory_limit and view.webhook_applies):
            notes.append(f"memoryLimit {memory_limit} is not applied by {operator.name}")
            memory_limit = None
        memory = container_memory(role, conf, version, non_jvm, memory_limit)
        cpu = container_cpu(role, conf)
    except SizeError as exc:
        raise UsageError(
            f"{where.source}: {role}: {exc.value!r} is not {exc.expected}",
            "fix the size in the manifest (cores, memory, memoryOverhead, coreLimit or sparkConf)",
        ) from None
    notes.append(f"memory: {memory.explain()}")

    for key in ("sidecars", "initContainers"):
        if view.webhook_applies:
            for container in view.role_spec.get(key) or []:
                not_emulated.append(f"{key[:-1]} {container.get('name', '?')!r} is not run")
    containers = view.template_spec.get("containers") or []
    for index, container in enumerate(containers):
        if index != view.spark_container_index and isinstance(container, dict):
            not_emulated.append(f"template container {container.get('name', '?')!r} is not run")
    for container in view.template_spec.get("initContainers") or []:
        if isinstance(container, dict):
            not_emulated.append(
                f"template init container {container.get('name', '?')!r} is not run"
            )
    for key in ("configMaps", "secrets"):
        for item in view.role_spec.get(key) or []:
            not_emulated.append(f"{key[:-1]} {item.get('name', '?')!r} is not mounted")

    return RolePlan(
        role=role,
        image=role_image,
        container_name=view.container_name,
        instances=instances,
        security=security,
        seccomp=seccomp,
        cannot_start=cannot,
        pod_context_source=view.pod.origin,
        container_context_source=view.container.origin,
        env=env,
        cpu=cpu,
        memory=memory,
        mounts=mounts,
        not_emulated=tuple(not_emulated),
        notes=tuple(notes),
    )


def _seccomp(
    setting: Any, profiles_dir: Path | None, where: _Where, role: str
) -> tuple[SeccompPlan, CannotStart | None]:
    kind, localhost = setting.type, setting.localhost_profile
    if kind is None:
        return SeccompPlan("Unconfined", declared=False), None
    if kind in ("RuntimeDefault", "Unconfined"):
        return SeccompPlan(kind), None
    if kind != "Localhost":
        return SeccompPlan(kind), kubelet.unsupported_type(kind)
    if profiles_dir is None:
        raise UsageError(
            f"{where.at(setting.path)}: the {role} uses the Localhost profile {localhost!r}: "
            "a dry-run needs the directory that holds it",
            "pass --profiles DIR, where DIR stands for <kubelet-root>/seccomp on the nodes",
        )
    loaded = kubelet.load_localhost(localhost, profiles_dir)
    if isinstance(loaded, CannotStart):
        return SeccompPlan("Localhost", localhost), loaded
    assert localhost is not None
    return SeccompPlan("Localhost", localhost, loaded, Path(profiles_dir) / localhost), None


def _mounts(
    view: RoleView, spec: dict[str, Any], conf: dict[str, str], not_emulated: list[str]
) -> tuple[Mount, ...]:
    mounts: list[Mount] = []
    template_volumes = {
        v.get("name"): v for v in view.template_spec.get("volumes") or [] if isinstance(v, dict)
    }
    for mount in view.spark_container.get("volumeMounts") or []:
        volume = template_volumes.get(mount.get("name"))
        _add_mount(mounts, mount, volume, "template", not_emulated)
    mounts.extend(_conf_mounts(view.role, conf, not_emulated))
    if view.webhook_applies:
        crd_volumes = {v.get("name"): v for v in spec.get("volumes") or [] if isinstance(v, dict)}
        for mount in view.role_spec.get("volumeMounts") or []:
            if str(mount.get("name", "")).startswith(LOCAL_DIR_PREFIX):
                continue  # handed to Spark as conf (above), never by the webhook
            _add_mount(mounts, mount, crd_volumes.get(mount.get("name")), "crd", not_emulated)
    has_local_dir = any(m.volume.startswith(LOCAL_DIR_PREFIX) for m in mounts) or any(
        str(name).startswith(LOCAL_DIR_PREFIX) for name in template_volumes
    )
    if not has_local_dir:
        # LocalDirsFeatureStep: an emptyDir for spark.local.dir, tmpfs when asked for.
        tmpfs = conf.get("spark.kubernetes.local.dirs.tmpfs", "false").lower() == "true"
        mounts.append(
            Mount(
                "spark-local-dir-1",
                "emptyDir",
                SPARK_LOCAL_DIR,
                medium="Memory" if tmpfs else None,
                origin="spark",
            )
        )
    unique: dict[str, Mount] = {}
    for mount in mounts:
        unique.setdefault(mount.mount_path, mount)
    return tuple(sorted(unique.values(), key=lambda m: m.mount_path))


def _add_mount(
    mounts: list[Mount],
    mount: dict[str, Any],
    volume: dict[str, Any] | None,
    origin: str,
    not_emulated: list[str],
) -> None:
    name, path = mount.get("name", "?"), mount.get("mountPath", "?")
    if volume is None:
        not_emulated.append(f"mount {path}: no volume named {name!r} ({origin}); the pod fails")
        return
    read_only = bool(mount.get("readOnly"))
    sub_path = mount.get("subPath")
    if volume.get("emptyDir") is not None:
        source = volume["emptyDir"]
        size = source.get("sizeLimit")
        mounts.append(
            Mount(
                name,
                "emptyDir",
                path,
                read_only,
                sub_path,
                _size(size),
                source.get("medium") or None,
                origin=origin,
            )
        )
    elif volume.get("hostPath") is not None:
        host = volume["hostPath"].get("path")
        mounts.append(
            Mount(name, "hostPath", path, read_only, sub_path, host_path=host, origin=origin)
        )
    else:
        kinds = sorted(k for k in volume if k != "name")
        kind = kinds[0] if kinds else "unknown"
        not_emulated.append(f"{kind} volume {name!r} at {path} is not emulated")


def _conf_mounts(role: str, conf: dict[str, str], not_emulated: list[str]) -> list[Mount]:
    """spark.kubernetes.<role>.volumes.<type>.<name>.* (Spark's MountVolumesFeatureStep)."""
    prefix = f"spark.kubernetes.{role}.volumes."
    found: dict[tuple[str, str], dict[str, str]] = {}
    for key, value in conf.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split(".", 2)
        if len(parts) == 3:
            found.setdefault((parts[0], parts[1]), {})[parts[2]] = value
    mounts: list[Mount] = []
    for (kind, name), options in sorted(found.items()):
        path = options.get("mount.path")
        if path is None:
            continue
        read_only = options.get("mount.readOnly", "false").lower() == "true"
        sub_path = options.get("mount.subPath")
        if kind == "emptyDir":
            mounts.append(
                Mount(
                    name,
                    "emptyDir",
                    path,
                    read_only,
                    sub_path,
                    _size(options.get("options.sizeLimit")),
                    options.get("options.medium") or None,
                    origin="spark-conf",
                )
            )
        elif kind == "hostPath":
            host = options.get("options.path")
            mounts.append(
                Mount(
                    name, "hostPath", path, read_only, sub_path, host_path=host, origin="spark-conf"
                )
            )
        else:
            not_emulated.append(f"{kind} volume {name!r} at {path} is not emulated")
    return mounts


def _size(value: Any) -> int | None:
    if value is None:
        return None
    try:
        return k8s_bytes(value)
    except SizeError:
        return None


def _env(
    view: RoleView, conf: dict[str, str], not_emulated: list[str], mounts: Iterable[Mount]
) -> tuple[EnvVar, ...]:
    """The Spark container's inline env: the template's, then Spark's (driverEnv /
    executorEnv, SPARK_LOCAL_DIRS), then the CRD's env added by the webhook; the kubelet
    keeps the last value of a name."""
    env: dict[str, EnvVar] = {}

    def add_list(items: Any, origin: str) -> None:
        for item in items or []:
            if not isinstance(item, dict):
                continue
            name = item.get("name")
            if item.get("valueFrom") is not None:
                source = next(iter(item["valueFrom"]), "valueFrom")
                not_emulated.append(f"env {name} from {source} ({origin}) is not emulated")
            elif isinstance(name, str):
                env[name] = EnvVar(name, str(item.get("value") or ""), origin)

    add_list(view.spark_container.get("env"), "template")
    for item in view.spark_container.get("envFrom") or []:
        not_emulated.append(f"envFrom {_env_from(item)} (template) is not emulated")
    prefix = "spark.kubernetes.driverEnv." if view.role == "driver" else "spark.executorEnv."
    for key, value in sorted(conf.items()):
        if key.startswith(prefix):
            name = key[len(prefix) :]
            env[name] = EnvVar(name, value, "spark-conf")
    local_dirs = [m.mount_path for m in mounts if m.volume.startswith(LOCAL_DIR_PREFIX)]
    if local_dirs:
        env["SPARK_LOCAL_DIRS"] = EnvVar("SPARK_LOCAL_DIRS", ",".join(local_dirs), "spark")
    secret_prefix = f"spark.kubernetes.{view.role}.secretKeyRef."
    for key, value in sorted(conf.items()):
        if key.startswith(secret_prefix):
            not_emulated.append(
                f"env {key[len(secret_prefix) :]} from secret {value} is not emulated"
            )
    if view.webhook_applies:
        ignored_env = any(i.path[-1:] == ("env",) for i in view.ignored)
        if not ignored_env:
            add_list(view.role_spec.get("env"), "crd")
        for item in view.role_spec.get("envFrom") or []:
            not_emulated.append(f"envFrom {_env_from(item)} is not emulated")
    return tuple(env[name] for name in sorted(env))


def _env_from(item: Any) -> str:
    if not isinstance(item, dict):
        return "?"
    for key in ("configMapRef", "secretRef"):
        ref = item.get(key)
        if isinstance(ref, dict):
            return f"{key} {ref.get('name', '?')}"
    return "source"


# ---------------------------------------------------------------------------------------
# Files


def classify(uri: str, base_dir: Path) -> AppFile:
    """Where Spark finds a file named in the manifest."""
    if uri.startswith("local://"):
        return InImage(str(PurePosixPath("/" + uri[len("local://") :].lstrip("/"))))
    if uri.startswith("file://"):
        return HostFile(Path(uri[len("file://") :]))
    if "://" in uri:
        return Remote(uri)
    candidate = Path(uri)
    if candidate.is_absolute():
        return HostFile(candidate) if candidate.is_file() else InImage(uri)
    for base in (Path.cwd(), base_dir):
        if (base / candidate).is_file():
            return HostFile((base / candidate).resolve())
    return HostFile(candidate)


def _dependencies(spec: dict[str, Any], base_dir: Path) -> tuple[Dependency, ...]:
    deps = spec.get("deps") or {}
    found = []
    for kind in ("jars", "files", "pyFiles", "archives"):
        for uri in deps.get(kind) or []:
            found.append(Dependency(kind, uri, classify(uri, base_dir)))
    return tuple(found)


def _int_conf(conf: dict[str, str], key: str, default: int, where: _Where) -> int:
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
