"""The kernel's seccomp audit records (``type=1326``): parsing one log line into a record,
and telling whether the kernel admits to having dropped some.

Pure functions over text, so the parser is tested on a captured kernel log; reading the
log during a run is ``kernel_log``'s job.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import pyseccomp

from profiler.seccomp import arch as arch_lib

AUDIT_SECCOMP = 1326  # the kernel's AUDIT_SECCOMP record type

_AUDIT = re.compile(rf"type={AUDIT_SECCOMP}\b")
_FIELD = re.compile(r'\b(pid|comm|syscall|arch)=("[^"]*"|\S+)')
_LOST = re.compile(r"callbacks suppressed|audit_lost=|audit_backlog=")


@dataclass(frozen=True)
class AuditRecord:
    """One ``type=1326`` seccomp record: a call a filter logged (or killed)."""

    pid: int
    comm: str
    syscall: int
    arch: str | None  # libseccomp arch name, None when unknown

    @property
    def name(self) -> str | None:
        arch = self.arch or arch_lib.native_arch()
        return arch_lib.syscall_name(self.syscall, arch)


def parse_audit_line(line: str) -> AuditRecord | None:
    """A seccomp audit record from a kernel log line (dmesg or /dev/kmsg form), or None."""
    if not _AUDIT.search(line):
        return None
    fields = {m[1]: m[2] for m in _FIELD.finditer(line)}
    if "pid" not in fields or "syscall" not in fields:
        return None
    try:
        pid, number = int(fields["pid"]), int(fields["syscall"])
    except ValueError:
        return None
    return AuditRecord(pid, _comm(fields.get("comm", "")), number, _audit_arch(fields.get("arch")))


def records_lost(lines: Iterable[str]) -> bool:
    """Whether the kernel says it dropped log records (rate limit or audit backlog)."""
    return any(_LOST.search(line) for line in lines)


def _comm(raw: str) -> str:
    if raw.startswith('"') and raw.endswith('"'):
        return raw[1:-1]
    # The kernel hex-encodes names with spaces or quotes in them.
    try:
        return bytes.fromhex(raw).decode(errors="replace")
    except ValueError:
        return raw


def _audit_arch(raw: str | None) -> str | None:
    """libseccomp's arch tokens are the kernel's AUDIT_ARCH_* values."""
    if not raw:
        return None
    try:
        token = int(raw, 16)
    except ValueError:
        return None
    for attr in dir(pyseccomp.Arch):
        if attr.isupper() and attr != "NATIVE" and getattr(pyseccomp.Arch, attr) == token:
            return attr.lower()
    return None
