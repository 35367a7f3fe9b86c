"""The local backend's launcher: drop privileges, load the OCI profile, exec the job.

Run as ``python -m profiler.runtime.launcher [options] -- PROGRAM ARGS...`` in a process
of its own (no threads, so the filter covers the whole process). It does what runc does
for a container's first process, in runc's order:

- with ``--no-new-privs``: set no_new_privs, drop the capabilities, switch user and group,
  *then* load the filter and exec, so the only calls made under the filter are the
  interpreter's few between ``load()`` and ``execve`` (a profile recorded this way carries
  exactly those, as a runc profile carries runc's last steps);
- without it: load the filter first (needs CAP_SYS_ADMIN, as in runc), then drop
  privileges under the filter, so those calls must be allowed by the profile.

The profile is translated into a libseccomp filter through pyseccomp the way runc does it
(``build_filter``): per-rule actions and errno values, argument conditions, the listed
architectures; names libseccomp does not know are skipped, as runc skips them.
"""

from __future__ import annotations

import argparse
import ctypes
import errno as errno_lib
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pyseccomp

from profiler.seccomp.profile import ArgCondition, Profile, SyscallRule, profile_from_dict

EXIT_LAUNCHER_FAILED = 125  # like `docker run` when the engine, not the job, failed
PROG = "spark-seccomp-launcher"

# Linux capability numbers (include/uapi/linux/capability.h); stable kernel ABI.
CAPABILITIES = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
]

PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_LINUX_CAPABILITY_VERSION_3 = 0x20080522

_OPS = {
    "SCMP_CMP_NE": pyseccomp.NE,
    "SCMP_CMP_LT": pyseccomp.LT,
    "SCMP_CMP_LE": pyseccomp.LE,
    "SCMP_CMP_EQ": pyseccomp.EQ,
    "SCMP_CMP_GE": pyseccomp.GE,
    "SCMP_CMP_GT": pyseccomp.GT,
    "SCMP_CMP_MASKED_EQ": pyseccomp.MASKED_EQ,
}
_FLAG_ATTRS = {
    "SECCOMP_FILTER_FLAG_LOG": pyseccomp.Attr.CTL_LOG,
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW": pyseccomp.Attr.CTL_SSB,
}


class LauncherError(Exception):
    """A profile or option the launcher cannot apply; the message names it."""


def seccomp_action(action: str, errno_ret: int | None) -> int:
    """libseccomp's action value for an OCI action; ERRNO and TRACE default to EPERM as
    in runc."""
    code = errno_ret if errno_ret is not None else errno_lib.EPERM
    simple = {
        "SCMP_ACT_ALLOW": pyseccomp.ALLOW,
        "SCMP_ACT_KILL": pyseccomp.KILL,
        "SCMP_ACT_KILL_THREAD": pyseccomp.KILL_THREAD,
        "SCMP_ACT_KILL_PROCESS": pyseccomp.KILL_PROCESS,
        "SCMP_ACT_TRAP": pyseccomp.TRAP,
        "SCMP_ACT_LOG": pyseccomp.LOG,
    }
    if action in simple:
        return int(simple[action])
    if action == "SCMP_ACT_ERRNO":
        return int(pyseccomp.ERRNO(code))
    if action == "SCMP_ACT_TRACE":
        return int(pyseccomp.TRACE(code))
    raise LauncherError(
        f"action {action} cannot be enforced without a container runtime "
        "(SCMP_ACT_NOTIFY needs a listening agent)"
    )


def _arch_token(oci_arch: str) -> int | None:
    name = oci_arch.upper().removeprefix("SCMP_ARCH_")
    token = getattr(pyseccomp.Arch, name, None)
    return int(token) if token is not None else None


def _known_anywhere(name: str) -> bool:
    """libseccomp resolves names of other architectures to negative pseudo numbers and
    unknown names to -1 (__NR_SCMP_ERROR)."""
    return int(pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)) != -1


