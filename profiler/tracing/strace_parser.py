"""Streaming parser of ``strace -f`` output into a ``Recording`` (counts per process role).

Expected invocation (``STRACE_ARGS``)::

    strace -f -q -X verbose -e signal=none -s 128 -o TRACE -- COMMAND...

- ``-f`` follows forks and threads; every line then starts with the pid, which is how
  calls are attributed to processes (the ``[pid N]`` form strace uses on a terminal is
  also read).
- ``-q`` drops attach/detach chatter but keeps ``+++ exited`` lines, which tell the parser
  a pid is gone (pids are reused). ``-qq`` works too, slightly less precisely.
- ``-X verbose`` prints constants as ``0x1 /* AF_UNIX */``: numbers for the argument
  filters, names for people. Plain symbolic output (strace's default) and ``-X raw``
  parse as well; symbols with no Python constant (``CLONE_*``, ``PER_*``) are then kept
  as strings in ``StraceParse.flag_names`` instead of numbers.
- ``-e signal=none`` drops ``--- SIG...`` lines (they are skipped anyway).
- ``-s 128`` keeps execve arguments long enough to tell a Spark driver from an executor
  (strace's default 32 characters and 32 array elements cut JVM command lines; the
  classifier accepts truncated class names, but not missing ones).
- Timestamps (``-t``, ``-tt``, ``-ttt``, ``-r``) and ``-T`` durations are tolerated.

A call is counted once, on the line where it starts (``NAME(... <unfinished ...>``);
``<... NAME resumed>`` lines only supply return values (fork children, exec results).
Memory is bounded by the number of live processes and distinct syscall names, never by
the trace length: the input is iterated line by line.
"""

from __future__ import annotations

import itertools
import os
import re
import signal
import socket
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from profiler.seccomp.arch import native_arch, syscall_name
from profiler.tracing.interface import (
    ROLE_DRIVER_JVM,
    ROLE_EXECUTOR_JVM,
    ROLE_OTHER,
    ROLE_POD_INIT,
    ROLE_PYTHON_DRIVER,
    ROLE_PYTHON_WORKER,
    ROLE_SHELL,
    ROLE_WORKER_JVM,
    Recording,
)

STRACE_ARGS = ("-f", "-q", "-X", "verbose", "-e", "signal=none", "-s", "128")

# --- process roles -----------------------------------------------------------------------

_SHELLS = frozenset({"sh", "bash", "dash", "ash", "zsh", "ksh", "mksh", "busybox"})
# What images run as PID 1 to reap and forward signals (Spark's images: `tini -s --`).
_POD_INITS = frozenset({"tini", "tini-static", "dumb-init", "catatonit"})
_PYTHON = re.compile(r"python[0-9.]*$")
_DRIVER_CLASSES = ("org.apache.spark.deploy.SparkSubmit",)
_WORKER_CLASSES = (
    "org.apache.spark.deploy.worker.Worker",
    "org.apache.spark.deploy.master.Master",
)
_EXECUTOR_PACKAGE = "org.apache.spark.executor."
_PYSPARK_WORKER_MODULES = (
    "pyspark.daemon",
    "pyspark.worker",
    "pyspark/daemon.py",
    "pyspark/worker.py",
)
# A truncated argument ("org.apache.spark.executor.Coarse"...) still identifies a class
# when at least this much of it survived.
_MIN_TRUNCATED = 24
TRUNCATED = "..."


def _matches_class(arg: str, class_name: str) -> bool:
    if arg == class_name:
        return True
    if arg.endswith(TRUNCATED):
        kept = arg[: -len(TRUNCATED)]
        return len(kept) >= _MIN_TRUNCATED and class_name.startswith(kept)
    return False


