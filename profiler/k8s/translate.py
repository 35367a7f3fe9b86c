"""What a SparkApplication's driver and executor pods will really run with.

Which security contexts take effect is the operator's business and is modelled per release
in ``profiler.k8s.operator`` (``role_view``): the CRD's ``podSecurityContext`` /
``securityContext`` replace the template's contexts wholesale when set and the webhook
runs, otherwise the template's count. This module turns the result into container terms;
container-level values win over pod-level ones, as in the kubelet.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.operator import (
    ROLES,
    SPARK_CONTAINER,
    TEMPLATE_CONTAINER_CONF,
    Operator,
    RoleView,
    operator_for,
    role_view,
)
from profiler.runtime.interface import ContainerSecurity

__all__ = [
    "ROLES",
    "SPARK_CONTAINER",
    "SPARK_CONTAINER_NAMES",
    "TEMPLATE_CONTAINER_CONF",
    "RoleSecurity",
    "SeccompSetting",
    "app_spec_of",
    "security_from_manifest",
]

SPARK_CONTAINER_NAMES = {role: (name,) for role, name in SPARK_CONTAINER.items()}
SPARK_KINDS = {"SparkApplication": ("spec",), "ScheduledSparkApplication": ("spec", "template")}


@dataclass(frozen=True)
class SeccompSetting:
    """A seccompProfile as the pod will get it; ``type`` None means nothing was set."""

    type: str | None = None
    localhost_profile: str | None = None
    # Where it is written in the manifest; not part of what the setting is.
    path: tuple[str | int, ...] = field(default=(), compare=False)


@dataclass(frozen=True)
class RoleSecurity:
    role: str
    container: ContainerSecurity
    seccomp: SeccompSetting
    # Where each part came from, for messages: "crd", "template" or "none".
    pod_context_source: str = "none"
    container_context_source: str = "none"
    view: RoleView | None = None


def app_spec_of(manifest: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    """A SparkApplication's spec (or a ScheduledSparkApplication's spec.template) and its path."""
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    if not isinstance(kind, str) or kind not in SPARK_KINDS:
        shown = kind if isinstance(manifest, dict) else type(manifest).__name__
        raise UsageError(f"expected a SparkApplication, got {shown!r}")
    node: Any = manifest
    for part in SPARK_KINDS[kind]:
        node = node.get(part) if isinstance(node, dict) else None
    return (node if isinstance(node, dict) else {}), SPARK_KINDS[kind]


def security_from_manifest(
    manifest: Any, operator: Operator | None = None
) -> dict[str, RoleSecurity]:
    """The effective security of the driver and executor pods of a SparkApplication."""
    spec, base = app_spec_of(manifest)
    model = operator or operator_for()
    return {role: role_security(role_view(spec, role, base, model), spec) for role in ROLES}


def role_security(view: RoleView, app_spec: dict[str, Any]) -> RoleSecurity:
    pod_ctx = view.pod.value or {}
    ctr_ctx = view.container.value or {}
    capabilities = _dict(ctr_ctx.get("capabilities"))
    security = ContainerSecurity(
        user=_int(ctr_ctx.get("runAsUser"), _int(pod_ctx.get("runAsUser"))),
        group=_int(ctr_ctx.get("runAsGroup"), _int(pod_ctx.get("runAsGroup"))),
        cap_drop=tuple(str(c) for c in _list(capabilities.get("drop"))),
        cap_add=tuple(str(c) for c in _list(capabilities.get("add"))),
        no_new_privileges=ctr_ctx.get("allowPrivilegeEscalation") is False,
        read_only_root=ctr_ctx.get("readOnlyRootFilesystem") is True,
        writable_paths=_writable_paths(app_spec, view),
        network=True,
        privileged=ctr_ctx.get("privileged") is True,
    )
    seccomp = _seccomp(ctr_ctx.get("seccompProfile"), view.container.path) or _seccomp(
        pod_ctx.get("seccompProfile"), view.pod.path
    )
    return RoleSecurity(
        view.role,
        security,
        seccomp or SeccompSetting(),
        view.pod.origin,
        view.container.origin,
        view,
    )


def _writable_paths(app_spec: dict[str, Any], view: RoleView) -> tuple[str, ...]:
    """Mount paths of writable emptyDir volumes: the template's, plus the CRD's
    volumeMounts (added by the webhook, or by Spark for spark-local-dir-* volumes)."""
    volumes: dict[Any, Any] = {}
    for v in _list(app_spec.get("volumes")) + _list(view.template_spec.get("volumes")):
        if isinstance(v, dict):
            volumes.setdefault(v.get("name"), v)
    mounts = _list(view.spark_container.get("volumeMounts"))
    for mount in _list(view.role_spec.get("volumeMounts")):
        name = mount.get("name") if isinstance(mount, dict) else None
        if view.webhook_applies or (isinstance(name, str) and name.startswith("spark-local-dir-")):
            mounts.append(mount)
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


def _seccomp(raw: Any, context_path: tuple[str | int, ...]) -> SeccompSetting | None:
    if not isinstance(raw, dict) or raw.get("type") is None:
        return None
    profile = raw.get("localhostProfile")
    return SeccompSetting(
        str(raw["type"]),
        profile if isinstance(profile, str) else None,
        context_path + ("seccompProfile",),
    )


def _int(value: Any, fallback: int | None = None) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return fallback


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else []