def _conditions(args: Sequence[ArgCondition]) -> list[list[pyseccomp.Arg]]:
    """One rule's argument conditions as libseccomp rules, as runc builds them: all
    conditions ANDed in one rule, unless one argument index appears twice, then each
    condition is a rule of its own (libseccomp cannot AND two checks of one argument)."""
    converted = [pyseccomp.Arg(a.index, _OPS[a.op], a.value, a.value_two) for a in args]
    indexes = [a.index for a in args]
    if len(set(indexes)) < len(indexes):
        return [[c] for c in converted]
    return [converted]


@dataclass(frozen=True)
class BuiltFilter:
    filter: pyseccomp.SyscallFilter
    rules: int  # libseccomp rules added
    skipped: tuple[str, ...]  # names libseccomp does not know on any listed architecture
    notes: tuple[str, ...]


def build_filter(profile: Profile, *, no_new_privs: bool = True) -> BuiltFilter:
    """The pyseccomp filter enforcing ``profile`` (not loaded)."""
    default = seccomp_action(profile.default_action, profile.default_errno_ret)
    built = pyseccomp.SyscallFilter(default)
    built.set_attr(pyseccomp.Attr.CTL_NNP, 1 if no_new_privs else 0)
    notes: list[str] = []
    for flag in profile.flags:
        attr = _FLAG_ATTRS.get(flag)
        if attr is not None:
            built.set_attr(attr, 1)
        elif flag != "SECCOMP_FILTER_FLAG_TSYNC":  # a one-threaded launcher needs no sync
            notes.append(f"profile flag {flag} is not applied by the local backend")
    native = int(pyseccomp.system_arch())
    for oci_arch in profile.architectures:
        token = _arch_token(oci_arch)
        if token is None:
            raise LauncherError(f"libseccomp does not know architecture {oci_arch}")
        if token != native and not built.exist_arch(token):
            built.add_arch(token)
    skipped: set[str] = set()
    count = 0
    for rule in profile.rules:
        action = seccomp_action(rule.action, rule.errno_ret)
        if action == default:
            continue  # runc skips rules that repeat the default; libseccomp rejects them
        for name in rule.names:
            if not _known_anywhere(name):
                skipped.add(name)
                continue
            for conditions in _conditions(rule.args):
                try:
                    built.add_rule(action, name, *conditions)
                except OSError as exc:
                    raise LauncherError(f"libseccomp rejected the rule for {name}: {exc}") from exc
                count += 1
    if skipped:
        notes.append(
            "syscalls unknown to libseccomp here were skipped: " + ", ".join(sorted(skipped))
        )
    return BuiltFilter(built, count, tuple(sorted(skipped)), tuple(notes))


def load_profile_file(path: Path) -> Profile:
    return profile_from_dict(json.loads(Path(path).read_text(encoding="utf-8")), str(path))


# -- privileges ----------------------------------------------------------------------------
def capability_numbers(names: Sequence[str]) -> list[int]:
    """Capability numbers for names (with or without CAP_), ``ALL`` meaning every one the
    running kernel has."""
    wanted = [n.strip().upper().removeprefix("CAP_") for n in names if n.strip()]
    if "ALL" in wanted:
        try:
            last = int(Path("/proc/sys/kernel/cap_last_cap").read_text())
        except (OSError, ValueError):
            last = len(CAPABILITIES) - 1
        return list(range(last + 1))
    numbers = []
    for name in wanted:
        if name not in CAPABILITIES:
            raise LauncherError(f"unknown capability {name}")
        numbers.append(CAPABILITIES.index(name))
    return sorted(set(numbers))


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        code = ctypes.get_errno()
        raise LauncherError(f"{what} failed: {os.strerror(code)}")


