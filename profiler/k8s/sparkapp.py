"""SparkApplication manifests (sparkoperator.k8s.io/v1beta2) that pass PSS "restricted".

Two styles carry the same settings. ``template`` puts them in the driver and executor pod
templates (operator 2.1.0 and later, Spark 3.0.0 and later); ``fields`` uses the CRD's own
``podSecurityContext`` / ``securityContext`` / ``volumeMounts``, which only the operator's
webhook copies into the pods. Never both: the webhook replaces a template's security
contexts wholesale when the CRD fields are set (see ``operator``). Without a style, the
template is used where the operator release and the Spark version allow it.

Everything is checked before it is built (names, namespace, counts, image, main file,
versions), and the result is validated against ``models`` before it is returned.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.manifests import Manifest
from profiler.k8s.models import (
    INT32_MAX,
    check_image,
    check_name,
    check_namespace,
    is_semver,
    require_valid,
)
from profiler.k8s.operator import (
    SPARK_CONTAINER,
    Operator,
    Version,
    operator_for,
    spark_version_below_3,
)
from profiler.seccomp.generate import load_summary, summary_path_for
from profiler.vocabulary import ROLES, SPARK_UID, WRITABLE_PATHS

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
# Spark treats mounts whose volume name starts with spark-local-dir- as its local dirs.
LOCAL_DIR_VOLUME = "spark-local-dir-1"
LOCAL_DIR_PATH = "/var/data/spark-local-dir-1"
DEFAULT_SERVICE_ACCOUNT = "spark-operator-spark"
IMAGE_REPOSITORY = "spark-seccomp/spark"


def default_image(spark_version: str) -> str:
    """The tool's own image for that Spark version (`spark-seccomp image build`)."""
    return f"{IMAGE_REPOSITORY}:{spark_version}"


def local_image_warning(image: str) -> str:
    """What to say when the manifest names the tool's own image: it exists on this machine
    only, so a cluster's nodes fail to pull it (ErrImagePull)."""
    return (
        f"warning: no --image given: {image} is this machine's image (built by `spark-seccomp "
        "image build`), which no registry serves, so a cluster's nodes cannot pull it; push "
        "it to a registry your cluster pulls from (or load it into a kind or minikube node) "
        f"and pass --image REGISTRY/{image.rpartition('/')[2]}, or pass your own Spark image"
    )


def spark_line(version: str) -> tuple[int, int] | None:
    """A Spark version's line, major.minor: releases of one line make the same calls."""
    parsed = Version.parse(version)
    return (parsed.major, parsed.minor) if parsed is not None else None


def spark_line_warnings(profiles: Iterable[Path], spark_version: str) -> list[str]:
    """A warning for each profile whose summary (``NAME.summary.json`` beside it) says it
    was recorded on another Spark line than ``spark_version``: Spark 4.3.0 makes six calls
    3.5.9 never makes (epoll_pwait2, mremap, recvmmsg...), and a profile without them denies
    them. Profiles without a summary, or whose summary does not say, are not judged."""
    warnings = []
    wanted = spark_line(spark_version)
    for path in dict.fromkeys(profiles):
        summary_path = summary_path_for(path)
        if not summary_path.is_file():
            continue
        recorded = load_summary(summary_path).spark_versions
        if not recorded or wanted is None or wanted in {spark_line(v) for v in recorded}:
            continue
        warnings.append(
            f"warning: {path} was recorded on Spark {', '.join(recorded)}, but sparkVersion is "
            f"{spark_version}: each Spark line makes calls the other does not, so a job may be "
            f"denied one; record the profile on Spark {spark_version} (`spark-seccomp record "
            "--image` with that version's image) or merge such a recording in"
        )
    return warnings


class Style(str, enum.Enum):
    TEMPLATE = "template"
    FIELDS = "fields"


class Seccomp(str, enum.Enum):
    LOCALHOST = "localhost"
    RUNTIME_DEFAULT = "runtime-default"


