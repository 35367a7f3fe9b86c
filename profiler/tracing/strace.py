"""The strace tracer (ptrace), for machines where eBPF is not available.

The container's first process waits (``wait-for-tracer``) until strace has attached to
it from the host, then execs the job; ``-f`` follows every fork and thread from there.
ptrace stops every traced syscall twice, so this tracer slows a job far more than eBPF;
its trace also carries argument values (socket families, clone flags) for argument
filters. The trace file is parsed as a stream, so multi-GB traces take flat memory.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.tracing.interface import Recording, Tracer
from profiler.tracing.strace_parser import STRACE_ARGS, after_filter_load, iter_lines, parse_strace

EXIT_TIMEOUT = 120.0


class StraceTracer(Tracer):
    name = "strace"
    holds_first_process = True

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        self.trace_file = work_dir / "strace.txt"
        self._process: subprocess.Popen[str] | None = None
        self._stderr: str = ""
        # The local backend starts its launcher under strace (``wrap_local_command``):
        # the trace then begins before the filter is loaded.
        self._from_launch = False

    def check_available(self) -> None:
        proc.require_program("strace", "install it with `apt-get install strace`")
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "the strace tracer needs root to attach to a container's processes",
                "run as root (CAP_SYS_PTRACE)",
            )

    def wrap_local_command(self, argv: list[str]) -> list[str]:
        """``argv`` run under strace from its first instruction (local backend)."""
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._from_launch = True
        return ["strace", *STRACE_ARGS, "-o", str(self.trace_file), "--", *argv]

    def started(self, host_pid: int) -> None:
        if self._from_launch:
            return  # strace is the process the backend started
        self.work_dir.mkdir(parents=True, exist_ok=True)
        self._process = proc.start(
            ["strace", *STRACE_ARGS, "-o", str(self.trace_file), "-p", str(host_pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def finished(self) -> None:
        process = self._process
        if process is None:
            return
        try:
            # strace ends by itself when the last traced process is gone.
            _, self._stderr = process.communicate(timeout=EXIT_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            _, self._stderr = process.communicate()
        self._process = None

    def recording(self, workload: str, run_index: int, pod_security: str) -> Recording:
        if not self.trace_file.exists():
            raise EnvironmentProblem(
                "strace wrote no trace: "
                + (self._stderr.strip().splitlines() or ["no output"])[-1],
                "check that ptrace is allowed (kernel.yama.ptrace_scope) and run as root",
            )
        source = self.trace_file
        lines = after_filter_load(iter_lines(source)) if self._from_launch else source
        parsed = parse_strace(
            lines, workload=workload, run_index=run_index, pod_security=pod_security
        )
        return parsed.recording
