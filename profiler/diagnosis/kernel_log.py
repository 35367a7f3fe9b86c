"""Reading the kernel log (/dev/kmsg) for the length of one run, with printk's rate limit
lifted so the seccomp audit records of a complain run are not dropped, and restored after.
"""

from __future__ import annotations

import os
from pathlib import Path

from profiler.diagnosis.audit import AuditRecord, parse_audit_line, records_lost
from profiler.runtime.interface import RunObserver

PRINTK_RATELIMIT = Path("/proc/sys/kernel/printk_ratelimit")
KMSG = Path("/dev/kmsg")


class KernelLogWatcher(RunObserver):
    """Reads the kernel log records written during one run, with printk's rate limit off.

    Starts at the end of /dev/kmsg before the container starts; ``close`` restores the
    rate limit and must run whatever happens (the caller does it in ``finally``).
    """

    def __init__(self, kmsg: Path = KMSG, ratelimit: Path = PRINTK_RATELIMIT) -> None:
        self.kmsg = kmsg
        self.ratelimit = ratelimit
        self._saved: str | None = None
        self._fd: int | None = None
        self._lines: list[str] = []
        self._overrun = False
        self.problem: str | None = None

    def before_start(self) -> None:
        try:
            self._saved = self.ratelimit.read_text().strip()
            self.ratelimit.write_text("0\n")
        except OSError as exc:
            self._saved = None
            self.problem = f"cannot lift the printk rate limit ({exc.strerror})"
        try:
            self._fd = os.open(self.kmsg, os.O_RDONLY | os.O_NONBLOCK)
            os.lseek(self._fd, 0, os.SEEK_END)
        except OSError as exc:
            self._fd = None
            self.problem = f"cannot read {self.kmsg} ({exc.strerror})"

    def finished(self) -> None:
        self._drain()

    def close(self) -> None:
        self._drain()
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if self._saved is not None:
            try:
                self.ratelimit.write_text(self._saved + "\n")
            finally:
                self._saved = None

    def records(self) -> list[AuditRecord]:
        return [r for line in self._lines if (r := parse_audit_line(line)) is not None]

    def lost(self) -> bool:
        return self._overrun or records_lost(self._lines)

    def _drain(self) -> None:
        if self._fd is None:
            return
        while True:
            try:
                raw = os.read(self._fd, 8192)
            except BlockingIOError:
                return
            except BrokenPipeError:
                # Records were overwritten before we read them.
                self._overrun = True
                continue
            except OSError:
                return
            if not raw:
                return
            # "<prio>,<seq>,<time>,<flags>;message"
            text = raw.decode(errors="replace")
            head, _, message = text.partition(";")
            self._lines.append(message.rstrip("\n") if message else head)
