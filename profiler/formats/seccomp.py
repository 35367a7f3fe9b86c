"""Seccomp profile files: OCI profiles, Docker's default.json, probed RuntimeDefault files.

An OCI profile is what runc, crun, containerd and CRI-O read (runtime-spec
``LinuxSeccomp``): only its keys are accepted, because containerd silently ignores any
other key, so a profile relying on Docker's ``includes`` or ``archMap`` would mean
something else on a node than on a laptop. Values are checked as the runtimes will use
them: actions and operators from the OCI lists, errno values as unsigned 32-bit integers,
argument indexes 0 to 5, argument values as unsigned 64-bit integers, architectures that
libseccomp knows, and syscall names that libseccomp knows on one of the profile's
architectures (``unknown_names``; the caller decides whether that is an error).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Literal

from pydantic import AfterValidator

from profiler.formats.fields import (
    Errno,
    LibseccompArch,
    OciArch,
    Open,
    Strict,
    SyscallName,
    Uint64,
    integer,
)
from profiler.seccomp import arch as arch_lib

Action = Literal[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
]
Operator = Literal[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
]
Flag = Literal[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
]
ACTIONS: tuple[str, ...] = Action.__args__  # type: ignore[attr-defined]
ARG_OPS: tuple[str, ...] = Operator.__args__  # type: ignore[attr-defined]

ArgIndex = Annotated[int, integer(0, 5, "an argument index from 0 to 5")]

PROFILE_HINT = "fix the file, or record a new one with `spark-seccomp record`"
REFERENCE_HINT = "pass the engine's default profile, e.g. moby's profiles/seccomp/default.json"

_DOCKER_ONLY = (
    "a Docker-only key, which containerd and CRI-O ignore; "
    "remove it or write the profile for one architecture and capability set"
)
# Unknown keys people write in OCI profiles, and what to do about them.
KEY_NOTES = {
    "archMap": _DOCKER_ONLY,
    "includes": _DOCKER_ONLY,
    "excludes": _DOCKER_ONLY,
    "minKernel": _DOCKER_ONLY,
    "comment": "a Docker-only key, which containerd and CRI-O ignore; remove it",
    "name": 'the old Docker spelling; write "names": ["..."]',
    "listenerPath": "a seccomp agent setting, which this tool does not support",
    "listenerMetadata": "a seccomp agent setting, which this tool does not support",
}


class OciArg(Strict):
    index: ArgIndex
    value: Uint64
    valueTwo: Uint64 = 0
    op: Operator


def _some_names(names: list[str]) -> list[str]:
    # An error, not a warning: the runtime spec says names MUST hold at least one entry,
    # and a rule without names matches no call, so what it was meant to allow or deny
    # (names removed by hand or by a filter) is lost without a sign in the running pod.
    if not names:
        raise ValueError(
            "expected at least one syscall name, got an empty list (a rule without names "
            "matches no call; the OCI runtime spec requires one)"
        )
    return names


class OciSyscall(Strict):
    names: Annotated[list[SyscallName], AfterValidator(_some_names)]
    action: Action
    errnoRet: Errno | None = None
    args: list[OciArg] | None = None


class OciProfile(Strict):
    defaultAction: Action
    defaultErrnoRet: Errno | None = None
    architectures: list[OciArch] | None = None
    flags: list[Flag] | None = None
    syscalls: list[OciSyscall] | None = None


def unknown_names(profile: OciProfile) -> list[tuple[str, str]]:
    """(location, name) of every name libseccomp knows on none of the profile's arches.

    A profile without ``architectures`` is loaded for the native architecture only.
    """
    arches = _arches_of(profile.architectures or ())
    found = []
    for i, rule in enumerate(profile.syscalls or ()):
        for j, name in enumerate(rule.names):
            if not any(arch_lib.exists(name, a) for a in arches):
                found.append((f"syscalls[{i}].names[{j}]", name))
    return found


def _arches_of(architectures: Iterable[str]) -> tuple[str, ...]:
    arches = tuple(a[len("SCMP_ARCH_") :].lower() for a in architectures)
    return arches or (arch_lib.native_arch(),)


def arch_label(profile: OciProfile) -> str:
    """The architectures names were looked up on, for messages."""
    listed = tuple(profile.architectures or ())
    return ", ".join(listed) if listed else f"{arch_lib.native_arch()} (no architectures listed)"


# -- Docker's default.json -----------------------------------------------------------------
class DockerArchMap(Open):
    architecture: OciArch
    subArchitectures: list[OciArch] = []


class DockerFilter(Open):
    """``includes`` / ``excludes`` of a Docker rule: its condition on arch, caps, kernel."""

    arches: list[str] = []
    caps: list[str] = []
    minKernel: str | None = None


class DockerSyscall(Open):
    names: list[SyscallName] = []
    name: SyscallName | None = None
    action: Action
    errnoRet: Errno | None = None
    args: list[OciArg] | None = None
    comment: str = ""
    includes: DockerFilter = DockerFilter()
    excludes: DockerFilter = DockerFilter()


class DockerProfile(Open):
    """moby's profiles/seccomp/default.json (a superset of OCI; unknown keys ignored)."""

    defaultAction: Action
    defaultErrnoRet: Errno | None = None
    architectures: list[OciArch] = []
    archMap: list[DockerArchMap] = []
    syscalls: list[DockerSyscall] = []


# -- a probed RuntimeDefault (profiles/runtime-default-*.json) --------------------------------
class EngineDefaultFilter(Open):
    """What an engine's OCI bundle held for RuntimeDefault (``engine_default`` below)."""

    source: str
    default_action: Action
    default_errno: Errno | None = None
    allowed: list[SyscallName]
    argument_filtered: list[SyscallName] = []
    errno_rules: dict[SyscallName, Errno] = {}


class ProbedReference(Open):
    name: str
    source: str | None = None
    arch: LibseccompArch
    allowed: list[SyscallName]
    probe_allowed: list[SyscallName] = []
    blocked: list[SyscallName] = []
    undecidable: list[SyscallName] = []
    engine_default: EngineDefaultFilter | None = None
    disagreements: list[str] = []


class AllowedNames(Open):
    """``runtime_default.json`` in a run directory: a name and the calls it allows (a
    ``ProbedReference``, or the short form with only these two keys)."""

    name: str | None = None
    allowed: list[SyscallName]
