"""SparkApplication manifests (sparkoperator.k8s.io/v1beta2) that pass PSS "restricted".

Two styles carry the same settings. ``template`` puts them in the driver and executor pod
templates, as the operator recommends since 2.1.0; ``fields`` uses the CRD's own
``podSecurityContext`` / ``securityContext`` / ``volumeMounts``. Never both: the operator's
webhook replaces a template's security contexts wholesale when the CRD fields are set.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.manifests import Manifest
from profiler.runtime.interface import SPARK_UID, WRITABLE_PATHS

API_VERSION = "sparkoperator.k8s.io/v1beta2"
KIND = "SparkApplication"
ROLES = ("driver", "executor")
# Spark's default container names; the operator's webhook finds the Spark container by them.
SPARK_CONTAINER = {"driver": "spark-kubernetes-driver", "executor": "spark-kubernetes-executor"}
# Spark treats mounts whose volume name starts with spark-local-dir- as its local dirs.
LOCAL_DIR_VOLUME = "spark-local-dir-1"
LOCAL_DIR_PATH = "/var/data/spark-local-dir-1"
DEFAULT_SERVICE_ACCOUNT = "spark-operator-spark"


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
    style: Style = Style.TEMPLATE
    seccomp: Seccomp = Seccomp.LOCALHOST
    driver_profile: str | None = None  # localhostProfile values, see paths.localhost_profile
    executor_profile: str | None = None
    service_account: str = DEFAULT_SERVICE_ACCOUNT
    executor_instances: int = 1
    arguments: tuple[str, ...] = ()

    def profile_of(self, role: str) -> str | None:
        return self.driver_profile if role == "driver" else self.executor_profile


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


def pod_security_context(spec: SparkAppSpec, role: str) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        # Spark images say `USER spark` by name; the kubelet can only check a numeric uid.
        "runAsUser": SPARK_UID,
        "runAsGroup": SPARK_UID,
        "seccompProfile": seccomp_profile(spec, role),
    }


def container_security_context() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
    }


def _volumes() -> list[dict[str, Any]]:
    return [{"name": name, "emptyDir": {}} for name, _ in writable_mounts()]


def _volume_mounts() -> list[dict[str, Any]]:
    return [{"name": name, "mountPath": path} for name, path in writable_mounts()]


def build_sparkapp(spec: SparkAppSpec) -> Manifest:
    """The SparkApplication as a dict with a fixed key order."""
    if spec.executor_instances < 1:
        raise UsageError("a SparkApplication needs at least one executor", "pass --executors 1")
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
    if spec.style is Style.FIELDS:
        body["volumes"] = _volumes()
    for role in ROLES:
        body[role] = _role(spec, role)
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": body}


def _role(spec: SparkAppSpec, role: str) -> dict[str, Any]:
    data: dict[str, Any] = {}
    if role == "executor":
        data["instances"] = spec.executor_instances
    data["cores"] = 1
    data["memory"] = "1g"
    data["labels"] = {"app.kubernetes.io/component": f"spark-{role}"}
    if role == "driver":
        data["serviceAccount"] = spec.service_account
    if spec.style is Style.FIELDS:
        data["podSecurityContext"] = pod_security_context(spec, role)
        data["securityContext"] = container_security_context()
        data["volumeMounts"] = _volume_mounts()
    else:
        data["template"] = pod_template(spec, role)
    return data


def pod_template(spec: SparkAppSpec, role: str) -> dict[str, Any]:
    """A PodTemplateSpec: Spark fills in image, command and resources of the one container."""
    return {
        "spec": {
            "securityContext": pod_security_context(spec, role),
            "containers": [
                {
                    "name": SPARK_CONTAINER[role],
                    "securityContext": container_security_context(),
                    "volumeMounts": _volume_mounts(),
                }
            ],
            "volumes": _volumes(),
        }
    }
