"""The findings of a complain run: which calls would have been denied, allowed only with
argument checks, or answered ENOSYS on purpose, from the per-role counts and audit records.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from profiler.diagnosis.audit import AuditRecord
from profiler.diagnosis.complain import Decision


@dataclass(frozen=True)
class DeniedSyscall:
    """A call the profile would have denied, with who made it and how often."""

    name: str
    count: int
    roles: Mapping[str, int]  # process role (or audit comm) -> calls
    source: str = "ebpf"  # "ebpf", "audit" (seen only in the kernel log) or "args"


@dataclass(frozen=True)
class Findings:
    denied: tuple[DeniedSyscall, ...]  # most-called first
    conditional: tuple[DeniedSyscall, ...] = ()  # allowed with argument checks: unknown
    fallbacks: tuple[DeniedSyscall, ...] = ()  # ENOSYS on purpose
    audit_records: int = 0
    audit_lost: bool = False
    notes: tuple[str, ...] = field(default=())


def find_denials(
    counts: Mapping[str, Mapping[str, int]],
    decider: Callable[[str], Decision],
    audit: Iterable[AuditRecord] = (),
    *,
    audit_lost: bool = False,
) -> Findings:
    """Would-be denials from a complain run's per-role counts and its audit records."""
    records = list(audit)
    audit_by_name: dict[str, Counter[str]] = {}
    for record in records:
        name = record.name or f"syscall {record.syscall}"
        audit_by_name.setdefault(name, Counter())[record.comm] += 1
    denied: list[DeniedSyscall] = []
    conditional: list[DeniedSyscall] = []
    fallbacks: list[DeniedSyscall] = []
    for name, roles in counts.items():
        decision = decider(name)
        total = sum(roles.values())
        if decision is Decision.DENIED:
            denied.append(DeniedSyscall(name, total, dict(roles)))
        elif decision is Decision.FALLBACK:
            fallbacks.append(DeniedSyscall(name, total, dict(roles)))
        elif decision is Decision.CONDITIONAL:
            if name in audit_by_name:
                # The complain filter logged it: its arguments did not match the allow rule.
                denied.append(
                    DeniedSyscall(
                        name, sum(audit_by_name[name].values()), dict(roles), source="args"
                    )
                )
            else:
                conditional.append(DeniedSyscall(name, total, dict(roles)))
    seen = set(counts)
    for name, comms in audit_by_name.items():
        if name not in seen and decider(name) is not Decision.FALLBACK:
            denied.append(DeniedSyscall(name, sum(comms.values()), dict(comms), source="audit"))
    return Findings(
        denied=tuple(_most_called(denied)),
        conditional=tuple(_most_called(conditional)),
        fallbacks=tuple(_most_called(fallbacks)),
        audit_records=len(records),
        audit_lost=audit_lost,
    )


def merge_findings(findings: Iterable[Findings]) -> Findings:
    """The findings of several roles as one (for callers that want one list)."""
    items = list(findings)
    return Findings(
        denied=tuple(_most_called([d for f in items for d in f.denied])),
        conditional=tuple(_most_called([d for f in items for d in f.conditional])),
        fallbacks=tuple(_most_called([d for f in items for d in f.fallbacks])),
        audit_records=sum(f.audit_records for f in items),
        audit_lost=any(f.audit_lost for f in items),
        notes=tuple(n for f in items for n in f.notes),
    )


def _most_called(items: list[DeniedSyscall]) -> list[DeniedSyscall]:
    return sorted(items, key=lambda d: (-d.count, d.name))