@dataclass(frozen=True)
class SparkAppSpec:
    name: str
    image: str
    main_application_file: str
    spark_version: str
    namespace: str | None = None
    style: Style | None = None  # None: the template where operator and Spark allow it
    seccomp: Seccomp = Seccomp.LOCALHOST
    driver_profile: str | None = None  # localhostProfile values, see paths.localhost_profile
    executor_profile: str | None = None
    service_account: str = DEFAULT_SERVICE_ACCOUNT
    executor_instances: int = 1
    arguments: tuple[str, ...] = ()
    operator: Operator = field(default_factory=operator_for)

    def profile_of(self, role: str) -> str | None:
        return self.driver_profile if role == "driver" else self.executor_profile


def template_possible(spec: SparkAppSpec) -> str | None:
    """Why the template style cannot work for ``spec``, or None when it can."""
    if not spec.operator.has_template:
        return f"{spec.operator.name} has no pod template field (it came in 2.1.0)"
    if spark_version_below_3(spec.spark_version):
        return f"Spark {spec.spark_version} has no pod templates (they came in Spark 3.0.0)"
    return None


def resolve_style(spec: SparkAppSpec) -> Style:
    why_not = template_possible(spec)
    if spec.style is None:
        return Style.TEMPLATE if why_not is None else Style.FIELDS
    if spec.style is Style.TEMPLATE and why_not is not None:
        raise UsageError(f"--style template cannot work: {why_not}", "use --style fields")
    if spec.style is Style.FIELDS and not spec.operator.webhook:
        raise UsageError(
            "--style fields needs the operator's webhook: only the webhook copies the CRD's "
            "security fields into the pods",
            "use --style template (operator 2.1.0 and later)",
        )
    return spec.style


def check_spec(spec: SparkAppSpec) -> tuple[str, ...]:
    """Every input checked before anything is built; returns notes worth printing."""
    check_name(spec.name, "--name", dns1035=True)
    if spec.namespace is not None:
        check_namespace(spec.namespace)
    if not is_semver(spec.spark_version) or spec.spark_version.count(".") != 2:
        raise UsageError(
            f"--spark-version {spec.spark_version!r} is not a Spark version",
            "give major.minor.patch, e.g. --spark-version 4.0.1",
        )
    check_image(spec.image)
    main = spec.main_application_file
    if not main.strip() or any(c.isspace() for c in main):
        raise UsageError(
            f"--main {main!r} is not a file name or URI",
            "e.g. --main local:///opt/app/job.py (a path inside the image)",
        )
    check_name(spec.service_account, "--service-account")
    if not 1 <= spec.executor_instances <= INT32_MAX:
        raise UsageError(
            f"--executors {spec.executor_instances} is out of range",
            f"give 1 to {INT32_MAX} (spec.executor.instances is an int32, minimum 1)",
        )
    notes = list(spec.operator.notes)
    tag = spec.image.rpartition(":")[2] if ":" in spec.image.rpartition("/")[2] else ""
    tag_version, app_version = Version.parse(tag), Version.parse(spec.spark_version)
    if tag_version is not None and app_version is not None and tag_version != app_version:
        notes.append(
            f"warning: the image {spec.image} is tagged {tag}, but sparkVersion is "
            f"{spec.spark_version}; the operator and Spark rely on sparkVersion matching the image"
        )
    if spec.style is None and resolve_style(spec) is Style.FIELDS:
        notes.append(f"--style fields: {template_possible(spec)}")
    return tuple(notes)


def writable_mounts() -> list[tuple[str, str]]:
    """(volume name, mount path) for every emptyDir the Spark container writes to."""
    named = [(_volume_name(path), path) for path in WRITABLE_PATHS]
    return [*named, (LOCAL_DIR_VOLUME, LOCAL_DIR_PATH)]


