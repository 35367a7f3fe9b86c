"""What the Spark Operator does with a SparkApplication's pod settings, by operator release.

Modelled from kubeflow/spark-operator's source at the release tags (commits in ``READ``):

- ``internal/controller/sparkapplication/submission.go``: ``driverConfOption`` and
  ``executorConfOption`` label every pod ``sparkoperator.k8s.io/launched-by-spark-operator``
  and, only when sparkVersion < 3.0 or the role has no ``template``,
  ``sparkoperator.k8s.io/mutated-by-spark-operator``. ``driverPodTemplateOption`` /
  ``executorPodTemplateOption`` (2.1.0+) hand the template to Spark as a pod template file
  and set ``spark.kubernetes.{driver,executor}.podTemplateContainerName`` to Spark's default
  container names, after ``sparkConfOption``, so a name set in sparkConf never counts.
- The pod webhook's configuration (charts/spark-operator-chart/templates/webhook/
  mutatingwebhookconfiguration.yaml) selects pods by ``launched-by-spark-operator: "true"``,
  and ``SparkPodDefaulter.Default`` (internal/webhook/sparkpod_defaulter.go) mutates every
  pod of a SparkApplication in a job namespace: nothing in any release up to 2.5.2 reads the
  ``mutated-by`` label. So, with or without a template, ``addPodSecurityContext`` and
  ``addContainerSecurityContext`` replace the pod's and the Spark container's security
  contexts wholesale whenever ``podSecurityContext`` / ``securityContext`` is set in the CRD.
- Before 2.1.0 the CRD has no ``template`` (the API server prunes it), and
  ``addContainerSecurityContext`` tests the driver's ``securityContext`` for executor pods:
  an executor's is applied only when the driver's is set too (fixed in 2.1.0).
- Before 2.3.0 ``addEnvVars`` tests the driver's ``env`` for executor pods the same way.
- From 2.1.0 the validating webhook (internal/webhook/sparkapplication_validator.go,
  ``validateSparkVersion``) rejects a template with sparkVersion < 3.0.0; from 2.4.0
  ``validateName`` wants metadata.name to be a DNS-1035 label.
- ``memoryLimit`` exists from 2.2.0 (``addMemoryLimit``).

Without the webhook (chart value ``webhook.enable: false``) none of the CRD's pod fields
(security contexts, env, volumes, sidecars) reach the pods: only what Spark itself applies.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import total_ordering
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.manifests import YamlPath, render_path

# Re-exported for the modules of k8s/ that read a manifest role by role.
from profiler.vocabulary import ROLES as ROLES

# Spark's default container names (resource-managers/kubernetes Constants.scala); the
# operator's webhook (findContainer) also accepts the Spark 2 executor name.
SPARK_CONTAINER = {"driver": "spark-kubernetes-driver", "executor": "spark-kubernetes-executor"}
TEMPLATE_CONTAINER_CONF = "spark.kubernetes.{role}.podTemplateContainerName"
LABEL_APP_NAME = "sparkoperator.k8s.io/app-name"
LABEL_LAUNCHED_BY = "sparkoperator.k8s.io/launched-by-spark-operator"
LABEL_SPARK_ROLE = "spark-role"  # set by Spark (Constants.SPARK_ROLE_LABEL)

# The release tags whose source was read, and their commits.
READ = {
    "2.0.2": "ef9a2a134b80f8c5368db53615d9aa766c67ad0a",
    "2.1.0": "664b9d01c42a04a5327e582cc23215c34e9a5020",
    "2.2.0": "53dc38ef551a7b7ed2c933e14cd5550d74fcee26",
    "2.3.0": "85f696290db7ab8e4f16a23b50d8de6c7ec5aeef",
    "2.4.0": "1199997006678a6d520c0755a0d543b3c1c47649",
    "2.5.2": "43afb8bbd32463037d8fb6e414e252c69081882b",
}
RELEASES = (
    "2.0.0",
    "2.0.1",
    "2.0.2",
    "2.1.0",
    "2.1.1",
    "2.2.0",
    "2.2.1",
    "2.3.0",
    "2.4.0",
    "2.5.0",
    "2.5.1",
    "2.5.2",
)
DEFAULT_OPERATOR_VERSION = RELEASES[-1]

_VERSION = re.compile(
    r"^v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+[0-9A-Za-z.-]+)?$"
)


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version as golang.org/x/mod/semver orders them (missing parts are 0)."""

    major: int
    minor: int = 0
    patch: int = 0
    prerelease: str = ""

    @classmethod
    def parse(cls, text: object) -> Version | None:
        match = _VERSION.match(text) if isinstance(text, str) else None
        if match is None:
            return None
        major, minor, patch, pre = match.groups()
        return cls(int(major), int(minor or 0), int(patch or 0), pre or "")

    def _key(self) -> tuple[int, int, int, int, str]:
        # A prerelease sorts before its release.
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, self.prerelease)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        text = f"{self.major}.{self.minor}.{self.patch}"
        return f"{text}-{self.prerelease}" if self.prerelease else text


