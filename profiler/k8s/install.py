"""Putting profiles on every node: a ConfigMap plus a copying DaemonSet, or SPO resources.

The DaemonSet's init container copies each profile into ``<kubelet-root>/seccomp/<dir>/``
(write to a temporary name, then rename, so the kubelet never reads half a file) and a
pause container keeps the pod alive. Its pod template carries a digest of the profiles, so
changing a profile rolls the DaemonSet and copies again. It mounts only that one directory
of the host; the copy runs as uid 0 (the owner of that directory, so no capability is
needed) with every capability dropped, no privilege escalation, a read-only root and
RuntimeDefault seccomp, and the pause container runs as a non-root uid. A hostPath writer cannot
pass PSS "restricted" or "baseline": deploy it to a namespace allowed to be privileged,
such as kube-system; the annotation below tells `k8s lint` which findings are by design.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from profiler.errors import UsageError
from profiler.k8s.manifests import Manifest
from profiler.k8s.models import check_image, check_namespace, require_valid
from profiler.k8s.paths import (
    DEFAULT_KUBELET_ROOT,
    DEFAULT_PROFILE_DIR,
    check_profile_dir,
    seccomp_root,
    spo_resource_name,
)
from profiler.k8s.spo import SpoApi, seccomp_profile_resource
from profiler.seccomp.profile import profile_from_dict

NAME = "spark-seccomp-profiles"
DEFAULT_NAMESPACE = "kube-system"
DEFAULT_IMAGE = "busybox:1.36"
DEFAULT_PAUSE_IMAGE = "registry.k8s.io/pause:3.10"
PAUSE_UID = 65535  # the pause image's own non-root user
# etcd's request limit: a ConfigMap larger than this is refused by the API server.
CONFIG_MAP_MAX_BYTES = 1024 * 1024
LINT_IGNORE_ANNOTATION = "spark-seccomp.io/lint-ignore"
# What a hostPath writer must break, and nothing else.
INSTALLER_EXCEPTIONS = ("host-path-volume", "run-as-root", "run-as-non-root-missing")
_PROFILES_MOUNT = "/profiles"
_TARGET_MOUNT = "/target"
_LABELS = {"app.kubernetes.io/name": NAME, "app.kubernetes.io/managed-by": "spark-seccomp"}


@dataclass(frozen=True)
class NodeProfile:
    """One profile as the node will hold it: its file name there and its OCI JSON text."""

    file_name: str
    text: str


def profiles_digest(profiles: list[NodeProfile]) -> str:
    digest = hashlib.sha256()
    for profile in sorted(profiles, key=lambda p: p.file_name):
        digest.update(profile.file_name.encode() + b"\0" + profile.text.encode() + b"\0")
    return digest.hexdigest()


def build_installer(
    profiles: list[NodeProfile],
    *,
    namespace: str = DEFAULT_NAMESPACE,
    directory: str = DEFAULT_PROFILE_DIR,
    kubelet_root: str = DEFAULT_KUBELET_ROOT,
    image: str = DEFAULT_IMAGE,
    pause_image: str = DEFAULT_PAUSE_IMAGE,
) -> list[Manifest]:
    """The ConfigMap with the profiles and the DaemonSet copying them onto every node."""
    if not profiles:
        raise UsageError("no profiles to install", "name one or more profile files")
    check_namespace(namespace)
    check_image(image)
    check_image(pause_image, "--pause-image")
    ordered = sorted(profiles, key=lambda p: p.file_name)
    size = sum(len(p.file_name.encode()) + len(p.text.encode()) for p in ordered)
    if size > CONFIG_MAP_MAX_BYTES:
        raise UsageError(
            f"the profiles take {size} bytes; a ConfigMap holds at most {CONFIG_MAP_MAX_BYTES}",
            "install them in several runs with different --profile-dir, or use --spo",
        )
    target = seccomp_root(kubelet_root) / check_profile_dir(directory)
    config_map: Manifest = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": NAME, "namespace": namespace, "labels": dict(_LABELS)},
        "data": {p.file_name: p.text for p in ordered},
    }
    copy_script = (
        "set -eu\n"
        f"for f in {_PROFILES_MOUNT}/*.json; do\n"
        '  n="${f##*/}"\n'
        f'  cp "$f" "{_TARGET_MOUNT}/.$n.tmp"\n'
        f'  mv -f "{_TARGET_MOUNT}/.$n.tmp" "{_TARGET_MOUNT}/$n"\n'
        f'  echo "installed {target}/$n"\n'
        "done\n"
    )
    daemon_set: Manifest = {
        "apiVersion": "apps/v1",
        "kind": "DaemonSet",
        "metadata": {
            "name": NAME,
            "namespace": namespace,
            "labels": dict(_LABELS),
            "annotations": {LINT_IGNORE_ANNOTATION: ",".join(INSTALLER_EXCEPTIONS)},
        },
        "spec": {
            "selector": {"matchLabels": {"app.kubernetes.io/name": NAME}},
            "updateStrategy": {"type": "RollingUpdate"},
            "template": {
                "metadata": {
                    "labels": dict(_LABELS),
                    "annotations": {"spark-seccomp.io/profiles-sha256": profiles_digest(ordered)},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "enableServiceLinks": False,
                    # Profiles are needed on every node a Spark pod may land on.
                    "tolerations": [{"operator": "Exists"}],
                    # Only the copying init container runs as root (see the module doc).
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": PAUSE_UID,
                        "runAsGroup": PAUSE_UID,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "initContainers": [
                        {
                            "name": "install",
                            "image": image,
                            "command": ["/bin/sh", "-c", copy_script],
                            "securityContext": {
                                **_hardened_container(),
                                "runAsNonRoot": False,
                                "runAsUser": 0,
                                "runAsGroup": 0,
                            },
                            "resources": _small_resources(),
                            "volumeMounts": [
                                {
                                    "name": "profiles",
                                    "mountPath": _PROFILES_MOUNT,
                                    "readOnly": True,
                                },
                                {"name": "target", "mountPath": _TARGET_MOUNT},
                            ],
                        }
                    ],
                    "containers": [
                        {
                            "name": "pause",
                            "image": pause_image,
                            "securityContext": _hardened_container(),
                            "resources": _small_resources(),
                        }
                    ],
                    "volumes": [
                        {"name": "profiles", "configMap": {"name": NAME}},
                        {
                            "name": "target",
                            "hostPath": {"path": str(target), "type": "DirectoryOrCreate"},
                        },
                    ],
                },
            },
        },
    }
    for manifest in (config_map, daemon_set):
        require_valid(manifest)
    return [config_map, daemon_set]


def _hardened_container() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "capabilities": {"drop": ["ALL"]},
        "readOnlyRootFilesystem": True,
        "privileged": False,
    }


def _small_resources() -> dict[str, Any]:
    return {
        "requests": {"cpu": "10m", "memory": "16Mi"},
        "limits": {"cpu": "100m", "memory": "32Mi"},
    }


@dataclass(frozen=True)
class SpoResult:
    manifests: list[Manifest]
    notes: tuple[str, ...]


def build_spo_profiles(profiles: list[NodeProfile], api: SpoApi = SpoApi.V1) -> SpoResult:
    """One SeccompProfile per profile; the operator installs ``operator/<name>.json``.

    ``api`` v1 is SPO 1.x's storage version; v1beta1 is what SPO 0.x stores (1.x still
    serves it).
    """
    if not profiles:
        raise UsageError("no profiles to install", "name one or more profile files")
    manifests: list[Manifest] = []
    notes: list[str] = []
    for profile in sorted(profiles, key=lambda p: p.file_name):
        parsed = profile_from_dict(json.loads(profile.text), profile.file_name)
        manifest, more = seccomp_profile_resource(
            spo_resource_name(profile.file_name), parsed, dict(_LABELS), api
        )
        manifests.append(manifest)
        notes.extend(
            note.replace(manifest["metadata"]["name"], profile.file_name, 1) for note in more
        )
    return SpoResult(manifests, tuple(notes))
