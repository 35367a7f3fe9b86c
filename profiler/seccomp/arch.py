"""Syscall names and numbers per architecture, and translating a name set between them.

Every number and every "does this call exist here" answer comes from libseccomp (through
``pyseccomp``), never from a hand-written syscall table: libseccomp is what runc and
containerd use to turn a profile's names into BPF, so its view is the one that counts.
The only hand-written data is *policy*: which modern call replaces a legacy one.

Architecture names are libseccomp's, lower case ("x86_64", "aarch64"); "amd64" and
"arm64" (Go and Kubernetes spelling) are accepted as aliases.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import pyseccomp

from profiler.errors import UsageError

# Highest plain syscall number scanned; every current ABI stays well below it.
MAX_SYSCALL_NUMBER = 1024

_ALIASES = {
    "amd64": "x86_64",
    "x86-64": "x86_64",
    "arm64": "aarch64",
    "i386": "x86",
    "386": "x86",
}

# Where an ABI's numbers start besides 0: x32 marks its calls with __X32_SYSCALL_BIT and
# 32-bit ARM keeps its private calls (cacheflush, set_tls...) at __ARM_NR_BASE.
_NUMBER_BASES = {"x32": (0, 0x40000000), "arm": (0, 0x0F0000)}

# A node of one architecture also runs that CPU's compat ABIs; runc needs them listed or
# it rejects (by the bad-arch action) every call made by a 32-bit program.
_OCI_ARCHITECTURES = {
    "x86_64": ("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    "aarch64": ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"),
}

# Policy, not data: the call a libc uses on architectures without the legacy one
# (asm-generic ABIs such as aarch64 and riscv64 dropped them). Existence on each side is
# checked with libseccomp at use time, so a wrong entry only adds nothing.
LEGACY_EQUIVALENTS: Mapping[str, tuple[str, ...]] = {
    "access": ("faccessat",),
    "alarm": ("setitimer",),
    "chmod": ("fchmodat",),
    "chown": ("fchownat",),
    "creat": ("openat",),
    "dup2": ("dup3",),
    "epoll_create": ("epoll_create1",),
    "epoll_wait": ("epoll_pwait",),
    "eventfd": ("eventfd2",),
    "fork": ("clone",),
    "futimesat": ("utimensat",),
    "getdents": ("getdents64",),
    "getpgrp": ("getpgid",),
    "inotify_init": ("inotify_init1",),
    "lchown": ("fchownat",),
    "link": ("linkat",),
    "lstat": ("newfstatat",),
    "mkdir": ("mkdirat",),
    "mknod": ("mknodat",),
    "open": ("openat",),
    "pause": ("rt_sigsuspend",),
    "pipe": ("pipe2",),
    "poll": ("ppoll",),
    "readlink": ("readlinkat",),
    "rename": ("renameat", "renameat2"),
    "renameat": ("renameat2",),
    "rmdir": ("unlinkat",),
    "select": ("pselect6",),
    "signalfd": ("signalfd4",),
    "stat": ("newfstatat",),
    "symlink": ("symlinkat",),
    "time": ("clock_gettime",),
    "unlink": ("unlinkat",),
    "utime": ("utimensat",),
    "utimes": ("utimensat",),
    "vfork": ("clone",),
}


def canonical_arch(name: str) -> str:
    """libseccomp's name for an architecture given in any common spelling."""
    key = name.strip().lower()
    if key.startswith("scmp_arch_"):
        key = key[len("scmp_arch_") :]
    key = _ALIASES.get(key, key)
    if key == "native" or not hasattr(pyseccomp.Arch, key.upper()):
        raise UsageError(
            f"unknown architecture {name!r}",
            "use amd64 (x86_64) or arm64 (aarch64), or another libseccomp architecture name",
        )
    return key


def known_arch_names() -> tuple[str, ...]:
    """Every architecture libseccomp (through pyseccomp) can name."""
    return tuple(sorted(a.lower() for a in dir(pyseccomp.Arch) if a.isupper() and a != "NATIVE"))


def parse_arches(text: str) -> tuple[str, ...]:
    """`--arch amd64,arm64` as canonical names, sorted so option order never changes output."""
    arches = {canonical_arch(part) for part in text.split(",") if part.strip()}
    if not arches:
        raise UsageError("no architecture given", "e.g. --arch amd64,arm64")
    return tuple(sorted(arches))


