"""The diagnosis lines a user reads under a cell: the verdict first, then the evidence,
with the fix for each denied call (``--allow NAME``, a Localhost profile, or a knob that
makes the call unnecessary).
"""

from __future__ import annotations

from collections.abc import Mapping

from profiler.diagnosis.findings import DeniedSyscall, Findings
from profiler.runtime.interface import SecurityMode
from profiler.seccomp.risky import RISKY

MAX_LISTED = 3  # denials named one per line; the rest are summed up in one line

# What a user can change instead of allowing a call, where there is a well-known knob.
WORKAROUNDS: Mapping[str, str] = {
    "clone3": "deny it with errnoRet 38 (ENOSYS) so glibc falls back to clone",
    "mbind": "set -XX:-UseNUMA",
    "get_mempolicy": "set -XX:-UseNUMA",
    "set_mempolicy": "set -XX:-UseNUMA",
    "perf_event_open": "turn off the profiler agent that uses it",
    "io_uring_setup": "turn off io_uring in the library that uses it",
}


def describe(findings: Findings, mode: SecurityMode, *, failed: bool) -> tuple[str, ...]:
    """The diagnosis lines shown under a cell: the verdict first, then the evidence."""
    lines: list[str] = []
    what = "denied" if failed else "would be denied"
    # Risky calls (mbind, perf_event_open...) are held back from generated profiles and
    # the jobs were verified without them, so next to other denials they are rarely the
    # cause: they go last, in one line, unless nothing else was denied.
    primary = [d for d in findings.denied if d.name not in RISKY] or list(findings.denied)
    held = [d for d in findings.denied if d not in primary]
    for denial in primary[:MAX_LISTED]:
        lines.append(_denial_line(denial, mode, what))
    rest = primary[MAX_LISTED:]
    if rest:
        names = ", ".join(d.name for d in rest[:8]) + (", ..." if len(rest) > 8 else "")
        lines.append(f"and {len(rest)} more {what}: {names}")
    if not findings.denied:
        if failed:
            lines.append("no denials seen: the failure is not seccomp")
        else:
            lines.append("no would-be denials: the profile allows everything the job did")
    if held:
        names = ", ".join(f"{d.name} ({_times(d.count)})" for d in held[:MAX_LISTED])
        lines.append(f"also {what}, risky calls profiles hold back (jobs usually cope): {names}")
    if findings.conditional:
        names = ", ".join(d.name for d in findings.conditional[:MAX_LISTED])
        lines.append(f"allowed with conditions — check args: {names}")
    if findings.fallbacks and not findings.denied:
        names = ", ".join(f"{d.name} ({_times(d.count)})" for d in findings.fallbacks[:MAX_LISTED])
        lines.append(f"answered ENOSYS on purpose (libc falls back): {names}")
    if findings.audit_records:
        lines.append(
            f"kernel audit log: {findings.audit_records} seccomp record(s) from this container"
        )
    lines.extend(findings.notes)
    if findings.audit_lost:
        lines.append(
            "the kernel log lost seccomp audit records (rate limit or audit backlog); "
            "the eBPF counts above are complete"
        )
    return tuple(lines)


def _times(count: int) -> str:
    return "once" if count == 1 else f"{count} times"


def _denial_line(denial: DeniedSyscall, mode: SecurityMode, what: str) -> str:
    roles = sorted(denial.roles.items(), key=lambda kv: (-kv[1], kv[0]))
    who = ", ".join(role for role, _ in roles[:3]) or "unknown process"
    text = f"{what}: {denial.name} ({who}), {_times(denial.count)}"
    if denial.source == "args":
        text += " with arguments its allow rule does not match"
    elif denial.source == "audit":
        text += " (kernel audit log only)"
    risky = RISKY.get(denial.name)
    workaround = WORKAROUNDS.get(denial.name)
    if mode is SecurityMode.RUNTIME_DEFAULT:
        if risky and risky.capability:
            text += f"; RuntimeDefault allows it only with {risky.capability}"
        fix = "use a Localhost profile that allows it (`spark-seccomp record`)"
    else:
        if risky:
            text += (
                f"; RuntimeDefault blocks it too without {risky.capability}"
                if risky.capability
                else "; RuntimeDefault blocks it too"
            )
        fix = f"add it with `--allow {denial.name}`"
    text += f"; {fix}"
    if workaround:
        text += f" or {workaround}"
    return text
