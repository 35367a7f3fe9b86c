"""What the kubelet does with a pod's seccomp setting, before any container starts.

``localhostProfile`` is read from ``<kubelet-root>/seccomp/<localhostProfile>``; here a
directory given by the user plays ``<kubelet-root>/seccomp``. A profile the kubelet could not
load is a ``CannotStart`` in the kubelet's own words, and no container is started for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from profiler.errors import UsageError
from profiler.k8s import paths
from profiler.seccomp.profile import load_profile_text


@dataclass(frozen=True)
class CannotStart:
    """The pod would never start its container; ``reason`` is the pod status the kubelet sets."""

    reason: str
    message: str
    short: str = ""  # a few words for a table cell

    def __str__(self) -> str:
        return f"{self.reason}: {self.message}"


def unsupported_type(kind: str) -> CannotStart:
    """The API server's answer to an unknown seccompProfile.type."""
    return CannotStart(
        "Invalid",
        f'seccompProfile.type: Unsupported value: "{kind}": supported values: '
        '"Localhost", "RuntimeDefault", "Unconfined"',
    )


def load_localhost(localhost: str | None, profiles_dir: Path) -> str | CannotStart:
    """The profile's text, or why the API server, kubelet or runtime would refuse it."""
    if localhost is None:
        # The API server rejects the pod before it reaches a node.
        return CannotStart(
            "Invalid",
            "seccompProfile.localhostProfile: Required value: "
            "must be set when seccomp type is Localhost",
        )
    problem = paths.localhost_profile_problem(localhost)
    if problem:
        return CannotStart("Invalid", f"seccompProfile.localhostProfile {localhost!r} {problem}")
    path = Path(profiles_dir) / localhost
    on_node = paths.seccomp_root() / localhost
    if not path.is_file():
        message = (
            f'cannot load seccomp profile "{path}": open {path}: no such file or directory '
            f"(on a node: {on_node})"
        )
        flat = Path(profiles_dir) / PurePosixPath(localhost).name
        if flat.is_file():
            message += f"; {flat} exists, but the kubelet only looks at <seccomp root>/{localhost}"
        return CannotStart("CreateContainerError", message, f"no profile file {localhost}")
    try:
        return load_profile_text(path)
    except UsageError as exc:
        return CannotStart(
            "CreateContainerError",
            f'decoding seccomp profile "{path}" failed: {exc.message}',
            f"bad profile file {localhost}",
        )