def drop_capabilities(numbers: Sequence[int]) -> None:
    """Drop capabilities from the bounding set (needs CAP_SETPCAP) and the ambient set;
    the effective/permitted/inheritable sets are cleared by ``clear_process_caps``."""
    libc = _libc()
    for number in numbers:
        if libc.prctl(PR_CAPBSET_DROP, number, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno_lib.EINVAL:
                continue  # not a capability of this kernel
            _check(-1, f"dropping capability {number} from the bounding set")
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)


def clear_process_caps(numbers: Sequence[int]) -> None:
    """Remove ``numbers`` from the effective, permitted and inheritable sets (capset)."""
    libc = _libc()
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(libc.capget(ctypes.byref(header), data), "capget")
    for number in numbers:
        word, bit = divmod(number, 32)
        mask = ~(1 << bit) & 0xFFFFFFFF
        data[word].effective &= mask
        data[word].permitted &= mask
        data[word].inheritable &= mask
    _check(libc.capset(ctypes.byref(header), data), "capset")


def set_no_new_privs() -> None:
    _check(_libc().prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(PR_SET_NO_NEW_PRIVS)")


def switch_user(uid: int | None, gid: int | None) -> None:
    if gid is not None:
        os.setgroups([gid])
        os.setgid(gid)
    if uid is not None:
        os.setuid(uid)


# -- command line --------------------------------------------------------------------------
def launcher_argv(
    command: Sequence[str],
    *,
    python: str = sys.executable,
    profile: Path | None = None,
    uid: int | None = None,
    gid: int | None = None,
    drop_caps: Sequence[str] = (),
    no_new_privs: bool = False,
    cwd: Path | None = None,
) -> list[str]:
    """The argv that starts ``command`` through this launcher (pure)."""
    argv = [python, "-m", "profiler.runtime.launcher"]
    if profile is not None:
        argv += ["--profile", str(profile)]
    if uid is not None:
        argv += ["--uid", str(uid)]
    if gid is not None:
        argv += ["--gid", str(gid)]
    if drop_caps:
        argv += ["--drop-caps", ",".join(drop_caps)]
    if no_new_privs:
        argv.append("--no-new-privs")
    if cwd is not None:
        argv += ["--cwd", str(cwd)]
    return [*argv, "--", *command]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__)
    parser.add_argument("--profile", type=Path, help="OCI seccomp profile to enforce")
    parser.add_argument("--uid", type=int)
    parser.add_argument("--gid", type=int)
    parser.add_argument("--drop-caps", default="", help="ALL or comma-separated names")
    parser.add_argument("--no-new-privs", action="store_true")
    parser.add_argument("--cwd", type=Path)
    parser.add_argument("command", nargs="+")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        # Everything that allocates, reads files or resolves names happens before the
        # filter, so the calls made under it are as few as the interpreter allows.
        built = None
        if args.profile is not None:
            built = build_filter(load_profile_file(args.profile), no_new_privs=args.no_new_privs)
        program = shutil.which(args.command[0], path=os.environ.get("PATH"))
        if program is None:
            raise LauncherError(f"{args.command[0]} not found on PATH")
        caps = capability_numbers(args.drop_caps.split(",")) if args.drop_caps else []
        environ = dict(os.environ)
        if args.cwd is not None:
            os.chdir(args.cwd)
        if args.no_new_privs:
            set_no_new_privs()
        elif built is not None:
            built.filter.load()  # runc's order without no_new_privs: privileges drop later
        if caps:
            drop_capabilities(caps)
        switch_user(args.uid, args.gid)
        if caps:
            clear_process_caps(caps)
        if built is not None and args.no_new_privs:
            built.filter.load()
        os.execve(program, args.command, environ)
    except (LauncherError, OSError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return EXIT_LAUNCHER_FAILED
    return EXIT_LAUNCHER_FAILED  # not reached: execve does not return


if __name__ == "__main__":
    sys.exit(main())


__all__ = ["BuiltFilter", "SyscallRule", "build_filter", "launcher_argv", "main"]
