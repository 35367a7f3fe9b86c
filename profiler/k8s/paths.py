"""Where a Localhost seccomp profile lives on a node, and how a manifest names it.

The kubelet reads ``<kubelet-root>/seccomp/<localhostProfile>``. ``k8s install`` puts
files there and ``k8s sparkapp`` writes the matching ``localhostProfile``: both go
through ``localhost_profile`` so the two can never disagree.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

from profiler.errors import UsageError

DEFAULT_KUBELET_ROOT = "/var/lib/kubelet"
DEFAULT_PROFILE_DIR = "spark-seccomp"
# The Security Profiles Operator (v0.9.0 and later, cluster-scoped SeccompProfile) writes
# each profile to <kubelet-root>/seccomp/operator/<name>.json.
SPO_PROFILE_DIR = "operator"

# ConfigMap keys allow [-._a-zA-Z0-9]; SPO names must be DNS-1123 subdomains.
_FILE_NAME = re.compile(r"^[A-Za-z0-9][-._A-Za-z0-9]*\.json$")
_SPO_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DIR_PART = re.compile(r"^[A-Za-z0-9][-._A-Za-z0-9]*$")


def node_file_name(profile_path: Path | str, *, spo: bool = False) -> str:
    """The file name a profile gets on the node: its own name, checked to be usable there."""
    name = PurePosixPath(str(profile_path)).name
    if not name.endswith(".json"):
        raise UsageError(
            f"profile {profile_path} must be named *.json",
            "the node file keeps the profile's file name; rename it, e.g. driver.json",
        )
    if not _FILE_NAME.match(name):
        raise UsageError(
            f"profile file name {name!r} cannot be a ConfigMap key",
            "use letters, digits, '-', '_' and '.' only",
        )
    if spo and not _SPO_NAME.match(spo_resource_name(name)):
        raise UsageError(
            f"profile file name {name!r} cannot name a SeccompProfile resource",
            "with --spo use lower-case letters, digits, '-' and '.' only, e.g. driver.json",
        )
    return name


def spo_resource_name(file_name: str) -> str:
    """The SeccompProfile's metadata.name, which the operator turns back into ``<name>.json``."""
    return file_name[: -len(".json")] if file_name.endswith(".json") else file_name


def check_profile_dir(directory: str) -> str:
    """A relative, descending directory under the kubelet's seccomp root."""
    parts = directory.strip("/").split("/") if directory else []
    if directory.startswith("/") or not parts or not all(_DIR_PART.match(p) for p in parts):
        raise UsageError(
            f"profile directory {directory!r} must be a relative path under <kubelet-root>/seccomp",
            f"e.g. --profile-dir {DEFAULT_PROFILE_DIR}",
        )
    if any(p == ".." for p in parts):
        raise UsageError(f"profile directory {directory!r} must not contain '..'")
    return "/".join(parts)


def localhost_profile(file_name: str, directory: str = DEFAULT_PROFILE_DIR) -> str:
    """The ``localhostProfile`` value for a profile file installed in ``directory``."""
    return f"{check_profile_dir(directory)}/{file_name}"


def node_profile_path(localhost: str, kubelet_root: str = DEFAULT_KUBELET_ROOT) -> PurePosixPath:
    """Where the kubelet looks for ``localhost`` on a node."""
    problem = localhost_profile_problem(localhost)
    if problem:
        raise UsageError(f"localhostProfile {localhost!r} {problem}")
    return seccomp_root(kubelet_root) / localhost


def seccomp_root(kubelet_root: str = DEFAULT_KUBELET_ROOT) -> PurePosixPath:
    root = PurePosixPath(kubelet_root)
    if not root.is_absolute():
        raise UsageError(f"kubelet root {kubelet_root!r} must be an absolute path")
    return root / "seccomp"


def localhost_profile_problem(value: object) -> str | None:
    """Why a ``localhostProfile`` value cannot work, or None when it can."""
    if not isinstance(value, str) or not value.strip():
        return "is empty"
    if value.startswith("/"):
        return "is absolute; it must be relative to <kubelet-root>/seccomp"
    if ".." in value.split("/"):
        return "contains '..'; it must be a descending path"
    return None
