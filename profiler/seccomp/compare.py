"""Merging, diffing and explaining profiles (and their summaries); pure functions.

A merged profile allows the union of what its inputs allow; merged summaries add up runs,
so "seen in 3 of 5 runs" stays true across merges. A diff compares allowed names, so a
profile can be set against another profile or against a RuntimeDefault reference.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

from profiler.errors import UsageError
from profiler.seccomp.generate import Summary, SyscallUsage
from profiler.seccomp.profile import Profile, SyscallRule
from profiler.seccomp.risky import HeldBack
from profiler.seccomp.runtime_default import RuntimeDefaultReference

Comparable = Profile | RuntimeDefaultReference | Set[str]


def allowed_names(thing: Comparable) -> frozenset[str]:
    if isinstance(thing, Profile):
        return thing.allowed()
    if isinstance(thing, RuntimeDefaultReference):
        return thing.allowed
    return frozenset(thing)


@dataclass(frozen=True)
class ProfileDiff:
    """What each side allows that the other does not."""

    left: str
    right: str
    only_left: tuple[str, ...]
    only_right: tuple[str, ...]
    common: tuple[str, ...]

    @property
    def identical(self) -> bool:
        return not self.only_left and not self.only_right

    def to_dict(self) -> dict[str, Any]:
        return {
            "left": self.left,
            "right": self.right,
            "only_left": list(self.only_left),
            "only_right": list(self.only_right),
            "common": len(self.common),
        }


def diff_profiles(
    a: Comparable, b: Comparable, *, left: str = "A", right: str = "B"
) -> ProfileDiff:
    names_a, names_b = allowed_names(a), allowed_names(b)
    return ProfileDiff(
        left,
        right,
        tuple(sorted(names_a - names_b)),
        tuple(sorted(names_b - names_a)),
        tuple(sorted(names_a & names_b)),
    )


def _rule_key(rule: SyscallRule) -> str:
    return json.dumps(rule.to_dict(), sort_keys=True)


def merge_profiles(profiles: Sequence[Profile]) -> Profile:
    """A profile allowing everything any input allows.

    Inputs must agree on the default action and errno: a union of an ENOSYS and an EPERM
    profile would silently change what one of them meant. Explicit errno rules survive
    for the names no input allows, so the merge still works on engines ignoring
    ``defaultErrnoRet``.
    """
    if not profiles:
        raise UsageError("nothing to merge", "name two or more profiles")
    first = profiles[0]
    for other in profiles[1:]:
        if (other.default_action, other.default_errno_ret) != (
            first.default_action,
            first.default_errno_ret,
        ):
            raise UsageError(
                "profiles disagree on the default action or errno "
                f"({first.default_action}/{first.default_errno_ret} vs "
                f"{other.default_action}/{other.default_errno_ret})",
                "derive them with the same --errno",
            )
    plain_allow: set[str] = set()
    conditional: dict[str, SyscallRule] = {}
    others: dict[tuple[str, int | None], set[str]] = {}
    other_conditional: dict[str, SyscallRule] = {}
    for profile in profiles:
        for rule in profile.rules:
            if rule.action == "SCMP_ACT_ALLOW":
                if rule.args:
                    conditional[_rule_key(rule)] = rule
                else:
                    plain_allow.update(rule.names)
            elif rule.args:
                other_conditional[_rule_key(rule)] = rule
            else:
                others.setdefault((rule.action, rule.errno_ret), set()).update(rule.names)
    allowed_any = plain_allow | {n for r in conditional.values() for n in r.names}
    rules: list[SyscallRule] = []
    if plain_allow:
        rules.append(SyscallRule(tuple(sorted(plain_allow)), "SCMP_ACT_ALLOW"))
    for key in sorted(conditional):
        rule = conditional[key]
        names = tuple(sorted(set(rule.names) - plain_allow))
        if names:
            rules.append(SyscallRule(names, rule.action, rule.errno_ret, rule.args))
    for action, errno_ret in sorted(others, key=lambda k: (k[0], -1 if k[1] is None else k[1])):
        names = tuple(sorted(others[(action, errno_ret)] - allowed_any))
        if names:
            rules.append(SyscallRule(names, action, errno_ret))
    for key in sorted(other_conditional):
        rule = other_conditional[key]
        names = tuple(sorted(set(rule.names) - allowed_any))
        if names:
            rules.append(SyscallRule(names, rule.action, rule.errno_ret, rule.args))
    architectures: list[str] = []
    for profile in profiles:
        architectures.extend(a for a in profile.architectures if a not in architectures)
    flags = sorted({f for p in profiles for f in p.flags})
    return Profile(
        first.default_action,
        tuple(rules),
        first.default_errno_ret,
        tuple(architectures),
        tuple(flags),
    )


def merge_summaries(summaries: Sequence[Summary]) -> Summary:
    """Summaries of the merged recordings: runs and calls add up, held-back calls another
    input allowed are no longer held back."""
    if not summaries:
        raise UsageError("no summaries to merge")
    workloads: Counter[str] = Counter()
    usage_runs: Counter[str] = Counter()
    usage_workloads: dict[str, Counter[str]] = {}
    usage_roles: dict[str, Counter[str]] = {}
    usage_calls: Counter[str] = Counter()
    missing: dict[str, set[str]] = {}
    added: dict[str, set[str]] = {}
    arg_values: dict[str, set[int]] = {}
    held: dict[str, HeldBack] = {}
    for summary in summaries:
        workloads.update(summary.workloads)
        for name, use in summary.usage.items():
            usage_runs[name] += use.runs
            usage_workloads.setdefault(name, Counter()).update(use.workloads)
            usage_roles.setdefault(name, Counter()).update(use.roles)
            usage_calls[name] += use.calls
        for arch, names in summary.missing.items():
            missing.setdefault(arch, set()).update(names)
        for name, extra in summary.added.items():
            added.setdefault(name, set()).update(extra)
        for key, values in summary.arg_values.items():
            arg_values.setdefault(key, set()).update(values)
        for item in summary.held_back:
            held.setdefault(item.name, item)
    allowed = frozenset(n for s in summaries for n in s.allowed)
    return Summary(
        total_runs=sum(s.total_runs for s in summaries),
        workloads=dict(sorted(workloads.items())),
        usage={
            name: SyscallUsage(
                name,
                usage_runs[name],
                dict(sorted(usage_workloads[name].items())),
                dict(sorted(usage_roles[name].items())),
                usage_calls[name],
            )
            for name in sorted(usage_runs)
        },
        arches=tuple(sorted({a for s in summaries for a in s.arches})),
        errno=summaries[0].errno,
        explicit_errno=any(s.explicit_errno for s in summaries),
        allowed=allowed,
        user_allowed=frozenset(n for s in summaries for n in s.user_allowed),
        held_back=tuple(held[n] for n in sorted(held) if n not in allowed),
        missing={a: tuple(sorted(n)) for a, n in sorted(missing.items())},
        added={n: tuple(sorted(a)) for n, a in sorted(added.items())},
        arg_values={k: frozenset(v) for k, v in sorted(arg_values.items())},
        unknown_numbers=frozenset(n for s in summaries for n in s.unknown_numbers),
        lost_events={
            run: max(s.lost_events.get(run, 0) for s in summaries)
            for run in sorted({run for s in summaries for run in s.lost_events})
        },
    )


@dataclass(frozen=True)
class ExplainRow:
    """One call of a profile: who used it, how often, and anything to know about it."""

    name: str
    allowed: bool
    runs: int | None = None  # None without a summary
    total_runs: int | None = None
    workloads: Mapping[str, int] = field(default_factory=dict)  # workload -> runs with it
    roles: Mapping[str, int] = field(default_factory=dict)  # process role -> calls
    calls: int | None = None
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "allowed": self.allowed,
            "runs": self.runs,
            "total_runs": self.total_runs,
            "workloads": dict(sorted(self.workloads.items())),
            "roles": dict(sorted(self.roles.items())),
            "calls": self.calls,
            "notes": list(self.notes),
        }


def explain(profile: Profile, summary: Summary | None = None) -> list[ExplainRow]:
    """A row per allowed call (and per held-back call the summary names), sorted by name."""
    allowed = profile.allowed()
    if summary is None:
        return [ExplainRow(name, True) for name in sorted(allowed)]
    flaky = set(summary.flaky)
    added_for: dict[str, list[str]] = {}
    for source, extra in summary.added.items():
        for name in extra:
            added_for.setdefault(name, []).append(source)
    missing_on: dict[str, list[str]] = {}
    for arch, names in summary.missing.items():
        for name in names:
            missing_on.setdefault(name, []).append(arch)
    held = {h.name: h for h in summary.held_back}
    rows = []
    for name in sorted(allowed | held.keys()):
        use = summary.usage.get(name)
        notes = []
        if name in held and name not in allowed:
            notes.append(f"held back: {held[name].reason}")
        if name in added_for:
            notes.append(f"added as the equivalent of {', '.join(sorted(added_for[name]))}")
        if name in summary.user_allowed:
            notes.append("allowed by --allow")
        if name in missing_on:
            notes.append(f"does not exist on {', '.join(sorted(missing_on[name]))}")
        if name in flaky and use is not None:
            partial = ", ".join(
                f"{w} {seen}/{summary.workloads.get(w, 0)}"
                for w, seen in sorted(use.workloads.items())
                if seen < summary.workloads.get(w, 0)
            )
            notes.append(f"flaky: only some runs made it ({partial})")
        if use is None and not notes:
            notes.append("not in any recording of the summary")
        rows.append(
            ExplainRow(
                name,
                name in allowed,
                use.runs if use else 0,
                summary.total_runs,
                dict(use.workloads) if use else {},
                dict(use.roles) if use else {},
                use.calls if use else 0,
                tuple(notes),
            )
        )
    return rows