def _is_executor_class(arg: str) -> bool:
    if arg.startswith(_EXECUTOR_PACKAGE):
        # CoarseGrainedExecutorBackend, KubernetesExecutorBackend, YarnCoarseGrained...
        return arg.endswith(TRUNCATED) or "ExecutorBackend" in arg
    return _matches_class(arg, _EXECUTOR_PACKAGE + "CoarseGrainedExecutorBackend")


def classify_process(argv: list[str]) -> str:
    """The role of a process from the argv it exec'd (shared by the strace and eBPF tracers).

    Arguments cut by a tracer carry a trailing ``...`` and still match when enough of a
    class name survived.
    """
    if not argv:
        return ROLE_OTHER
    program = os.path.basename(argv[0].removesuffix(TRUNCATED)).lstrip("-")
    if program == "java":
        for arg in argv[1:]:
            if any(_matches_class(arg, c) for c in _DRIVER_CLASSES):
                return ROLE_DRIVER_JVM
            if _is_executor_class(arg):
                return ROLE_EXECUTOR_JVM
            if any(_matches_class(arg, c) for c in _WORKER_CLASSES):
                return ROLE_WORKER_JVM
        return ROLE_OTHER
    if _PYTHON.match(program):
        if any(m in arg for arg in argv[1:] for m in _PYSPARK_WORKER_MODULES):
            return ROLE_PYTHON_WORKER
        return ROLE_PYTHON_DRIVER
    if program in _SHELLS or program.endswith(".sh"):  # scripts run through a shebang
        return ROLE_SHELL
    if program in _POD_INITS:
        return ROLE_POD_INIT
    return ROLE_OTHER


# --- argument decoding -------------------------------------------------------------------

_COMMENT = re.compile(r"/\*.*?\*/")
_STRING_OR_BRACKET = re.compile(r'"((?:[^"\\]|\\.)*)"(\.\.\.)?|\[|\]')
_FLAGS_FIELD = re.compile(r"flags=([^,}]*)")


def _symbol_value(name: str, module: object, prefix: str) -> int | None:
    if not name.startswith(prefix):
        return None
    value = getattr(module, name, None)
    return int(value) if isinstance(value, int) else None


def decode_constant(
    text: str, *, prefix: str = "", module: object = None
) -> tuple[int | None, frozenset[str]]:
    """An OR-expression as strace prints it -> (value, names without a known number).

    ``0x1 /* AF_UNIX */`` and ``0x1200000|17`` give numbers; ``AF_UNIX`` gives a number
    when ``module`` (``socket``, ``signal``) has that constant; any other symbol makes the
    value None and is returned by name.
    """
    if "/*" in text:
        text = _COMMENT.sub("", text)
    value = 0
    unknown: set[str] = set()
    for term in text.split("|"):
        term = term.strip()
        if not term:
            continue
        try:
            value |= int(term, 0)
            continue
        except ValueError:
            pass
        known = _symbol_value(term, module, prefix) if module is not None else None
        if known is None:
            known = _symbol_value(term, signal, "SIG")
        if known is None:
            unknown.add(term)
        else:
            value |= known
    return (None if unknown else value), frozenset(unknown)


def _first_arg(args: str) -> str:
    depth = 0
    for index, char in enumerate(args):
        if char in "{[(":
            depth += 1
        elif char in "}])":
            if depth == 0:
                return args[:index]
            depth -= 1
        elif char == "," and depth == 0:
            return args[:index]
    return args


def _unescape(text: str) -> str:
    if "\\" not in text:
        return text
    try:
        return text.encode("latin-1", "backslashreplace").decode("unicode_escape")
    except UnicodeDecodeError:
        return text


def parse_exec_argv(args: str) -> list[str]:
    """argv from the arguments of an execve/execveat line (after the opening parenthesis)."""
    argv: list[str] = []
    inside = False
    for match in _STRING_OR_BRACKET.finditer(args):
        token = match.group(0)
        if token == "[":
            if inside:
                break
            inside = True
        elif token == "]":
            if inside:
                break
        elif inside:
            argv.append(_unescape(match.group(1)) + (TRUNCATED if match.group(2) else ""))
    return argv


