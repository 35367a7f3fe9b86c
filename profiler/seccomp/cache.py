"""Which calls a seccomp filter lets the kernel's action cache serve, and what the rest run.

Since Linux 5.11 the kernel decides once, when a filter is attached, which syscall
numbers are "always allowed" (``bpf.const_allow``); a call with such a number skips the
BPF program. Every other call runs the program of every filter in the task's stack:
calls allowed only for some argument values (RuntimeDefault's clone, personality),
calls a filter refuses (an ERRNO rule, the default action), and calls of another arch.
This module sorts the calls a job makes into those classes for one filter stack, with
the length of the paths their program runs (pure, given the programs; numbers come from
libseccomp through ``seccomp.arch``).
"""

from __future__ import annotations

import errno as errno_codes
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import product
from typing import Any

from profiler.seccomp import arch as arch_lib
from profiler.seccomp import bpf


class CallPath(str, Enum):
    """How the kernel handles one syscall number under a filter stack."""

    CACHED = "cached"  # always allowed, from the cache: no program runs
    ARGUMENT_CHECKED = "argument-checked"  # allowed for some arguments: programs run
    DENIED = "denied"  # refused whatever the arguments: programs run
    UNCACHED = "uncached"  # always allowed, but by a path the cache emulation cannot follow
    ABSENT = "absent"  # no such call on this arch


@dataclass(frozen=True)
class CallCache:
    """One call's class under a filter stack and the programs' paths for it."""

    name: str
    number: int | None
    path: CallPath
    actions: tuple[str, ...] = ()  # what the stack can answer, e.g. ("allow",), ("errno 38",)
    # Instructions the stack's programs run for this number when it is not cached (0 when
    # it is), shortest and longest over any arguments, and for all-zero arguments (what
    # the filter-cost micro-benchmark passes).
    instructions: tuple[int, int] = (0, 0)
    zero_argument_instructions: int = 0
    denied_errno: int | None = None  # the errno of a refusal, when every refusal has one

    @property
    def runs_program(self) -> bool:
        return self.path in (CallPath.ARGUMENT_CHECKED, CallPath.DENIED, CallPath.UNCACHED)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "number": self.number,
            "path": self.path.value,
            "actions": list(self.actions),
            "instructions": list(self.instructions),
            "zero_argument_instructions": self.zero_argument_instructions,
            "denied_errno": self.denied_errno,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CallCache:
        low, high = data.get("instructions") or (0, 0)
        return cls(
            name=str(data["name"]),
            number=data.get("number"),
            path=CallPath(data["path"]),
            actions=tuple(data.get("actions") or ()),
            instructions=(int(low), int(high)),
            zero_argument_instructions=int(data.get("zero_argument_instructions") or 0),
            denied_errno=data.get("denied_errno"),
        )


@dataclass(frozen=True)
class FilterCache:
    """The calls of interest sorted for one filter stack on one arch."""

    label: str
    arch: str
    program_instructions: tuple[int, ...]  # length of each program in the stack
    calls: tuple[CallCache, ...]

    def call(self, name: str) -> CallCache | None:
        return next((c for c in self.calls if c.name == name), None)

    def names(self, path: CallPath) -> tuple[str, ...]:
        return tuple(c.name for c in self.calls if c.path is path)

    @property
    def uncached(self) -> tuple[CallCache, ...]:
        return tuple(c for c in self.calls if c.runs_program)

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "arch": self.arch,
            "program_instructions": list(self.program_instructions),
            "calls": [c.to_dict() for c in self.calls],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FilterCache:
        return cls(
            label=str(data["label"]),
            arch=str(data["arch"]),
            program_instructions=tuple(int(n) for n in data.get("program_instructions") or ()),
            calls=tuple(CallCache.from_dict(c) for c in data.get("calls") or ()),
        )


