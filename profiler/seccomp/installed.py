"""The seccomp programs the kernel holds for a running process, as it was given them.

``PTRACE_SECCOMP_GET_FILTER`` (Linux 4.4+, with CONFIG_CHECKPOINT_RESTORE) hands a
tracer the original classic BPF of each filter of a stopped tracee: what runc or crun
really loaded, their own additions included (runc's ENOSYS stub). Comparing what
``seccomp.cache`` computes on these with what it computes on libseccomp's export of the
same profile checks that the export stands for the real thing. Needs root (CAP_SYS_ADMIN
in the initial namespace, and ptrace rights over the process).
"""

from __future__ import annotations

import ctypes
import os

from profiler.errors import EnvironmentProblem
from profiler.seccomp import bpf

PTRACE_ATTACH = 16
PTRACE_DETACH = 17
PTRACE_SECCOMP_GET_FILTER = 0x420C
_WALL = 0x40000000  # wait for any child, clone or not: a tracee is not our child
_MAX_FILTERS = 64


def installed_filters(pid: int) -> tuple[tuple[bpf.Insn, ...], ...]:
    """The programs of every filter of ``pid``, oldest first (the order the kernel's cache
    is built in). The process is stopped while they are read and then let go."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.ptrace.restype = ctypes.c_long
    libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if libc.ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        raise _failed("attaching to", pid, ctypes.get_errno())
    try:
        os.waitpid(pid, _WALL)
        programs: list[tuple[bpf.Insn, ...]] = []
        for index in range(_MAX_FILTERS):
            # The newest filter is index 0; a first call with no buffer gives the length.
            count = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(index), None)
            if count < 0:
                error = ctypes.get_errno()
                if error == 2:  # ENOENT: no filter at this index, all were read
                    break
                raise _failed("reading the filters of", pid, error)
            buffer = ctypes.create_string_buffer(count * 8)
            got = libc.ptrace(PTRACE_SECCOMP_GET_FILTER, pid, ctypes.c_void_p(index), buffer)
            if got != count:
                raise _failed("reading the filters of", pid, ctypes.get_errno())
            programs.append(bpf.parse_program(buffer.raw))
        return tuple(reversed(programs))
    finally:
        libc.ptrace(PTRACE_DETACH, pid, None, None)


def _failed(what: str, pid: int, error: int) -> EnvironmentProblem:
    return EnvironmentProblem(
        f"{what} process {pid} failed: {os.strerror(error)}",
        "reading a process's seccomp filters needs root and a kernel with "
        "CONFIG_CHECKPOINT_RESTORE",
    )
