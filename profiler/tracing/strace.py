"""The strace tracer (ptrace), for machines where eBPF is not available.

The container's first process waits (``wait-for-tracer``) until strace has attached to
it from the host, then execs the job; ``-f`` follows every fork and thread from there.
ptrace stops every traced syscall twice, so this tracer slows a job far more than eBPF;
its trace also carries argument values (socket families, clone flags) for argument
filters. The trace file is parsed as a stream, so multi-GB traces take flat memory.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.tracing.interface import Recording, Tracer
from profiler.tracing.strace_parser import STRACE_ARGS, after_filter_load, iter_lines, parse_strace

EXIT_TIMEOUT = 120.0


ATTACH_TIMEOUT = 60.0


def release_when_traced(host_pid: int, tracer: subprocess.Popen[str]) -> None:
    """Let ``wait-for-tracer`` go on once strace is attached and its trap is installed.

    The host sees the tracer in /proc/PID/status (the container cannot: strace is outside
    its pid namespace), and SigCgt shows when the script catches SIGUSR1, so the signal
    never arrives before the handler and kills the job.
    """
    usr1 = 1 << (signal.SIGUSR1 - 1)
    deadline = time.monotonic() + ATTACH_TIMEOUT
    while time.monotonic() < deadline:
        if tracer.poll() is not None:
            raise EnvironmentProblem(
                "strace could not attach to the container's process",
                "check that ptrace is allowed (kernel.yama.ptrace_scope) and run as root",
            )
        fields = _status(host_pid)
        if fields is None:
            return  # the process is gone; the run will report why
        traced = fields.get("TracerPid", "0") != "0"
        caught = int(fields.get("SigCgt", "0"), 16) & usr1
        if traced and caught:
            os.kill(host_pid, signal.SIGUSR1)
            return
        time.sleep(0.01)
    raise EnvironmentProblem(f"strace did not attach within {ATTACH_TIMEOUT:.0f} s")


def _status(pid: int) -> dict[str, str] | None:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    return {k: v.strip() for k, _, v in (line.partition(":") for line in text.splitlines())}


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
        release_when_traced(host_pid, self._process)

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