def describe_action(value: int) -> str:
    """A filter's return value as a person reads it: "allow", "errno 38 (ENOSYS)"..."""
    action = value & bpf.ACTION_FULL
    if action == bpf.RET_ERRNO:
        data = value & bpf.DATA
        name = errno_codes.errorcode.get(data)
        return f"errno {data} ({name})" if name else f"errno {data}"
    names = {
        bpf.RET_ALLOW: "allow",
        bpf.RET_LOG: "log",
        bpf.RET_TRACE: "trace",
        bpf.RET_USER_NOTIF: "notify",
        bpf.RET_TRAP: "trap",
        bpf.RET_KILL_THREAD: "kill thread",
        bpf.RET_KILL_PROCESS: "kill process",
    }
    return names.get(action, f"action {action:#x}")


def classify_calls(
    label: str,
    programs: Sequence[Sequence[bpf.Insn]],
    names: Iterable[str],
    arch: str,
) -> FilterCache:
    """Each named call's class under the stack ``programs`` (oldest first) on ``arch``."""
    if not programs:
        raise ValueError("a filter stack has at least one program")
    arch = arch_lib.canonical_arch(arch)
    token = arch_lib.arch_token(arch)
    calls = []
    for name in sorted(set(names)):
        number = arch_lib.syscall_number(name, arch)
        if number is None:
            calls.append(CallCache(name, None, CallPath.ABSENT))
            continue
        calls.append(_classify(name, number, programs, token))
    return FilterCache(label, arch, tuple(len(p) for p in programs), tuple(calls))


def argument_checked_names(programs: Sequence[Sequence[bpf.Insn]], arch: str) -> frozenset[str]:
    """Every call of ``arch`` the stack allows for some arguments only (RuntimeDefault's
    clone, socket or personality): each runs the programs whenever it is made."""
    arch = arch_lib.canonical_arch(arch)
    token = arch_lib.arch_token(arch)
    found = set()
    for name in arch_lib.known_syscalls(arch):
        number = arch_lib.syscall_number(name, arch)
        if number is None or bpf.cached(programs, token, number):
            continue
        if _classify(name, number, programs, token).path is CallPath.ARGUMENT_CHECKED:
            found.add(name)
    return frozenset(found)


def _classify(
    name: str, number: int, programs: Sequence[Sequence[bpf.Insn]], token: int
) -> CallCache:
    per_program = [bpf.paths(p, token, number) for p in programs]
    # The kernel runs every program and keeps the lowest action (signed), the first of
    # equals from the newest filter: combine every choice of one outcome per program.
    outcomes: set[tuple[int, int]] = set()
    for choice in product(*(sorted(ps.outcomes) for ps in per_program)):
        value = _stack_result([v for v, _ in choice])
        outcomes.add((value, sum(n for _, n in choice)))
    values = {v for v, _ in outcomes}
    allowing = {v for v in values if v & bpf.ACTION_FULL == bpf.RET_ALLOW}
    refusals = values - allowing
    if bpf.cached(programs, token, number):
        path = CallPath.CACHED
    elif not allowing:
        path = CallPath.DENIED
    elif refusals:
        path = CallPath.ARGUMENT_CHECKED
    else:
        path = CallPath.UNCACHED
    errnos = {v & bpf.DATA for v in refusals if v & bpf.ACTION_FULL == bpf.RET_ERRNO}
    denied_errno = next(iter(errnos)) if len(errnos) == 1 and len(errnos) == len(refusals) else None
    lengths = [n for _, n in outcomes]
    zero = sum(bpf.run(p, bpf.SeccompData(number, token)).instructions for p in programs)
    return CallCache(
        name=name,
        number=number,
        path=path,
        actions=tuple(sorted({describe_action(v) for v in values})),
        instructions=(0, 0) if path is CallPath.CACHED else (min(lengths), max(lengths)),
        zero_argument_instructions=0 if path is CallPath.CACHED else zero,
        denied_errno=denied_errno,
    )


def _stack_result(values: Sequence[int]) -> int:
    """What the kernel returns for one outcome per filter, newest filter last in ``values``."""
    result = bpf.RET_ALLOW
    for value in reversed(values):  # the kernel walks from the newest filter
        if bpf.action_only(value) < bpf.action_only(result):
            result = value
    return result
