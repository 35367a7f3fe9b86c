"""The shapes of the manifests the tool reads and writes, as pydantic models.

Written from the API types, field by field, for the fields the tool reads or emits:
Kubernetes core/v1 (ObjectMeta, PodSpec, Container, SecurityContext, Volume...), apps/v1 and
batch/v1 workloads, and the Spark Operator's v1beta2 SparkApplication and
ScheduledSparkApplication (kubeflow/spark-operator api/v1beta2/sparkapplication_types.go,
scheduledsparkapplication_types.go, and the CRD's `required` lists in
config/crd/bases/). Types are strict, as the API server's JSON decoding is: `runAsUser: "185"`
or a label value `true` is rejected there, so it is rejected here. Unknown fields are
allowed: this validates what is read, it does not re-implement pruning.

``validate_manifest`` turns a document into ``FieldProblem`` values (path, what was found,
what was expected); nothing here raises for bad input.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from pydantic_core import PydanticCustomError

from profiler.errors import UsageError
from profiler.k8s.manifests import YamlPath, render_path

INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1

_DNS1123_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_DNS1123_SUBDOMAIN = re.compile(
    r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
)
_DNS1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]*[a-z0-9])?$")
_LABEL_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# What golang.org/x/mod/semver accepts once the operator prefixes a "v"
# (pkg/util/util.go CompareSemanticVersion): MAJOR[.MINOR[.PATCH]][-pre][+build].
_SEMVER = re.compile(
    r"^(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?)?)?$"
)

DNS1123_SUBDOMAIN_TEXT = (
    "a DNS-1123 subdomain: lower-case letters, digits, '-' and '.', starting and ending "
    "with a letter or digit, at most 253 characters"
)
DNS1123_LABEL_TEXT = (
    "a DNS-1123 label: lower-case letters, digits and '-', starting and ending with a "
    "letter or digit, at most 63 characters"
)
DNS1035_LABEL_TEXT = (
    "a DNS-1035 label: lower-case letters, digits and '-', starting with a letter and "
    "ending with a letter or digit, at most 63 characters"
)


def is_dns1123_subdomain(value: str) -> bool:
    return len(value) <= 253 and bool(_DNS1123_SUBDOMAIN.match(value))


def is_dns1123_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1123_LABEL.match(value))


def is_dns1035_label(value: str) -> bool:
    return len(value) <= 63 and bool(_DNS1035_LABEL.match(value))


def is_semver(value: str) -> bool:
    return bool(_SEMVER.match(value))


def label_key_problem(key: str) -> str | None:
    prefix, _, name = key.rpartition("/")
    if "/" in key and (not prefix or not is_dns1123_subdomain(prefix)):
        return f"its prefix must be {DNS1123_SUBDOMAIN_TEXT}"
    if not name or len(name) > 63 or not _LABEL_NAME.match(name):
        return (
            "its name must be at most 63 letters, digits, '-', '_' or '.', starting and "
            "ending with a letter or digit"
        )
    return None


def label_value_problem(value: str) -> str | None:
    if len(value) > 63 or not _LABEL_VALUE.match(value):
        return (
            "a label value is empty or at most 63 letters, digits, '-', '_' or '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _check(predicate: Any, kind: str, text: str) -> Any:
    def validator(value: str) -> str:
        if not predicate(value):
            raise PydanticCustomError(kind, f"must be {text}")
        return value

    return AfterValidator(validator)


def _label_key(value: str) -> str:
    problem = label_key_problem(value)
    if problem:
        raise PydanticCustomError("label_key", f"a label key, but {problem}")
    return value


def _label_value(value: str) -> str:
    problem = label_value_problem(value)
    if problem:
        raise PydanticCustomError("label_value", f"must be {problem}")
    return value


def _quantity(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PydanticCustomError("quantity", "must be a quantity such as 1Gi, 500m or 2")
    return value


def _not_blank(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("blank", "must not be empty")
    return value


Str = Annotated[str, Field(strict=True)]
NonEmptyStr = Annotated[str, Field(strict=True), AfterValidator(_not_blank)]
Int32 = Annotated[int, Field(strict=True, ge=-(2**31), le=INT32_MAX)]
PositiveInt32 = Annotated[int, Field(strict=True, ge=1, le=INT32_MAX)]
Int64 = Annotated[int, Field(strict=True, ge=-(2**63), le=INT64_MAX)]
Port = Annotated[int, Field(strict=True, ge=0, le=65535)]
Bool = Annotated[bool, Field(strict=True)]
Quantity = Annotated[Any, AfterValidator(_quantity)]
Dns1123Subdomain = Annotated[
    str,
    Field(strict=True),
    _check(is_dns1123_subdomain, "dns1123_subdomain", DNS1123_SUBDOMAIN_TEXT),
]
Dns1123Label = Annotated[
    str, Field(strict=True), _check(is_dns1123_label, "dns1123_label", DNS1123_LABEL_TEXT)
]
LabelKey = Annotated[str, Field(strict=True), AfterValidator(_label_key)]
LabelValue = Annotated[str, Field(strict=True), AfterValidator(_label_value)]
SemVer = Annotated[
    str,
    Field(strict=True),
    _check(is_semver, "version", "a version such as 3.5.7 or 4.0.1"),
]
Obj = dict[Str, Any]  # a mapping whose content is not this tool's business


class K8sModel(BaseModel):
    """Strict types, unknown fields allowed (they are not this tool's business)."""

    model_config = ConfigDict(extra="allow", strict=True)


# --- core/v1 ---------------------------------------------------------------------------


class ObjectMeta(K8sModel):
    name: Dns1123Subdomain | None = None
    generateName: Str | None = None
    namespace: Dns1123Label | None = None
    labels: dict[LabelKey, LabelValue] | None = None
    annotations: dict[Str, Str] | None = None


class SeccompProfileRef(K8sModel):
    type: Str | None = None  # an unknown type is a lint rule of its own, not a type error
    localhostProfile: Str | None = None


class Capabilities(K8sModel):
    add: list[Str] | None = None
    drop: list[Str] | None = None


class SecurityContext(K8sModel):
    allowPrivilegeEscalation: Bool | None = None
    capabilities: Capabilities | None = None
    privileged: Bool | None = None
    procMount: Str | None = None
    readOnlyRootFilesystem: Bool | None = None
    runAsNonRoot: Bool | None = None
    runAsUser: Int64 | None = None
    runAsGroup: Int64 | None = None
    seccompProfile: SeccompProfileRef | None = None
    seLinuxOptions: Obj | None = None
    appArmorProfile: Obj | None = None


class Sysctl(K8sModel):
    name: Str
    value: Str


class PodSecurityContext(K8sModel):
    runAsNonRoot: Bool | None = None
    runAsUser: Int64 | None = None
    runAsGroup: Int64 | None = None
    fsGroup: Int64 | None = None
    fsGroupChangePolicy: Str | None = None
    supplementalGroups: list[Int64] | None = None
    supplementalGroupsPolicy: Str | None = None
    seccompProfile: SeccompProfileRef | None = None
    sysctls: list[Sysctl] | None = None
    seLinuxOptions: Obj | None = None
    appArmorProfile: Obj | None = None


class ContainerPort(K8sModel):
    name: Str | None = None
    containerPort: Port
    hostPort: Port | None = None
    hostIP: Str | None = None
    protocol: Str | None = None


class VolumeMount(K8sModel):
    name: Str
    mountPath: Str
    readOnly: Bool | None = None
    subPath: Str | None = None


class EnvVar(K8sModel):
    name: NonEmptyStr
    value: Str | None = None
    valueFrom: Obj | None = None


class ResourceRequirements(K8sModel):
    limits: dict[Str, Quantity] | None = None
    requests: dict[Str, Quantity] | None = None


class Container(K8sModel):
    # Required by the API server, but the schemaless SparkApplication template may omit it.
    name: Str | None = None
    image: Str | None = None
    command: list[Str] | None = None
    args: list[Str] | None = None
    securityContext: SecurityContext | None = None
    ports: list[ContainerPort] | None = None
    volumeMounts: list[VolumeMount] | None = None
    env: list[EnvVar] | None = None
    envFrom: list[Obj] | None = None
    resources: ResourceRequirements | None = None


class EmptyDirVolume(K8sModel):
    medium: Str | None = None
    sizeLimit: Quantity | None = None


class HostPathVolume(K8sModel):
    path: Str
    type: Str | None = None


class Volume(K8sModel):
    name: Str
    emptyDir: EmptyDirVolume | None = None
    hostPath: HostPathVolume | None = None
    configMap: Obj | None = None
    secret: Obj | None = None
    persistentVolumeClaim: Obj | None = None
    projected: Obj | None = None
    downwardAPI: Obj | None = None
    csi: Obj | None = None
    ephemeral: Obj | None = None
    nfs: Obj | None = None


class PodSpec(K8sModel):
    containers: list[Container] | None = None
    initContainers: list[Container] | None = None
    ephemeralContainers: list[Container] | None = None
    securityContext: PodSecurityContext | None = None
    volumes: list[Volume] | None = None
    hostNetwork: Bool | None = None
    hostPID: Bool | None = None
    hostIPC: Bool | None = None
    serviceAccountName: Str | None = None
    automountServiceAccountToken: Bool | None = None
    nodeSelector: dict[Str, Str] | None = None


class PodTemplateSpec(K8sModel):
    metadata: ObjectMeta | None = None
    spec: PodSpec | None = None


class TypeMeta(K8sModel):
    """What every document has: read first, so a broken kind never reaches the linter."""

    apiVersion: Str | None = None
    kind: Str | None = None
    metadata: ObjectMeta | None = None


class Pod(TypeMeta):
    spec: PodSpec | None = None


class PodTemplate(TypeMeta):
    template: PodTemplateSpec | None = None


class _TemplatedSpec(K8sModel):
    template: PodTemplateSpec | None = None
    replicas: Int32 | None = None


class Templated(TypeMeta):
    """Deployment, StatefulSet, DaemonSet, ReplicaSet, ReplicationController, Job."""

    spec: _TemplatedSpec | None = None


class _JobTemplate(K8sModel):
    spec: _TemplatedSpec | None = None


class _CronJobSpec(K8sModel):
    schedule: Str | None = None
    jobTemplate: _JobTemplate | None = None


class CronJob(TypeMeta):
    spec: _CronJobSpec | None = None


class ConfigMap(TypeMeta):
    data: dict[Str, Str] | None = None


# --- sparkoperator.k8s.io/v1beta2 ------------------------------------------------------


class SparkPodSpec(K8sModel):
    """api/v1beta2/sparkapplication_types.go SparkPodSpec (common to driver and executor)."""

    template: PodTemplateSpec | None = None
    cores: PositiveInt32 | None = None
    coreLimit: Str | None = None
    coreRequest: Str | None = None
    memory: Str | None = None
    memoryOverhead: Str | None = None
    memoryLimit: Str | None = None
    image: Str | None = None
    configMaps: list[Obj] | None = None
    secrets: list[Obj] | None = None
    env: list[EnvVar] | None = None
    envVars: dict[Str, Str] | None = None
    envFrom: list[Obj] | None = None
    envSecretKeyRefs: dict[Str, Obj] | None = None
    labels: dict[LabelKey, LabelValue] | None = None
    annotations: dict[Str, Str] | None = None
    volumeMounts: list[VolumeMount] | None = None
    podSecurityContext: PodSecurityContext | None = None
    securityContext: SecurityContext | None = None
    sidecars: list[Container] | None = None
    initContainers: list[Container] | None = None
    hostNetwork: Bool | None = None
    nodeSelector: dict[Str, Str] | None = None
    serviceAccount: Str | None = None
    javaOptions: Str | None = None
    terminationGracePeriodSeconds: Int64 | None = None
    shareProcessNamespace: Bool | None = None


class DriverSpec(SparkPodSpec):
    podName: Str | None = None
    kubernetesMaster: Str | None = None


class ExecutorSpec(SparkPodSpec):
    instances: PositiveInt32 | None = None
    deleteOnTermination: Bool | None = None


class Dependencies(K8sModel):
    jars: list[Str] | None = None
    files: list[Str] | None = None
    pyFiles: list[Str] | None = None
    packages: list[Str] | None = None
    excludePackages: list[Str] | None = None
    repositories: list[Str] | None = None
    archives: list[Str] | None = None


class DynamicAllocation(K8sModel):
    enabled: Bool | None = None
    initialExecutors: Int32 | None = None
    minExecutors: Int32 | None = None
    maxExecutors: Int32 | None = None


class SparkApplicationSpec(K8sModel):
    # The CRD's `required`: driver, executor, mainApplicationFile, sparkVersion, type.
    type: Literal["Java", "Python", "Scala", "R"]
    sparkVersion: SemVer
    mainApplicationFile: NonEmptyStr
    driver: DriverSpec
    executor: ExecutorSpec
    mode: Literal["cluster", "client"] | None = None
    image: NonEmptyStr | None = None
    imagePullPolicy: Str | None = None
    mainClass: Str | None = None
    arguments: list[Str] | None = None
    sparkConf: dict[Str, Str] | None = None
    hadoopConf: dict[Str, Str] | None = None
    sparkConfigMap: Str | None = None
    hadoopConfigMap: Str | None = None
    volumes: list[Volume] | None = None
    deps: Dependencies | None = None
    memoryOverheadFactor: Str | None = None
    pythonVersion: Literal["2", "3"] | None = None
    dynamicAllocation: DynamicAllocation | None = None
    proxyUser: Str | None = None
    nodeSelector: dict[Str, Str] | None = None


class SparkApplication(TypeMeta):
    spec: SparkApplicationSpec


class ScheduledSparkApplicationSpec(K8sModel):
    schedule: NonEmptyStr
    template: SparkApplicationSpec


class ScheduledSparkApplication(TypeMeta):
    spec: ScheduledSparkApplicationSpec


class List(TypeMeta):
    """``kind: List`` (kubectl get -o yaml): its items are checked one by one."""

    items: list[Obj] | None = None


MODELS: dict[str, type[TypeMeta]] = {
    "List": List,
    "Pod": Pod,
    "PodTemplate": PodTemplate,
    "Deployment": Templated,
    "StatefulSet": Templated,
    "DaemonSet": Templated,
    "ReplicaSet": Templated,
    "ReplicationController": Templated,
    "Job": Templated,
    "CronJob": CronJob,
    "ConfigMap": ConfigMap,
    "SparkApplication": SparkApplication,
    "ScheduledSparkApplication": ScheduledSparkApplication,
}


# --- problems --------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldProblem:
    """One value the API server (or the operator) would reject."""

    path: YamlPath
    found: str  # e.g. "the integer 5"
    expected: str  # e.g. "a list"

    def describe(self) -> str:
        where = render_path(self.path) or "the document"
        if self.found == "missing":
            return f"{where} is missing; {self.expected}"
        return f"{where} is {self.found}; it {self.expected}"


_EXPECTED = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_type": "must be true or false",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "model_attributes_type": "must be a mapping",
    "invalid_key": "must have string keys only",
    "missing": "it is required",
}