V2_1 = Version(2, 1)
V2_2 = Version(2, 2)
V2_3 = Version(2, 3)
V2_4 = Version(2, 4)
SPARK_3 = Version(3)


def spark_version_below_3(text: object) -> bool:
    """The operator's test ``CompareSemanticVersion(sparkVersion, "3.0.0") < 0``: an
    unparseable version sorts below every valid one."""
    version = Version.parse(text)
    return version is None or version < SPARK_3


@dataclass(frozen=True)
class Operator:
    """One Spark Operator release and whether its mutating webhook runs."""

    version: Version
    webhook: bool = True
    notes: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return f"Spark Operator {self.version}"

    @property
    def has_template(self) -> bool:
        return self.version >= V2_1

    @property
    def executor_context_needs_driver_context(self) -> bool:
        return self.version < V2_1

    @property
    def executor_env_needs_driver_env(self) -> bool:
        return self.version < V2_3

    @property
    def has_memory_limit(self) -> bool:
        return self.version >= V2_2

    @property
    def wants_dns1035_name(self) -> bool:
        return self.version >= V2_4


def operator_for(text: str | None = None, *, webhook: bool = True) -> Operator:
    """The model for ``--operator-version`` (default: the newest release read)."""
    raw = text if text is not None else DEFAULT_OPERATOR_VERSION
    version = Version.parse(raw.strip()) if isinstance(raw, str) else None
    if version is None:
        raise UsageError(
            f"--operator-version {raw!r} is not a version",
            f"e.g. --operator-version {DEFAULT_OPERATOR_VERSION}",
        )
    if version < Version(2):
        raise UsageError(
            f"Spark Operator {version} is not modelled (the 1.x operator has another code base)",
            f"pass --operator-version 2.0.0 or later, up to {DEFAULT_OPERATOR_VERSION}",
        )
    notes: tuple[str, ...] = ()
    newest = Version.parse(DEFAULT_OPERATOR_VERSION)
    assert newest is not None
    if version > newest:
        notes = (
            f"Spark Operator {version} is newer than the newest release modelled "
            f"({DEFAULT_OPERATOR_VERSION}); it is treated as {DEFAULT_OPERATOR_VERSION}",
        )
    return Operator(version, webhook, notes)


# ---------------------------------------------------------------------------------------
# One role's pod: which security contexts take effect, and what is written but ignored


@dataclass(frozen=True)
class Ignored:
    """A setting written in the manifest that the operator drops, ignores or rejects."""

    path: YamlPath
    message: str
    fix: str
    rejects: bool = False  # the operator's validating webhook refuses the whole application


@dataclass(frozen=True)
class Replacement:
    """A CRD security field that replaces the template's context at the same level."""

    level: str  # "pod" or "container"
    crd_path: YamlPath
    template_path: YamlPath
    template_value: dict[str, Any] | None  # what the template had there (lost)


@dataclass(frozen=True)
class EffectiveContext:
    value: dict[str, Any] | None
    path: YamlPath  # where it is written, or where it would be written
    origin: str  # "crd", "template" or "none"

    def get(self, key: str) -> Any:
        return self.value.get(key) if self.value else None