def native_arch() -> str:
    """The architecture this machine's processes run as, in libseccomp's naming."""
    token = pyseccomp.system_arch()
    for attr in dir(pyseccomp.Arch):
        if attr.isupper() and attr != "NATIVE" and getattr(pyseccomp.Arch, attr) == token:
            return attr.lower()
    raise UsageError(f"libseccomp reports an unknown native architecture token {token:#x}")


def arch_token(arch: str) -> int:
    """libseccomp's token for ``arch``: the kernel's AUDIT_ARCH value, which a filter
    program compares ``seccomp_data.arch`` with."""
    return int(getattr(pyseccomp.Arch, canonical_arch(arch).upper()))


def syscall_number(name: str, arch: str) -> int | None:
    """The call's number on ``arch``, or None when the arch does not have it.

    libseccomp answers negative "pseudo-syscall" numbers for names it knows from other
    architectures; those are not calls a program on ``arch`` can make.
    """
    number = pyseccomp.resolve_syscall(arch_token(arch), name)
    return number if number >= 0 else None


def syscall_name(number: int, arch: str) -> str | None:
    """The call's name for ``number`` on ``arch``, or None when libseccomp has no name."""
    if number < 0:
        return None
    try:
        return pyseccomp.resolve_syscall(arch_token(arch), number).decode("ascii")
    except ValueError:
        return None


def exists(name: str, arch: str) -> bool:
    return syscall_number(name, arch) is not None


@functools.cache
def known_syscalls(arch: str) -> frozenset[str]:
    """Every call libseccomp can name on ``arch`` (scanning numbers, not a table)."""
    arch = canonical_arch(arch)
    names = set()
    for base in _NUMBER_BASES.get(arch, (0,)):
        for number in range(base, base + MAX_SYSCALL_NUMBER + 1):
            name = syscall_name(number, arch)
            if name is not None and exists(name, arch):
                names.add(name)
    return frozenset(names)


def oci_architectures(arch: str) -> tuple[str, ...]:
    """The `architectures` entries of an OCI profile for nodes of ``arch``."""
    arch = canonical_arch(arch)
    return _OCI_ARCHITECTURES.get(arch, (f"SCMP_ARCH_{arch.upper()}",))


def oci_sub_arches(arch: str) -> tuple[str, ...]:
    """The primary arch and its compat ABIs, in libseccomp naming."""
    return tuple(a[len("SCMP_ARCH_") :].lower() for a in oci_architectures(arch))


@dataclass(frozen=True)
class Translation:
    """The name set made usable on every target architecture, and what it took.

    ``added`` maps a recorded name to the equivalents added for it; ``missing`` maps each
    target arch to the names in the result that do not exist there (kept, because another
    target needs them, and reported, because on that arch they protect nothing).
    """

    names: frozenset[str]
    added: Mapping[str, tuple[str, ...]]
    missing: Mapping[str, tuple[str, ...]]


def translate_names(
    names: Iterable[str], targets: Iterable[str], sources: Iterable[str] = ()
) -> Translation:
    """Add the equivalents each target arch needs for a name set recorded on ``sources``.

    Forward: a legacy call missing on a target gets its modern equivalents (``open`` ->
    ``openat`` for aarch64). Backward: a target that has a legacy call the recording arch
    lacks (so it could never have been seen) gets it when its modern form was recorded;
    the same program built for that target may use the legacy call.
    """
    names = set(names)
    targets = tuple(sorted({canonical_arch(t) for t in targets}))
    sources = tuple(sorted({canonical_arch(s) for s in sources}))
    added: dict[str, set[str]] = {}
    recorded = frozenset(names)
    for target in targets:
        for name in sorted(recorded):
            if exists(name, target):
                continue
            for modern in LEGACY_EQUIVALENTS.get(name, ()):
                if exists(modern, target):
                    if modern not in recorded:
                        added.setdefault(name, set()).add(modern)
                    names.add(modern)
        for legacy, moderns in sorted(LEGACY_EQUIVALENTS.items()):
            if legacy in recorded or not exists(legacy, target):
                continue
            unseen_on_sources = bool(sources) and all(not exists(legacy, s) for s in sources)
            used = [m for m in moderns if m in recorded]
            if unseen_on_sources and used:
                added.setdefault(used[0], set()).add(legacy)
                names.add(legacy)
    missing = {
        target: tuple(sorted(n for n in names if not exists(n, target))) for target in targets
    }
    return Translation(
        frozenset(names),
        {k: tuple(sorted(v)) for k, v in sorted(added.items())},
        {k: v for k, v in missing.items() if v},
    )
