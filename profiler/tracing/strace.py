"""The strace tracer (ptrace), for machines where eBPF is not available.

Each container is started held (``RunSpec.hold_until_traced``): its cgroup is frozen
before the start, so the OCI runtime's init process stops before it runs anything of the
container's; strace attaches to it from the host and the container goes on. ``-f``
follows every fork and thread from there, and only what happens after the container's
seccomp filter is loaded counts, as with eBPF. The image's entrypoint stays PID 1.
ptrace stops every traced syscall twice, so this tracer slows a job far more than eBPF;
its trace also carries argument values (socket families, clone flags) for argument
filters. Trace files are parsed as a stream, so multi-GB traces take flat memory.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.runtime.interface import ContainerRef
from profiler.tracing.interface import Recording, Tracer, merge_roles
from profiler.tracing.strace_parser import STRACE_ARGS, after_filter_load, iter_lines, parse_strace

EXIT_TIMEOUT = 120.0
ATTACH_TIMEOUT = 60.0


def wait_until_traced(host_pid: int, tracer: subprocess.Popen[str]) -> None:
    """Return once strace has seized ``host_pid`` (its TracerPid is set)."""
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
        if fields.get("TracerPid", "0") != "0":
            return
        time.sleep(0.005)
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
        self.trace_file = work_dir / "strace.txt"  # the local backend's one trace
        # One strace per container: (container, trace file, process)
        self._traces: list[tuple[ContainerRef, Path, subprocess.Popen[str] | None]] = []
        self._stderr: str = ""
        # The local backend starts its launcher under strace (``wrap_local_command``).
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

    def started(self, host_pid: int, container: ContainerRef) -> None:
        if self._from_launch:
            # strace is the process the backend started.
            self._traces.append((container, self.trace_file, None))
            return
        self.work_dir.mkdir(parents=True, exist_ok=True)
        trace = self.work_dir / f"strace-{container.name}.txt"
        process = proc.start(
            ["strace", *STRACE_ARGS, "-o", str(trace), "-p", str(host_pid)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        self._traces.append((container, trace, process))
        wait_until_traced(host_pid, process)

    def finished(self) -> None:
        errors = []
        for _, _, process in self._traces:
            if process is None:
                continue
            try:
                # strace ends by itself when the last traced process is gone.
                _, stderr = process.communicate(timeout=EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                _, stderr = process.communicate()
            errors.append(stderr or "")
        self._stderr = "".join(errors)
        self._traces = [(c, t, None) for c, t, _ in self._traces]

    def recordings(self, workload: str, run_index: int, pod_security: str) -> tuple[Recording, ...]:
        if not self._traces:
            raise EnvironmentProblem("the container never started, so nothing was recorded")
        by_role: dict[str, list[Recording]] = {}
        for container, trace, _ in self._traces:
            if not trace.exists():
                raise EnvironmentProblem(
                    "strace wrote no trace: "
                    + (self._stderr.strip().splitlines() or ["no output"])[-1],
                    "check that ptrace is allowed (kernel.yama.ptrace_scope) and run as root",
                )
            # Every trace begins before the filter: the launcher's, or the OCI runtime's.
            parsed = parse_strace(
                after_filter_load(iter_lines(trace)),
                workload=workload,
                run_index=run_index,
                pod_security=pod_security,
            )
            by_role.setdefault(container.role.value, []).append(parsed.recording)
        merged = []
        for role, recordings in sorted(by_role.items()):
            merged.append(_with_role(merge_roles(tuple(recordings)), role))
        return tuple(merged)


def _with_role(recording: Recording, role: str) -> Recording:
    from dataclasses import replace

    return replace(recording, role=role)
