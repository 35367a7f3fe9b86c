"""One role (driver or executor) of a SparkApplication, planned: image, effective security
context (``translate.role_security``), the seccomp profile resolved like the kubelet
(``kubelet``), env, CPU and memory as Spark computes them (``resources``), volumes, and
why the kubelet or the operator would not start it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.k8s import kubelet
from profiler.k8s.container_env import EnvVar, container_env
from profiler.k8s.kubelet import CannotStart
from profiler.k8s.manifests import ManifestPlace, render_path
from profiler.k8s.operator import Operator, RoleView, Version
from profiler.k8s.resources import Cpu, Memory, SizeError, container_cpu, container_memory
from profiler.k8s.translate import role_security
from profiler.k8s.volumes import PlannedVolume, planned_volumes
from profiler.runtime.interface import ContainerSecurity


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
class PlannedRole:
    """One role as the manifest asks for it; a dry-run starts ``instances`` containers of it."""

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
    mounts: tuple[PlannedVolume, ...]
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


def plan_role(
    view: RoleView,
    spec: dict[str, Any],
    conf: dict[str, str],
    *,
    where: ManifestPlace,
    operator: Operator,
    version: Version | None,
    non_jvm: bool,
    profiles_dir: Path | None,
    image: str | None,
    instances: int,
    rejection: str | None,
) -> PlannedRole:
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

    mounts = planned_volumes(view, spec, conf, not_emulated)
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
    if rejection is not None:
        cannot = CannotStart(
            "Invalid",
            "admission webhook denied the request: " + rejection,
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

    env = container_env(view, conf, not_emulated, mounts)
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

    return PlannedRole(
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
    setting: Any, profiles_dir: Path | None, where: ManifestPlace, role: str
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
