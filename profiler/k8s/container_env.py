"""The Spark container's inline environment, in the order the kubelet applies it (the
last value of a name wins); env taken from ConfigMaps and Secrets is listed as not emulated.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from profiler.k8s.operator import RoleView
from profiler.k8s.volumes import LOCAL_DIR_PREFIX, PlannedVolume


@dataclass(frozen=True)
class EnvVar:
    """One variable of the Spark container's env, and which layer set it last."""

    name: str
    value: str
    origin: str  # "template", "spark-conf", "crd" or "spark"


def container_env(
    view: RoleView, conf: dict[str, str], not_emulated: list[str], mounts: Iterable[PlannedVolume]
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