def _return_value(line: str) -> int | None:
    at = line.rfind(" = ")
    if at < 0:
        return None
    token = line[at + 3 :].split(None, 1)
    if not token:
        return None
    try:
        return int(token[0], 0)
    except ValueError:
        return None


# --- the parser --------------------------------------------------------------------------

_FORKS = frozenset({"clone", "clone3", "fork", "vfork"})
_EXECS = frozenset({"execve", "execveat"})
_ARGS = frozenset({"socket", "personality", "clone", "clone3", "unshare"})
_SPECIAL = _FORKS | _EXECS | _ARGS
_UNFINISHED = " <unfinished ...>"


@dataclass(frozen=True)
class StraceParse:
    """A parsed trace: the recording plus what did not fit its numeric fields."""

    recording: Recording
    # Argument symbols with no Python constant, e.g. "clone.flags" -> {"CLONE_VM", ...}.
    flag_names: Mapping[str, frozenset[str]] = field(default_factory=dict)
    lines: int = 0
    unparsed: int = 0  # lines that were neither a call, a resumption, an exit nor a signal
    execs: Mapping[str, int] = field(default_factory=dict)  # role -> successful execs into it


class StraceParser:
    """Feed it lines (``feed``), then ask for the ``result``; usable on a live stream."""

    def __init__(self, arch: str | None = None) -> None:
        self.arch = arch or native_arch()
        self.lines = 0
        self.unparsed = 0
        self._role_counts: dict[str, dict[str, int]] = {}
        self._role_of: dict[str, str] = {}
        self._counter_of: dict[str, dict[str, int]] = {}
        # Pids whose role is not known yet (seen before their parent's fork returned),
        # grouped by lineage: a group shares one unknown role until a fork resolves it.
        self._group_ids = itertools.count()
        self._group_of: dict[str, int] = {}
        self._group_members: dict[int, set[str]] = {}
        self._group_counts: dict[int, dict[str, int]] = {}
        self._execd: set[str] = set()  # pids that exec'd since they appeared
        self._pending_call: dict[str, str] = {}  # pid -> special call awaiting its result
        self._pending_argv: dict[str, list[str]] = {}
        self._arg_values: dict[str, set[int]] = {}
        self._flag_names: dict[str, set[str]] = {}
        self._execs: Counter[str] = Counter()

    # The hot loop: keep it to a few string operations per line.
    def feed(self, lines: Iterable[str]) -> None:
        counter_of = self._counter_of
        pending_call = self._pending_call
        special = _SPECIAL
        new_pid = self._new_pid
        handle_special = self._special
        handle_resumed = self._resumed
        handle_other = self._other_line
        count = 0
        try:
            for line in lines:
                count += 1
                space = line.find(" ")
                if space > 0 and line[:space].isdigit():
                    pid = line[:space]
                    rest = line[space + 1 :].lstrip(" ")
                else:
                    unusual, rest = self._split_unusual(line)
                    if unusual is None:
                        continue
                    pid = unusual
                if not rest:
                    self.unparsed += 1
                    continue
                first = rest[0]
                if first.isdigit():  # -t/-tt/-ttt/-r timestamp
                    rest = rest[rest.find(" ") + 1 :].lstrip(" ")
                    first = rest[:1]
                if first == "<":
                    if pid in pending_call:
                        handle_resumed(pid, rest)
                    continue
                if first == "+" or first == "-":
                    handle_other(pid, rest)
                    continue
                paren = rest.find("(")
                if paren <= 0:
                    self.unparsed += 1
                    continue
                name = rest[:paren]
                if name in special:
                    handle_special(pid, name, rest, paren)
                    continue
                counter = counter_of.get(pid)
                if counter is None:
                    counter = new_pid(pid)
                counter[name] = counter.get(name, 0) + 1
        finally:
            self.lines += count

    def _split_unusual(self, line: str) -> tuple[str | None, str]:
        line = line.rstrip("\n")
        if line.startswith("[pid"):
            close = line.find("]")
            pid = line[4:close].strip()
            if close > 0 and pid.isdigit():
                return pid, line[close + 1 :].lstrip(" ")
        if not line.strip():
            return None, ""
        # no pid column: a single-process trace (strace without -f)
        return "0", line.lstrip(" ")

    def _new_pid(self, pid: str) -> dict[str, int]:
        old = self._group_of.get(pid)
        if old is not None:  # a reused pid: the exited one stays in its group
            self._group_members[old].discard(pid)
        group = next(self._group_ids)
        counts: dict[str, int] = {}
        self._group_of[pid] = group
        self._group_members[group] = {pid}
        self._group_counts[group] = counts
        self._counter_of[pid] = counts
        return counts

    def _count(self, pid: str, name: str) -> None:
        counter = self._counter_of.get(pid)
        if counter is None:
            counter = self._new_pid(pid)
        counter[name] = counter.get(name, 0) + 1

    def _special(self, pid: str, name: str, rest: str, paren: int) -> None:
        unfinished = rest.rstrip().endswith(_UNFINISHED)
        args = rest[paren + 1 : rest.rfind(_UNFINISHED)] if unfinished else rest[paren + 1 :]
        if name in _EXECS:
            argv = parse_exec_argv(args)
            if unfinished:
                self._pending_call[pid] = name
                self._pending_argv[pid] = argv
            else:
                self._exec_done(pid, name, argv, _return_value(rest))
            return
        self._count(pid, name)
        if name in _ARGS:
            self._record_args(name, args)
        if name in _FORKS:
            if unfinished:
                self._pending_call[pid] = name
            else:
                self._fork_done(pid, _return_value(rest))

    def _resumed(self, pid: str, rest: str) -> None:
        name = self._pending_call.pop(pid)
        if name in _EXECS:
            self._exec_done(pid, name, self._pending_argv.pop(pid, []), _return_value(rest))
        elif name in _FORKS:
            self._fork_done(pid, _return_value(rest))

    def _other_line(self, pid: str, rest: str) -> None:
        if rest.startswith("+++"):
            if "superseded by execve" in rest:
                # A non-leader thread exec'd: its exec finishes under the leader's pid.
                match = re.search(r"in pid (\d+)", rest)
                if match and match.group(1) in self._pending_call:
                    thread = match.group(1)
                    self._pending_call[pid] = self._pending_call.pop(thread)
                    self._pending_argv[pid] = self._pending_argv.pop(thread, [])
                return
            self._exited(pid)
        elif not rest.startswith("---"):
            self.unparsed += 1

    def _exited(self, pid: str) -> None:
        name = self._pending_call.pop(pid, None)
        if name in _EXECS:
            self._count(pid, name)  # entered, never returned
        self._pending_argv.pop(pid, None)
        self._role_of.pop(pid, None)
        self._counter_of.pop(pid, None)
        self._execd.discard(pid)
        # A pending pid stays in its group: its parent's fork may return after the exit.

    def _exec_done(self, pid: str, name: str, argv: list[str], result: int | None) -> None:
        if result != 0:
            self._count(pid, name)
            return
        role = classify_process(argv)
        if pid in self._role_of:
            self._count(pid, name)  # the call belongs to the image that made it
        else:
            # Nothing known about the process before: the trace's first process, or a
            # child whose fork has not returned. Count the exec where it leads.
            self._role_counts.setdefault(role, {})[name] = (
                self._role_counts.get(role, {}).get(name, 0) + 1
            )
        self._set_role(pid, role)
        self._execd.add(pid)
        self._execs[role] += 1

    def _set_role(self, pid: str, role: str) -> None:
        group = self._group_of.pop(pid, None)
        if group is not None:
            self._group_members[group].discard(pid)
        self._role_of[pid] = role
        self._counter_of[pid] = self._role_counts.setdefault(role, {})

    def _fork_done(self, parent: str, child_pid: int | None) -> None:
        if child_pid is None or child_pid <= 0:
            return
        child = str(child_pid)
        if child in self._execd:
            return  # the child already exec'd: its role is its own
        role = self._role_of.get(parent)
        if role is not None:
            group = self._group_of.get(child)
            if group is not None:
                self._resolve_group(group, role)
            else:  # not seen yet, or a reused pid still carrying an old role
                self._set_role(child, role)
            return
        parent_group = self._group_of.get(parent)
        if parent_group is None:
            self._new_pid(parent)
            parent_group = self._group_of[parent]
        child_group = self._group_of.get(child)
        if child_group == parent_group:
            return
        if child_group is not None:
            self._merge_groups(child_group, parent_group)
        else:
            self._role_of.pop(child, None)
            self._group_of[child] = parent_group
            self._group_members[parent_group].add(child)
            self._counter_of[child] = self._group_counts[parent_group]

    def _resolve_group(self, group: int, role: str) -> None:
        counts = self._group_counts.pop(group)
        target = self._role_counts.setdefault(role, {})
        for name, count in counts.items():
            target[name] = target.get(name, 0) + count
        for member in self._group_members.pop(group):
            if self._group_of.get(member) == group:
                del self._group_of[member]
                if member in self._counter_of:
                    self._role_of[member] = role
                    self._counter_of[member] = target

    def _merge_groups(self, source: int, target: int) -> None:
        counts = self._group_counts.pop(source)
        into = self._group_counts[target]
        for name, count in counts.items():
            into[name] = into.get(name, 0) + count
        for member in self._group_members.pop(source):
            if self._group_of.get(member) == source:
                self._group_of[member] = target
                self._group_members[target].add(member)
                if member in self._counter_of:
                    self._counter_of[member] = into

    def _record_args(self, name: str, args: str) -> None:
        if name == "socket":
            self._note("socket.domain", _first_arg(args), prefix="AF_", module=socket)
        elif name == "personality":
            self._note("personality.persona", _first_arg(args))
        elif name == "unshare":
            self._note("unshare.flags", _first_arg(args))
        else:  # clone, clone3: the flags= field (clone's first argument on x86_64/arm64)
            match = _FLAGS_FIELD.search(args)
            if match:
                self._note(f"{name}.flags", match.group(1))

    def _note(self, key: str, text: str, *, prefix: str = "", module: object = None) -> None:
        text = text.strip()
        if not text or text.startswith("<"):
            return
        value, unknown = decode_constant(text, prefix=prefix, module=module)
        if value is not None:
            self._arg_values.setdefault(key, set()).add(value)
        else:
            self._flag_names.setdefault(key, set()).add("|".join(sorted(unknown)))

    def result(
        self,
        *,
        workload: str,
        run_index: int = 0,
        pod_security: str = "restricted",
        tracer: str = "strace",
        exit_code: int | None = None,
    ) -> StraceParse:
        """The recording so far; pids whose role never became known count as "other"."""
        roles: dict[str, dict[str, int]] = {r: dict(c) for r, c in self._role_counts.items()}
        for counts in self._group_counts.values():
            target = roles.setdefault(ROLE_OTHER, {})
            for name, count in counts.items():
                target[name] = target.get(name, 0) + count
        for pid, name in self._pending_call.items():
            if name in _EXECS:  # still inside exec at the end of the trace
                target = roles.setdefault(self._role_of.get(pid, ROLE_OTHER), {})
                target[name] = target.get(name, 0) + 1
        by_name: dict[str, dict[str, int]] = {}
        unknown_numbers: set[int] = set()
        for role, counts in roles.items():
            for raw, count in counts.items():
                resolved = self._name_of(raw, unknown_numbers)
                if resolved is None or count == 0:
                    continue
                per_role = by_name.setdefault(resolved, {})
                per_role[role] = per_role.get(role, 0) + count
        recording = Recording(
            workload=workload,
            run_index=run_index,
            tracer=tracer,
            arch=self.arch,
            pod_security=pod_security,
            counts={n: dict(sorted(r.items())) for n, r in sorted(by_name.items())},
            arg_values={k: frozenset(v) for k, v in sorted(self._arg_values.items())},
            exit_code=exit_code,
            unknown_numbers=frozenset(unknown_numbers),
        )
        return StraceParse(
            recording=recording,
            flag_names={k: frozenset(v) for k, v in sorted(self._flag_names.items())},
            lines=self.lines,
            unparsed=self.unparsed,
            execs=dict(sorted(self._execs.items())),
        )

    def _name_of(self, raw: str, unknown_numbers: set[int]) -> str | None:
        """strace's ``syscall_0x1c6`` for calls it cannot name: libseccomp may know them."""
        if raw == "???":
            return None
        if not raw.startswith("syscall_"):
            return raw
        try:
            number = int(raw[len("syscall_") :], 0)
        except ValueError:
            return raw
        name = syscall_name(number, self.arch)
        if name is None:
            unknown_numbers.add(number)
        return name


