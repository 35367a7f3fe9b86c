"""What a SparkApplication's driver and executor pods will really run with.

The pod security context and the Spark container's security context each come from the
CRD fields (``podSecurityContext`` / ``securityContext``) when those are set, else from the
role's ``template``: the operator's webhook replaces the template's contexts wholesale, it
does not merge them. Container-level values win over pod-level ones, as in the kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiler.errors import UsageError
from profiler.runtime.interface import ContainerSecurity

ROLES = ("driver", "executor")
SPARK_CONTAINER_NAMES = {
    "driver": ("spark-kubernetes-driver",),
    # Spark 3 names the executor container spark-kubernetes-executor; older ones `executor`.
    "executor": ("spark-kubernetes-executor", "executor"),
}
TEMPLATE_CONTAINER_CONF = "spark.kubernetes.{role}.podTemplateContainerName"


@dataclass(frozen=True)
class SeccompSetting:
    """A seccompProfile as the pod will get it; ``type`` None means nothing was set."""

    type: str | None = None
    localhost_profile: str | None = None


@dataclass(frozen=True)
class RoleSecurity:
    role: str
    container: ContainerSecurity
    seccomp: SeccompSetting
    # Where each part came from, for messages: "crd", "template" or "default".
    pod_context_source: str = "default"
    container_context_source: str = "default"


def security_from_manifest(manifest: Any) -> dict[str, RoleSecurity]:
    """The effective security of the driver and executor pods of a SparkApplication."""
    if not isinstance(manifest, dict) or manifest.get("kind") != "SparkApplication":
        kind = manifest.get("kind") if isinstance(manifest, dict) else type(manifest).__name__
        raise UsageError(f"expected a SparkApplication, got {kind!r}")
    spec = _dict(manifest.get("spec"))
    return {role: _role_security(spec, role) for role in ROLES}


def _role_security(spec: dict[str, Any], role: str) -> RoleSecurity:
    role_spec = _dict(spec.get(role))
    template_spec = _dict(_dict(role_spec.get("template")).get("spec"))
    spark_container = spark_template_container(template_spec, spec, role)

    if isinstance(role_spec.get("podSecurityContext"), dict):
        pod_ctx, pod_source = role_spec["podSecurityContext"], "crd"
    elif isinstance(template_spec.get("securityContext"), dict):
        pod_ctx, pod_source = template_spec["securityContext"], "template"
    else:
        pod_ctx, pod_source = {}, "default"
    if isinstance(role_spec.get("securityContext"), dict):
        ctr_ctx, ctr_source = role_spec["securityContext"], "crd"
    elif isinstance(spark_container.get("securityContext"), dict):
        ctr_ctx, ctr_source = spark_container["securityContext"], "template"
    else:
        ctr_ctx, ctr_source = {}, "default"

    capabilities = _dict(ctr_ctx.get("capabilities"))
    security = ContainerSecurity(
        user=_int(ctr_ctx.get("runAsUser"), _int(pod_ctx.get("runAsUser"))),
        group=_int(ctr_ctx.get("runAsGroup"), _int(pod_ctx.get("runAsGroup"))),
        cap_drop=tuple(str(c) for c in capabilities.get("drop") or ()),
        cap_add=tuple(str(c) for c in capabilities.get("add") or ()),
        no_new_privileges=ctr_ctx.get("allowPrivilegeEscalation") is False,
        read_only_root=ctr_ctx.get("readOnlyRootFilesystem") is True,
        writable_paths=_writable_paths(spec, role_spec, template_spec, spark_container),
        network=True,
        privileged=ctr_ctx.get("privileged") is True,
    )
    seccomp = _seccomp(ctr_ctx.get("seccompProfile")) or _seccomp(pod_ctx.get("seccompProfile"))
    return RoleSecurity(role, security, seccomp or SeccompSetting(), pod_source, ctr_source)


def spark_template_container(
    template_spec: dict[str, Any], app_spec: dict[str, Any], role: str
) -> dict[str, Any]:
    """The template container Spark turns into the driver or executor container.

    Spark picks the one named by spark.kubernetes.<role>.podTemplateContainerName, else the
    first one; we also accept Spark's default names, which the operator's webhook looks for.
    """
    containers = [c for c in template_spec.get("containers") or [] if isinstance(c, dict)]
    if not containers:
        return {}
    conf = _dict(app_spec.get("sparkConf"))
    wanted = conf.get(TEMPLATE_CONTAINER_CONF.format(role=role))
    names = (wanted,) if wanted else SPARK_CONTAINER_NAMES[role]
    for container in containers:
        if container.get("name") in names:
            return container
    return containers[0]


def _writable_paths(
    app_spec: dict[str, Any],
    role_spec: dict[str, Any],
    template_spec: dict[str, Any],
    spark_container: dict[str, Any],
) -> tuple[str, ...]:
    """Mount paths of emptyDir volumes: template mounts plus the CRD's volumeMounts."""
    volumes = {
        v.get("name"): v
        for v in [*(app_spec.get("volumes") or []), *(template_spec.get("volumes") or [])]
        if isinstance(v, dict)
    }
    mounts = [*(spark_container.get("volumeMounts") or []), *(role_spec.get("volumeMounts") or [])]
    paths: list[str] = []
    for mount in mounts:
        if not isinstance(mount, dict):
            continue
        volume = volumes.get(mount.get("name"))
        path = mount.get("mountPath")
        if (
            isinstance(volume, dict)
            and "emptyDir" in volume
            and isinstance(path, str)
            and not mount.get("readOnly")
            and path not in paths
        ):
            paths.append(path)
    return tuple(paths)


def _seccomp(raw: Any) -> SeccompSetting | None:
    if not isinstance(raw, dict) or raw.get("type") is None:
        return None
    profile = raw.get("localhostProfile")
    return SeccompSetting(str(raw["type"]), profile if isinstance(profile, str) else None)


def _int(value: Any, fallback: int | None = None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return fallback


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
