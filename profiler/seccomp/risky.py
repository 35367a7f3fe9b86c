"""The review list: syscalls a generated profile holds back unless the user allows them.

These are calls RuntimeDefault (Docker's and containerd's default profiles) blocks, or only
allows with a capability a restricted pod has dropped. A recording that contains one is
more often a sign of tracing the wrong thing (runc's setup before the filter: mount,
pivot_root, sethostname, keyctl...) than a need of the workload, so they never enter a
profile silently: the summary lists each with its reason, and ``--allow NAME`` lets it in.

clone3 is deliberately absent: glibc >= 2.34 creates threads with it and only falls back
to clone on ENOSYS, so it must be allowed or fail with ENOSYS, never held back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class RiskyCall:
    """Why a call is on the review list. ``capability`` is the one RuntimeDefault requires;
    None when RuntimeDefault blocks it whatever the capabilities (or filters its arguments)."""

    name: str
    reason: str
    capability: str | None

    def describe(self) -> str:
        gate = (
            f"RuntimeDefault needs {self.capability}"
            if self.capability
            else "RuntimeDefault blocks it"
        )
        return f"{self.reason} ({gate})"


@dataclass(frozen=True)
class HeldBack:
    """A recorded call left out of the profile, with the reason shown to the user."""

    name: str
    reason: str
    capability: str | None

    def to_dict(self) -> dict[str, str | None]:
        return {"name": self.name, "reason": self.reason, "capability": self.capability}


def _entries(names: str, reason: str, capability: str | None) -> list[RiskyCall]:
    return [RiskyCall(name, reason, capability) for name in names.split()]


_SYS_ADMIN = "CAP_SYS_ADMIN"

RISKY: Mapping[str, RiskyCall] = {
    call.name: call
    for call in [
        *_entries(
            "mount umount umount2",
            "changes the mount table; runc's own container setup, rarely a workload's",
            _SYS_ADMIN,
        ),
        *_entries(
            "fsopen fsconfig fsmount fspick move_mount open_tree mount_setattr",
            "new mount API: same power as mount",
            _SYS_ADMIN,
        ),
        *_entries("pivot_root", "swaps the root filesystem; runc setup only", _SYS_ADMIN),
        *_entries(
            "unshare",
            "creates namespaces; user namespaces expose kernel code unprivileged users cannot otherwise reach",
            _SYS_ADMIN,
        ),
        *_entries("setns", "joins another process's namespaces", _SYS_ADMIN),
        *_entries(
            "sethostname setdomainname", "renames the UTS namespace; runc setup only", _SYS_ADMIN
        ),
        *_entries(
            "bpf", "loads eBPF programs into the kernel, a frequent exploit target", _SYS_ADMIN
        ),
        *_entries(
            "perf_event_open",
            "kernel performance counters; can leak kernel addresses and timing",
            _SYS_ADMIN,
        ),
        *_entries("fanotify_init", "watches filesystem events beyond the container", _SYS_ADMIN),
        *_entries("lookup_dcookie", "resolves kernel directory cookies (profiling)", _SYS_ADMIN),
        *_entries("quotactl quotactl_fd", "manipulates filesystem quotas", _SYS_ADMIN),
        *_entries("swapon swapoff", "changes the host's swap devices", _SYS_ADMIN),
        *_entries("syslog", "reads or clears the kernel log (may leak addresses)", "CAP_SYSLOG"),
        *_entries(
            "ptrace",
            "reads and writes other processes' memory and registers",
            "CAP_SYS_PTRACE",
        ),
        *_entries(
            "process_vm_readv process_vm_writev",
            "reads or writes another process's memory directly",
            "CAP_SYS_PTRACE",
        ),
        *_entries(
            "kcmp pidfd_getfd process_madvise",
            "inspects or takes over another process's resources",
            "CAP_SYS_PTRACE",
        ),
        *_entries(
            "keyctl add_key request_key",
            "the kernel keyring is not namespaced: keys can leak between containers",
            None,
        ),
        *_entries(
            "userfaultfd",
            "lets user space stall kernel page faults, a standard exploit primitive",
            None,
        ),
        *_entries(
            "io_uring_setup io_uring_enter io_uring_register",
            "large, often exploited kernel surface whose operations bypass seccomp",
            None,
        ),
        *_entries(
            "mbind get_mempolicy set_mempolicy set_mempolicy_home_node",
            "NUMA memory policy (JVM -XX:+UseNUMA); can degrade other tenants",
            "CAP_SYS_NICE",
        ),
        *_entries(
            "move_pages migrate_pages",
            "moves another process's pages between NUMA nodes",
            "CAP_SYS_NICE",
        ),
        *_entries("kexec_load kexec_file_load", "loads and boots a new kernel", "CAP_SYS_BOOT"),
        *_entries("reboot", "reboots or halts the host", "CAP_SYS_BOOT"),
        *_entries(
            "init_module finit_module delete_module create_module",
            "loads or unloads kernel modules",
            "CAP_SYS_MODULE",
        ),
        *_entries(
            "chroot", "changes the root directory; part of classic escapes", "CAP_SYS_CHROOT"
        ),
        *_entries("acct", "switches process accounting on the host", "CAP_SYS_PACCT"),
        *_entries(
            "clock_settime settimeofday stime",
            "sets the host clock, which is not namespaced",
            "CAP_SYS_TIME",
        ),
        *_entries(
            "adjtimex clock_adjtime",
            "tunes the host clock; only the read-only form works without the capability",
            "CAP_SYS_TIME",
        ),
        *_entries(
            "open_by_handle_at",
            "opens files by handle, bypassing the mount namespace (the 'shocker' escape)",
            "CAP_DAC_READ_SEARCH",
        ),
        *_entries(
            "name_to_handle_at",
            "makes file handles for open_by_handle_at; RuntimeDefault allows it, review it anyway",
            None,
        ),
        *_entries(
            "personality",
            "RuntimeDefault allows only PER_LINUX, PER_LINUX32, UNAME26 and queries; other personas weaken ASLR/NX",
            None,
        ),
        *_entries("vhangup", "hangs up the controlling terminal", "CAP_SYS_TTY_CONFIG"),
        *_entries("ioperm iopl", "direct access to hardware I/O ports", "CAP_SYS_RAWIO"),
        *_entries(
            "nfsservctl uselib _sysctl get_kernel_syms query_module vm86 vm86old",
            "obsolete interface with a history of vulnerabilities",
            None,
        ),
    ]
}


def split_risky(
    names: Iterable[str], allow: Iterable[str] = ()
) -> tuple[frozenset[str], tuple[HeldBack, ...]]:
    """Split recorded names into (kept, held back with reasons); ``allow`` releases names."""
    allowed = frozenset(allow)
    kept: set[str] = set()
    held: list[HeldBack] = []
    for name in sorted(set(names)):
        call = RISKY.get(name)
        if call is None or name in allowed:
            kept.add(name)
        else:
            held.append(HeldBack(name, call.describe(), call.capability))
    return frozenset(kept), tuple(held)
