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
from typing import TYPE_CHECKING, Any

from profiler.errors import UsageError

if TYPE_CHECKING:
    from profiler.runtime.interface import ProfileSet

ACTIONS = (
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
)
ARG_OPS = (
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
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

    def with_default_action(self, action: str) -> Profile:
        return Profile(action, self.rules, None, self.architectures, self.flags)

    def without_allowed(self, name: str) -> Profile:
        """The profile with ``name`` taken out of its allow rules (to show it is needed)."""
        rules = tuple(
            replace(r, names=tuple(n for n in r.names if n != name))
            if r.action == "SCMP_ACT_ALLOW"
            else r
            for r in self.rules
        )
        return replace(self, rules=rules)


def allow_all_profile() -> Profile:
    """Allows every syscall but still installs a filter, so tracers can tell the container's
    post-filter syscalls (seccomp mode 2) from the runtime's setup before it."""
    # A rule with an action other than the default makes every runtime load a filter.
    return Profile(
        "SCMP_ACT_ALLOW",
        (SyscallRule(("kexec_load",), "SCMP_ACT_ERRNO", errno_ret=1),),
    )


def profile_from_dict(data: Any, source: str = "profile") -> Profile:
    if not isinstance(data, dict):
        raise UsageError(f"{source} is not a seccomp profile: the top level must be an object")
    default_action = data.get("defaultAction")
    if default_action not in ACTIONS:
        raise UsageError(
            f"{source} has no valid defaultAction (got {default_action!r})",
            "use an OCI seccomp profile, e.g. one written by `spark-seccomp record`",
        )
    rules = []
    for index, raw in enumerate(data.get("syscalls") or []):
        where = f"{source}: syscalls[{index}]"
        if not isinstance(raw, dict):
            raise UsageError(f"{where} is not an object")
        names = raw.get("names")
        if names is None and isinstance(raw.get("name"), str):
            names = [raw["name"]]
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise UsageError(f"{where} needs a list of syscall names in `names`")
        action = raw.get("action")
        if action not in ACTIONS:
            raise UsageError(f"{where} has an unknown action {action!r}")
        errno_ret = raw.get("errnoRet")
        if errno_ret is not None and not isinstance(errno_ret, int):
            raise UsageError(f"{where}: errnoRet must be a number")
        args = tuple(_arg(a, where) for a in raw.get("args") or [])
        rules.append(SyscallRule(tuple(names), action, errno_ret, args))
    architectures = data.get("architectures") or []
    flags = data.get("flags") or []
    default_errno = data.get("defaultErrnoRet")
    return Profile(
        default_action,
        tuple(rules),
        default_errno if isinstance(default_errno, int) else None,
        tuple(architectures),
        tuple(flags),
    )


def _arg(raw: Any, where: str) -> ArgCondition:
    if not isinstance(raw, dict) or raw.get("op") not in ARG_OPS:
        raise UsageError(f"{where}: each args entry needs index, value and a SCMP_CMP_* op")
    return ArgCondition(
        int(raw["index"]), int(raw["value"]), str(raw["op"]), int(raw.get("valueTwo", 0))
    )


def load_profile(path: Path) -> Profile:
    return profile_from_dict(json.loads(load_profile_text(path)), str(path))


def load_profile_text(path: Path) -> str:
    """The file's text after checking that it is a well-formed OCI seccomp profile."""
    path = Path(path)
    if not path.is_file():
        raise UsageError(
            f"profile {path} does not exist", "record one with `spark-seccomp record --out FILE`"
        )
    try:
        text = path.read_text(encoding="utf-8")
        data = json.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read profile {path}: {exc}") from exc
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"profile {path} is not valid JSON (line {exc.lineno}: {exc.msg})",
            "fix the file or record a new one",
        ) from exc
    profile_from_dict(data, str(path))
    return text


def names_of(rules: Iterable[SyscallRule]) -> set[str]:
    return {n for r in rules for n in r.names}


def load_profile_set(
    union: Path,
    *,
    driver: Path | None = None,
    executor: Path | None = None,
) -> ProfileSet:
    """A union profile and its roles' profiles: those given, else ``NAME.driver.json`` and
    ``NAME.executor.json`` when they lie beside ``NAME.json`` (as ``record`` writes them)."""
    from profiler.runtime.interface import LabelledProfile, ProfileSet
    from profiler.seccomp.generate import role_profile_path

    def load(path: Path) -> LabelledProfile:
        return LabelledProfile(load_profile_text(path), str(path))

    roles: dict[str, LabelledProfile | None] = {}
    for role, given in (("driver", driver), ("executor", executor)):
        if given is not None:
            roles[role] = load(given)
        else:
            beside = role_profile_path(union, role)
            roles[role] = load(beside) if beside.is_file() else None
    return ProfileSet(load(union), driver=roles["driver"], executor=roles["executor"])