def iter_lines(path: Path) -> Iterator[str]:
    """The trace file line by line; latin-1 never fails and strace escapes non-ASCII."""
    with open(path, encoding="latin-1", newline="") as handle:
        yield from handle


_FILTER_CALL = (
    r"(?:seccomp\((?:SECCOMP_SET_MODE_FILTER|0x1 /\* SECCOMP_SET_MODE_FILTER \*/|1),"
    r"|prctl\((?:PR_SET_SECCOMP|0x16 /\* PR_SET_SECCOMP \*/|22),)"
)
_LINE_START = r"^\s*(?:\[pid\s+)?(\d+)\]?\s+(?:[\d:.]+\s+)?"
_FILTER_LOAD = re.compile(_LINE_START + _FILTER_CALL + r".*=\s*0(?:\s|$)")
_FILTER_UNFINISHED = re.compile(_LINE_START + _FILTER_CALL + r".*<unfinished \.\.\.>")
_RESUMED = re.compile(_LINE_START + r"<\.\.\. (?:seccomp|prctl) resumed>.*=\s*(-?\d+)")
_PID = re.compile(r"^\s*(?:\[pid\s+)?(\d+)")


def after_filter_load(lines: Iterable[str]) -> Iterator[str]:
    """The lines of a trace started before the seccomp filter: every line after the first
    successful filter load on.

    For traces that begin before the filter: the local backend's launcher, and a
    container's OCI runtime init process (which loads the container's filter, on every
    thread, right before it execs the entrypoint). A load that strace splits into
    ``<unfinished ...>`` and ``<... seccomp resumed>`` counts once it resumed with 0.
    """
    pending: set[str] = set()  # pids inside an unfinished filter load
    loaded = False
    for line in lines:
        if loaded:
            yield line
            continue
        if _FILTER_LOAD.match(line):
            loaded = True
        elif match := _FILTER_UNFINISHED.match(line):
            pending.add(match.group(1))
        elif (match := _RESUMED.match(line)) and match.group(1) in pending:
            # The unfinished call of this pid is the filter load: did it succeed?
            pending.discard(match.group(1))
            loaded = match.group(2) == "0"


def parse_strace(
    source: Path | Iterable[str],
    *,
    workload: str,
    run_index: int = 0,
    pod_security: str = "restricted",
    arch: str | None = None,
    exit_code: int | None = None,
) -> StraceParse:
    """Parse a trace file (or any iterable of lines) written with ``STRACE_ARGS``."""
    parser = StraceParser(arch)
    parser.feed(iter_lines(source) if isinstance(source, Path) else source)
    return parser.result(
        workload=workload, run_index=run_index, pod_security=pod_security, exit_code=exit_code
    )
