"""The volumes a Spark container mounts, as a dry-run emulates them.

From the pod template's volumeMounts, Spark's own volume conf
(``spark.kubernetes.<role>.volumes.*``, MountVolumesFeatureStep), the CRD's volumeMounts
added by the operator's webhook, and the spark.local.dir emptyDir Spark adds
(LocalDirsFeatureStep). emptyDir and hostPath are planned; other volume types are listed
as not emulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from profiler.k8s.operator import RoleView
from profiler.k8s.resources import SizeError, k8s_bytes

LOCAL_DIR_PREFIX = "spark-local-dir-"
# Spark's LocalDirsFeatureStep names the volume spark-local-dir-1 and mounts it at
# /var/data/spark-<uuid>; a fixed path stands for the random one.
SPARK_LOCAL_DIR = "/var/data/spark-local-dir-1"


@dataclass(frozen=True)
class PlannedVolume:
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


def planned_volumes(
    view: RoleView, spec: dict[str, Any], conf: dict[str, str], not_emulated: list[str]
) -> tuple[PlannedVolume, ...]:
    mounts: list[PlannedVolume] = []
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
            PlannedVolume(
                "spark-local-dir-1",
                "emptyDir",
                SPARK_LOCAL_DIR,
                medium="Memory" if tmpfs else None,
                origin="spark",
            )
        )
    unique: dict[str, PlannedVolume] = {}
    for mount in mounts:
        unique.setdefault(mount.mount_path, mount)
    return tuple(sorted(unique.values(), key=lambda m: m.mount_path))


def _add_mount(
    mounts: list[PlannedVolume],
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
            PlannedVolume(
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
            PlannedVolume(
                name, "hostPath", path, read_only, sub_path, host_path=host, origin=origin
            )
        )
    else:
        kinds = sorted(k for k in volume if k != "name")
        kind = kinds[0] if kinds else "unknown"
        not_emulated.append(f"{kind} volume {name!r} at {path} is not emulated")


def _conf_mounts(role: str, conf: dict[str, str], not_emulated: list[str]) -> list[PlannedVolume]:
    """spark.kubernetes.<role>.volumes.<type>.<name>.* (Spark's MountVolumesFeatureStep)."""
    prefix = f"spark.kubernetes.{role}.volumes."
    found: dict[tuple[str, str], dict[str, str]] = {}
    for key, value in conf.items():
        if not key.startswith(prefix):
            continue
        parts = key[len(prefix) :].split(".", 2)
        if len(parts) == 3:
            found.setdefault((parts[0], parts[1]), {})[parts[2]] = value
    mounts: list[PlannedVolume] = []
    for (kind, name), options in sorted(found.items()):
        path = options.get("mount.path")
        if path is None:
            continue
        read_only = options.get("mount.readOnly", "false").lower() == "true"
        sub_path = options.get("mount.subPath")
        if kind == "emptyDir":
            mounts.append(
                PlannedVolume(
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
                PlannedVolume(
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