def _volume_name(path: str) -> str:
    return path.strip("/").replace("/", "-").replace("_", "-") or "root"


def seccomp_profile(spec: SparkAppSpec, role: str) -> dict[str, str]:
    if spec.seccomp is Seccomp.RUNTIME_DEFAULT:
        return {"type": "RuntimeDefault"}
    profile = spec.profile_of(role)
    if not profile:
        raise UsageError(
            f"no seccomp profile for the {role}",
            "pass --profile, or --driver-profile and --executor-profile, or --seccomp runtime-default",
        )
    return {"type": "Localhost", "localhostProfile": profile}


# The pod's own seccompProfile is RuntimeDefault, the role's profile sits on the Spark
# container. The kubelet hands the pod-level profile to the pod sandbox as well, and
# containerd loads it into the sandbox's pause process: Kubernetes' pause loops on
# pause(2), which a profile recorded from Spark does not allow, so under a pod-level
# Localhost profile pause gets ENOSYS at once and spins on a CPU for the pod's lifetime.
POD_SECCOMP_PROFILE: dict[str, str] = {"type": "RuntimeDefault"}


def pod_security_context() -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        # Spark images say `USER spark` by name; the kubelet can only check a numeric uid.
        "runAsUser": SPARK_UID,
        "runAsGroup": SPARK_UID,
        "seccompProfile": dict(POD_SECCOMP_PROFILE),
    }


def container_security_context(spec: SparkAppSpec, role: str) -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "seccompProfile": seccomp_profile(spec, role),
    }


def _volumes() -> list[dict[str, Any]]:
    return [{"name": name, "emptyDir": {}} for name, _ in writable_mounts()]


def _volume_mounts() -> list[dict[str, Any]]:
    return [{"name": name, "mountPath": path} for name, path in writable_mounts()]


def build_sparkapp(spec: SparkAppSpec) -> Manifest:
    """The SparkApplication as a dict with a fixed key order, checked and validated."""
    check_spec(spec)
    style = resolve_style(spec)
    metadata: dict[str, Any] = {"name": spec.name}
    if spec.namespace:
        metadata["namespace"] = spec.namespace
    metadata["labels"] = {"app.kubernetes.io/managed-by": "spark-seccomp"}
    body: dict[str, Any] = {
        "type": "Python",
        "mode": "cluster",
        "image": spec.image,
        "imagePullPolicy": "IfNotPresent",
        "mainApplicationFile": spec.main_application_file,
    }
    if spec.arguments:
        body["arguments"] = list(spec.arguments)
    body["sparkVersion"] = spec.spark_version
    body["restartPolicy"] = {"type": "Never"}
    if style is Style.FIELDS:
        body["volumes"] = _volumes()
    for role in ROLES:
        body[role] = _role(spec, role, style)
    doc = {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}
    require_valid(doc)
    return doc


def _role(spec: SparkAppSpec, role: str, style: Style) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if role == "executor":
        data["instances"] = spec.executor_instances
    data["cores"] = 1
    data["memory"] = "1g"
    data["labels"] = {"app.kubernetes.io/component": f"spark-{role}"}
    if role == "driver":
        data["serviceAccount"] = spec.service_account
    if style is Style.FIELDS:
        data["podSecurityContext"] = pod_security_context()
        data["securityContext"] = container_security_context(spec, role)
        data["volumeMounts"] = _volume_mounts()
    else:
        data["template"] = pod_template(spec, role)
    return data


def pod_template(spec: SparkAppSpec, role: str) -> dict[str, Any]:
    """A PodTemplateSpec: Spark fills in image, command and resources of the one container."""
    return {
        "spec": {
            "securityContext": pod_security_context(),
            "containers": [
                {
                    "name": SPARK_CONTAINER[role],
                    "securityContext": container_security_context(spec, role),
                    "volumeMounts": _volume_mounts(),
                }
            ],
            "volumes": _volumes(),
        }
    }
