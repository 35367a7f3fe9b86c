"""A profile with one rule of each kind the diagnosis tells apart, shared by its tests."""

from __future__ import annotations

from profiler.seccomp.profile import ArgCondition, Profile, SyscallRule

SOCKET_AF_UNIX_ONLY = SyscallRule(
    ("socket",), "SCMP_ACT_ALLOW", args=(ArgCondition(0, 1, "SCMP_CMP_EQ"),)
)
PROFILE = Profile(
    "SCMP_ACT_ERRNO",
    (
        SyscallRule(("read", "write", "futex"), "SCMP_ACT_ALLOW"),
        SOCKET_AF_UNIX_ONLY,
        SyscallRule(("clone3", "statx", "mount"), "SCMP_ACT_ERRNO", errno_ret=38),
        SyscallRule(("ptrace",), "SCMP_ACT_KILL_PROCESS"),
        SyscallRule(("kexec_load",), "SCMP_ACT_ERRNO", errno_ret=1),
    ),
    default_errno_ret=38,
    architectures=("SCMP_ARCH_X86_64",),
)