def describe_value(value: Any) -> str:
    """A few words for what a YAML value is, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    if isinstance(value, dict):
        return "a mapping"
    return f"a {type(value).__name__}"


def problems_of(error: ValidationError, prefix: YamlPath = ()) -> list[FieldProblem]:
    problems: list[FieldProblem] = []
    for item in error.errors():
        loc = tuple(p for p in item["loc"] if isinstance(p, str | int))
        kind = item["type"]
        if kind == "missing":
            problems.append(FieldProblem(prefix + loc, "missing", _EXPECTED["missing"]))
            continue
        if kind == "invalid_key":
            # pydantic puts the offending key last in loc; report it on its mapping.
            problems.append(
                FieldProblem(
                    prefix + loc, f"a key {describe_value(item['input'])}", "must be a string"
                )
            )
            continue
        if kind in _EXPECTED:
            expected = _EXPECTED[kind]
        elif kind == "literal_error":
            expected = f"must be one of {item.get('ctx', {}).get('expected', '')}"
        elif kind == "too_short":
            expected = f"must have at least {item.get('ctx', {}).get('min_length')} item(s)"
        elif kind == "too_long":
            expected = f"must have at most {item.get('ctx', {}).get('max_length')} item(s)"
        elif kind in ("greater_than_equal", "less_than_equal", "greater_than", "less_than"):
            expected = _range_text(item)
        else:
            expected = str(item["msg"])
        problems.append(FieldProblem(prefix + loc, describe_value(item["input"]), expected))
    # One problem per path: a union's members each complain about the same value.
    unique: dict[YamlPath, FieldProblem] = {}
    for problem in problems:
        unique.setdefault(problem.path, problem)
    return sorted(unique.values(), key=lambda p: [str(x) for x in p.path])


def _range_text(item: Any) -> str:
    ctx = item.get("ctx", {})
    if "ge" in ctx:
        return f"must be at least {ctx['ge']}"
    if "le" in ctx:
        return f"must be at most {ctx['le']}"
    if "gt" in ctx:
        return f"must be more than {ctx['gt']}"
    return f"must be less than {ctx.get('lt')}"


def validate_model(model: type[BaseModel], data: Any, prefix: YamlPath = ()) -> list[FieldProblem]:
    try:
        model.model_validate(data)
    except ValidationError as exc:
        return problems_of(exc, prefix)
    except RecursionError:
        return [FieldProblem(prefix, "nested too deeply", "must be a flatter document")]
    return []


def validate_manifest(doc: Any) -> list[FieldProblem]:
    """What is wrong with one manifest's shape; the kind's model when the kind is known."""
    if not isinstance(doc, dict):
        return []
    kind = doc.get("kind")
    model = MODELS.get(kind) if isinstance(kind, str) else None
    return validate_model(model or TypeMeta, doc)


def without_paths(doc: Any, paths: Iterable[YamlPath]) -> Any:
    """``doc`` with the values at ``paths`` taken out (list items become None, so the
    indices of the others and their line numbers stay right). Copies only what it must."""
    tree: dict[Any, Any] = {}
    for path in paths:
        node = tree
        for part in path:
            if node.get(_ALL):
                break
            node = node.setdefault(part, {})
        else:
            node.clear()
            node[_ALL] = True
    return _prune(doc, tree)


_ALL = object()
_REMOVED = object()


def _prune(value: Any, tree: dict[Any, Any]) -> Any:
    if tree.get(_ALL):
        return _REMOVED
    if isinstance(value, dict):
        copy = dict(value)
        for key, sub in tree.items():
            if key in copy:
                result = _prune(copy[key], sub)
                if result is _REMOVED:
                    del copy[key]
                else:
                    copy[key] = result
        return copy
    if isinstance(value, list):
        items = list(value)
        for key, sub in tree.items():
            if isinstance(key, int) and 0 <= key < len(items):
                result = _prune(items[key], sub)
                items[key] = None if result is _REMOVED else result
        return items
    return value


def require_valid(doc: Any, hint: str = "fix the input named in the message") -> None:
    """A generated manifest must validate before it is written: raise a usage error naming
    the first bad field (every input was checked before, so this is the safety net)."""
    problems = validate_manifest(doc)
    if problems:
        name = doc.get("metadata", {}).get("name") if isinstance(doc, dict) else None
        kind = doc.get("kind") if isinstance(doc, dict) else "document"
        raise UsageError(f"the {kind} {name!r} would not be valid: {problems[0].describe()}", hint)


def check_name(value: str, option: str, *, dns1035: bool = False) -> str:
    """An object name given on the command line, checked before anything is built."""
    ok = is_dns1035_label(value) if dns1035 else is_dns1123_subdomain(value)
    if not ok:
        text = DNS1035_LABEL_TEXT if dns1035 else DNS1123_SUBDOMAIN_TEXT
        raise UsageError(
            f"{option} {value!r} is not a valid name: it must be {text}",
            f"e.g. {option} {suggest_name(value)}",
        )
    return value


def check_namespace(value: str, option: str = "--namespace") -> str:
    if not is_dns1123_label(value):
        raise UsageError(
            f"{option} {value!r} is not a valid namespace: it must be {DNS1123_LABEL_TEXT}",
            f"e.g. {option} {suggest_name(value, 63)}",
        )
    return value


def check_image(value: str, option: str = "--image") -> str:
    if not value.strip() or any(c.isspace() for c in value):
        raise UsageError(
            f"{option} {value!r} is not an image reference", f"e.g. {option} registry/spark:4.0.1"
        )
    return value


def suggest_name(value: str, limit: int = 63) -> str:
    """A DNS-1035-safe name close to ``value``, for hints."""
    text = re.sub(r"[^a-z0-9-]+", "-", value.lower()).strip("-")
    text = re.sub(r"-{2,}", "-", text)
    if not text or not text[0].isalpha():
        text = f"app-{text}".rstrip("-")
    return text[:limit].rstrip("-") or "app"
