"""The OCI seccomp profile as runc, containerd and CRI-O read it, with deterministic output.

Only plain OCI keys are written (defaultAction, defaultErrnoRet, architectures, flags,
syscalls with names/action/errnoRet/args): containerd silently ignores Docker-only keys
such as includes, excludes, archMap and minKernel, so a profile relying on them would
mean something different on a node than on a laptop.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.seccomp import ACTIONS as ACTIONS  # re-exported: the OCI action list
from profiler.formats.seccomp import (
    KEY_NOTES,
    PROFILE_HINT,
    OciProfile,
    arch_label,
    unknown_names,
)


@dataclass(frozen=True)
class ArgCondition:
    index: int
    value: int
    op: str
    value_two: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "value": self.value, "valueTwo": self.value_two, "op": self.op}


@dataclass(frozen=True)
class SyscallRule:
    names: tuple[str, ...]
    action: str
    errno_ret: int | None = None
    args: tuple[ArgCondition, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"names": sorted(self.names), "action": self.action}
        if self.errno_ret is not None:
            data["errnoRet"] = self.errno_ret
        if self.args:
            data["args"] = [a.to_dict() for a in self.args]
        return data


@dataclass(frozen=True)
class Profile:
    default_action: str
    rules: tuple[SyscallRule, ...] = ()
    default_errno_ret: int | None = None
    architectures: tuple[str, ...] = ()
    flags: tuple[str, ...] = field(default=())

    def allowed(self) -> frozenset[str]:
        """Names allowed unconditionally or with argument checks."""
        return frozenset(
            name for r in self.rules if r.action == "SCMP_ACT_ALLOW" for name in r.names
        )

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"defaultAction": self.default_action}
        if self.default_errno_ret is not None:
            data["defaultErrnoRet"] = self.default_errno_ret
        if self.architectures:
            data["architectures"] = list(self.architectures)
        if self.flags:
            data["flags"] = sorted(self.flags)
        data["syscalls"] = [r.to_dict() for r in self.rules]
        return data

    def to_json(self) -> str:
        """Stable bytes: fixed key order, sorted names, two-space indent, trailing newline."""
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def without_allowed(self, name: str) -> Profile:
        """The profile with ``name`` taken out of its allow rules (to show it is needed)."""
        rules = tuple(
            replace(r, names=tuple(n for n in r.names if n != name))
            if r.action == "SCMP_ACT_ALLOW"
            else r
            for r in self.rules
        )
        return replace(self, rules=rules)

    def with_allowed(self, names: Iterable[str]) -> Profile:
        """The profile with ``names`` allowed without conditions: taken out of every other
        rule and added to the first unconditional allow rule (or a new one)."""
        wanted = frozenset(names)
        if not wanted:
            return self
        rules = [replace(r, names=tuple(n for n in r.names if n not in wanted)) for r in self.rules]
        rules = [r for r in rules if r.names]
        for index, rule in enumerate(rules):
            if rule.action == "SCMP_ACT_ALLOW" and not rule.args:
                rules[index] = replace(rule, names=tuple(sorted({*rule.names, *wanted})))
                break
        else:
            rules.append(SyscallRule(tuple(sorted(wanted)), "SCMP_ACT_ALLOW"))
        return replace(self, rules=tuple(rules))


def allow_all_profile() -> Profile:
    """Allows every syscall but still installs a filter, so tracers can tell the container's
    post-filter syscalls (seccomp mode 2) from the runtime's setup before it."""
    # A rule with an action other than the default makes every runtime load a filter.
    return Profile(
        "SCMP_ACT_ALLOW",
        (SyscallRule(("kexec_load",), "SCMP_ACT_ERRNO", errno_ret=1),),
    )


def profile_from_dict(data: Any, source: str = "profile") -> Profile:
    """A ``Profile`` from parsed JSON, validated as an OCI profile (``formats.seccomp``).

    Structure and values are checked here; whether each name exists is checked where a
    file comes in (``read_profile``), since a caller re-reading a profile it validated
    before must not refuse the unknown names the user chose to keep.
    """
    return _from_model(_validated(data, source))


def _validated(data: Any, source: str) -> OciProfile:
    return jsonfile.validate(OciProfile, data, source, PROFILE_HINT, key_notes=KEY_NOTES)


def _from_model(model: OciProfile) -> Profile:
    return Profile(
        model.defaultAction,
        tuple(
            SyscallRule(
                tuple(rule.names),
                rule.action,
                rule.errnoRet,
                tuple(ArgCondition(a.index, a.value, a.op, a.valueTwo) for a in rule.args or ()),
            )
            for rule in model.syscalls or ()
        ),
        model.defaultErrnoRet,
        tuple(model.architectures or ()),
        tuple(model.flags or ()),
    )


@dataclass(frozen=True)
class ProfileFile:
    """A profile file as read: its text (passed on unchanged), its meaning, and the names
    libseccomp does not know that were kept because the caller allowed them."""

    path: Path
    text: str
    profile: Profile
    unknown: tuple[str, ...] = ()

    def warning(self) -> str | None:
        if not self.unknown:
            return None
        return (
            f"{self.path} allows names libseccomp knows on none of its architectures, kept "
            f"because of --allow-unknown: {', '.join(self.unknown)} (runtimes skip or refuse "
            "names their libseccomp does not know)"
        )


def read_profile(path: Path, *, allow_unknown: bool = False) -> ProfileFile:
    """Read and validate a profile file; names unknown to libseccomp are an error unless
    ``allow_unknown``, when they are kept and listed in ``ProfileFile.unknown``."""
    path = Path(path)
    source = f"profile {path}"
    if not path.exists() and not path.is_symlink():
        raise UsageError(
            f"{source} does not exist", "record one with `spark-seccomp record --out FILE`"
        )
    text = jsonfile.read_text(path, source, PROFILE_HINT)
    model = _validated(jsonfile.parse_json(text, source, PROFILE_HINT), source)
    unknown = unknown_names(model)
    if unknown and not allow_unknown:
        where, name = unknown[0]
        more = f" (and {len(unknown) - 1} more: {', '.join(n for _, n in unknown[1:4])})"
        raise UsageError(
            f"{source}: {where}: {jsonfile.shown(name)} is not a syscall libseccomp knows on "
            f"{arch_label(model)}" + (more if len(unknown) > 1 else ""),
            "check the spelling against `man 2 syscalls`, or pass --allow-unknown to keep "
            "names a newer kernel has",
        )
    names = tuple(sorted({name for _, name in unknown}))
    return ProfileFile(path, text, _from_model(model), names)


def load_profile(path: Path, *, allow_unknown: bool = False) -> Profile:
    return read_profile(path, allow_unknown=allow_unknown).profile


def load_profile_text(path: Path, *, allow_unknown: bool = False) -> str:
    """The file's text after checking that it is a well-formed OCI seccomp profile."""
    return read_profile(path, allow_unknown=allow_unknown).text


def role_profile_path(profile_path: Path, role: str) -> Path:
    """Where a union profile's per-role profile lives: ``NAME.json`` -> ``NAME.ROLE.json``."""
    profile_path = Path(profile_path)
    stem = (
        profile_path.name[: -len(".json")] if profile_path.suffix == ".json" else profile_path.name
    )
    return profile_path.with_name(f"{stem}.{role}.json")