@dataclass(frozen=True)
class RoleView:
    role: str
    role_path: YamlPath
    role_spec: dict[str, Any]
    template_used: bool
    template_spec: dict[str, Any]  # {} unless template_used
    template_spec_path: YamlPath
    spark_container: dict[str, Any]  # the template container Spark builds on, or {}
    spark_container_index: int | None
    pod: EffectiveContext
    container: EffectiveContext
    webhook_applies: bool  # whether the CRD's env, volumes, sidecars... reach the pod
    ignored: tuple[Ignored, ...] = ()
    replacements: tuple[Replacement, ...] = field(default=())

    @property
    def container_name(self) -> str:
        name = self.spark_container.get("name")
        return name if isinstance(name, str) and name else SPARK_CONTAINER[self.role]


def role_view(app_spec: dict[str, Any], role: str, base: YamlPath, operator: Operator) -> RoleView:
    """How ``operator`` turns ``spec.<role>`` into the role's pod (see the module doc)."""
    role_path = base + (role,)
    role_spec = _dict(app_spec.get(role))
    other_spec = _dict(app_spec.get("driver"))
    ignored: list[Ignored] = []
    where = render_path(role_path)

    template = role_spec.get("template")
    template_path = role_path + ("template",)
    template_used = False
    if isinstance(template, dict):
        if not operator.has_template:
            ignored.append(
                Ignored(
                    template_path,
                    f"{operator.name} has no template field (it came in 2.1.0): the "
                    "operator's types have no such field, so none of its settings reach the pod",
                    f"move the settings to {where}.podSecurityContext and "
                    f"{where}.securityContext, or upgrade the operator to 2.1.0 or later",
                ),
            )
        elif spark_version_below_3(app_spec.get("sparkVersion")):
            ignored.append(
                Ignored(
                    template_path,
                    f"{operator.name} rejects the SparkApplication: pod templates need "
                    f"sparkVersion 3.0.0 or later, and sparkVersion is "
                    f"{app_spec.get('sparkVersion')!r} (sparkapplication_validator.go "
                    "validateSparkVersion)",
                    "set sparkVersion to the image's Spark version (3.0.0 or later)",
                    rejects=True,
                ),
            )
        else:
            template_used = True
    template_spec = _dict(_dict(template).get("spec")) if template_used else {}
    spec_path = template_path + ("spec",)
    spark_index = spark_container_index(template_spec, role)
    containers = template_spec.get("containers")
    spark_container = (
        _dict(containers[spark_index])
        if spark_index is not None and isinstance(containers, list)
        else {}
    )

    conf_key = TEMPLATE_CONTAINER_CONF.format(role=role)
    conf_name = _dict(app_spec.get("sparkConf")).get(conf_key)
    if operator.has_template and conf_name not in (None, SPARK_CONTAINER[role]):
        ignored.append(
            Ignored(
                base + ("sparkConf", conf_key),
                f"{operator.name} sets {conf_key}={SPARK_CONTAINER[role]} itself, after sparkConf "
                f"(submission.go {role}PodTemplateOption): the template's Spark container is "
                f"the one named {SPARK_CONTAINER[role]}, else the first",
                f"name the template's Spark container {SPARK_CONTAINER[role]} and drop {conf_key}",
            )
        )

    # The CRD's security fields reach the pod only through the mutating webhook.
    crd_pod = _dict_or_none(role_spec.get("podSecurityContext"))
    crd_ctr = _dict_or_none(role_spec.get("securityContext"))
    crd_pod_path = role_path + ("podSecurityContext",)
    crd_ctr_path = role_path + ("securityContext",)
    if not operator.webhook:
        for value, path in ((crd_pod, crd_pod_path), (crd_ctr, crd_ctr_path)):
            if value is not None:
                ignored.append(
                    Ignored(
                        path,
                        "the operator's mutating webhook is off, and only the webhook copies "
                        f"{render_path(path)} into the pod (sparkpod_defaulter.go)",
                        (
                            f"move it into {render_path(spec_path)}"
                            if operator.has_template
                            else "enable the operator's webhook (webhook.enable: true)"
                        ),
                    )
                )
        crd_pod = crd_ctr = None
    elif (
        role == "executor"
        and operator.executor_context_needs_driver_context
        and _dict_or_none(other_spec.get("securityContext")) is None
        and crd_ctr is not None
    ):
        # addContainerSecurityContext before 2.1.0: `if app.Spec.Driver.SecurityContext
        # == nil { return nil }` for executor pods too.
        ignored.append(
            Ignored(
                crd_ctr_path,
                f"{operator.name} applies spec.executor.securityContext only when "
                "spec.driver.securityContext is set as well (sparkpod_defaulter.go "
                "addContainerSecurityContext tests the driver's; fixed in 2.1.0)",
                "set spec.driver.securityContext too, or upgrade the operator to 2.1.0 or later",
            )
        )
        crd_ctr = None

    if (
        operator.webhook
        and role == "executor"
        and operator.executor_env_needs_driver_env
        and _nonempty_list(role_spec.get("env"))
        and not _nonempty_list(other_spec.get("env"))
    ):
        ignored.append(
            Ignored(
                role_path + ("env",),
                f"{operator.name} adds spec.executor.env only when spec.driver.env is set as "
                "well (sparkpod_defaulter.go addEnvVars tests the driver's; fixed in 2.3.0)",
                "set spec.driver.env too, put the variables in the executor template, or "
                "upgrade the operator to 2.3.0 or later",
            )
        )
    if not operator.webhook:
        for key in ("env", "envFrom", "volumeMounts", "sidecars", "initContainers"):
            if _nonempty_list(role_spec.get(key)):
                ignored.append(
                    Ignored(
                        role_path + (key,),
                        f"the operator's mutating webhook is off, and only the webhook adds "
                        f"{where}.{key} to the pod",
                        "enable the operator's webhook, or move it into the pod template",
                    )
                )

    replacements: list[Replacement] = []
    template_pod = _dict_or_none(template_spec.get("securityContext"))
    template_pod_path = spec_path + ("securityContext",)
    if crd_pod is not None:
        pod = EffectiveContext(crd_pod, crd_pod_path, "crd")
        if template_used:
            replacements.append(Replacement("pod", crd_pod_path, template_pod_path, template_pod))
    elif template_pod is not None:
        pod = EffectiveContext(template_pod, template_pod_path, "template")
    else:
        pod = EffectiveContext(None, template_pod_path if template_used else crd_pod_path, "none")

    spark_ctr_path = (
        spec_path + ("containers", spark_index, "securityContext")
        if spark_index is not None
        else spec_path + ("containers", 0, "securityContext")
    )
    template_ctr = _dict_or_none(spark_container.get("securityContext"))
    if crd_ctr is not None:
        container = EffectiveContext(crd_ctr, crd_ctr_path, "crd")
        if template_used:
            replacements.append(
                Replacement("container", crd_ctr_path, spark_ctr_path, template_ctr)
            )
    elif template_ctr is not None:
        container = EffectiveContext(template_ctr, spark_ctr_path, "template")
    else:
        path = spark_ctr_path if template_used and spark_index is not None else crd_ctr_path
        container = EffectiveContext(None, path, "none")

    return RoleView(
        role=role,
        role_path=role_path,
        role_spec=role_spec,
        template_used=template_used,
        template_spec=template_spec,
        template_spec_path=spec_path,
        spark_container=spark_container,
        spark_container_index=spark_index,
        pod=pod,
        container=container,
        webhook_applies=operator.webhook,
        ignored=tuple(ignored),
        replacements=tuple(replacements),
    )


def spark_container_index(template_spec: dict[str, Any], role: str) -> int | None:
    """The template container Spark turns into the driver or executor container.

    The operator names it (podTemplateContainerName, see the module doc); Spark takes the
    container of that name, else the first one (KubernetesUtils.selectSparkContainer).
    """
    containers = template_spec.get("containers")
    if not isinstance(containers, list) or not containers:
        return None
    for index, container in enumerate(containers):
        if isinstance(container, dict) and container.get("name") == SPARK_CONTAINER[role]:
            return index
    return 0 if isinstance(containers[0], dict) else None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _dict_or_none(value: Any) -> dict[str, Any] | None:
    return value if isinstance(value, dict) else None


def _nonempty_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value)
