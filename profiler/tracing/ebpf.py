"""The eBPF tracer: bpftrace counts syscalls in the kernel, per mount namespace and process.

Only tasks that already run under a seccomp filter are counted (``seccomp.mode == 2``):
the container is started under an allow-everything recording filter, so the runtime's
own setup before the filter (mount, pivot_root, sethostname, keyctl...) never lands in a
profile, while whatever runs after the filter is installed, runc's last steps included,
always does. Counting happens in a BPF map, not per event, so a busy JVM costs little.

Each count is keyed by (mount namespace, process, exec generation, syscall number): the
generation goes up at every exec, so a shell that execs a JVM has its shell calls and its
JVM calls told apart. Fork and exec events let us give every process a role.

Two scopes: ``mount-namespace`` (the default, for containers) counts tasks outside the
host's mount namespace and keeps those of the containers it was told about (a pod run
has several: the driver's and each executor's, and the counts keep them apart by
container role); ``process-tree`` (set by the local backend through
``follow_process_tree``) counts seccomp'd tasks in the host's mount namespace and keeps
the tree rooted at the pid given to ``started``, followed through fork events. Either
way only post-filter calls count.

The counts cannot be lost, but the fork and exec events travel through bpftrace's perf
buffer, which drops them when it is full and says ``Lost N events``: a recording keeps
that number (``Recording.lost_events``), and ``lost_events_warning`` says what it means.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.runtime.interface import ContainerRef
from profiler.seccomp import arch as arch_lib
from profiler.tracing.interface import ROLE_OTHER, ROLE_RUNTIME, Recording, Tracer
from profiler.tracing.strace_parser import classify_process

TRACEFS = Path("/sys/kernel/tracing")
BTF = Path("/sys/kernel/btf/vmlinux")
ATTACH_TIMEOUT = 60.0

SCOPE_MOUNT_NAMESPACE = "mount-namespace"
SCOPE_PROCESS_TREE = "process-tree"

PROGRAM = """\
// Every syscall on the machine passes here: read the namespace once, and only for tasks
// under a filter (the cheap test first).
tracepoint:raw_syscalls:sys_enter
/curtask->seccomp.mode == 2/
{
  $ns = curtask->nsproxy->mnt_ns->ns.inum;
  if ($ns != HOST_MNT_NS) {
    @sys[$ns, pid, @gen[pid], args->id] = count();
  }
}

tracepoint:sched:sched_process_exec
/curtask->seccomp.mode == 2 && curtask->nsproxy->mnt_ns->ns.inum != HOST_MNT_NS/
{
  @gen[pid] = @gen[pid] + 1;
  printf("EXEC %llu %d %d %s\\n", curtask->nsproxy->mnt_ns->ns.inum, pid, @gen[pid], str(args->filename));
}

tracepoint:sched:sched_process_fork
/curtask->seccomp.mode == 2 && curtask->nsproxy->mnt_ns->ns.inum != HOST_MNT_NS/
{
  printf("FORK %llu %d %d %d\\n", curtask->nsproxy->mnt_ns->ns.inum, pid, @gen[pid], args->child_pid);
}

// bpftrace prints "Attaching N probes" before it attaches them, in program order: this
// probe comes last, so its first tick proves every probe above is live.
interval:ms:20
{
  if (@ready == 0) { printf("READY\\n"); @ready = 1; }
}

END { clear(@gen); clear(@ready); }
"""

_COUNT = re.compile(r"^@sys\[(\d+), (\d+), (\d+), (-?\d+)\]: (\d+)$")
_EXEC = re.compile(r"^EXEC (\d+) (\d+) (\d+) (.*)$")
_FORK = re.compile(r"^FORK (\d+) (\d+) (\d+) (\d+)$")
_LOST = re.compile(r"Lost (\d+) events")
# bpftrace's perf buffer per CPU in pages (its default is 64): a larger one holds more
# fork/exec events between two reads. bpftrace reads it from the environment, which the
# tracer passes on.
LARGER_BUFFER = "BPFTRACE_PERF_RB_PAGES=1024"


@dataclass
class _ProcessTable:
    """What the events told us about the container's processes."""

    argv: dict[tuple[int, int], list[str]] = field(default_factory=dict)  # (pid, gen) -> argv
    parent: dict[int, tuple[int, int]] = field(default_factory=dict)  # child -> (pid, gen)

    def role(self, pid: int, gen: int, seen: frozenset[int] = frozenset()) -> str:
        if gen > 0:
            argv = self.argv.get((pid, gen))
            return classify_process(argv) if argv else ROLE_OTHER
        origin = self.parent.get(pid)
        if origin is None:
            # Never forked inside the container and not yet exec'd: runc's init process
            # between installing the filter and exec'ing the entrypoint.
            return ROLE_RUNTIME
        if pid in seen:
            return ROLE_OTHER
        return self.role(origin[0], origin[1], seen | {pid})


class EbpfTracer(Tracer):
    name = "ebpf"

    def __init__(self, work_dir: Path) -> None:
        self.work_dir = work_dir
        # Set before the run starts: a backend without containers sets SCOPE_PROCESS_TREE.
        self.scope = SCOPE_MOUNT_NAMESPACE
        self._root_pid: int | None = None
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []
        self._attached = threading.Event()
        self._reader: threading.Thread | None = None
        # mount namespace -> the container it belongs to, for every container started
        self._containers: dict[int, ContainerRef] = {}
        # mount namespace -> the host pid of the container's init
        self._roots: dict[int, int] = {}
        self._table = _ProcessTable()
        self._cmdlines: dict[tuple[int, int], list[str]] = {}

    # -- availability ------------------------------------------------------------------
    def check_available(self) -> None:
        if os.geteuid() != 0:
            raise EnvironmentProblem(
                "the eBPF tracer needs root", "run as root, or use --tracer strace"
            )
        proc.require_program("bpftrace", "install it with `apt-get install bpftrace`")
        if not BTF.exists():
            raise EnvironmentProblem(
                "the kernel has no BTF (/sys/kernel/btf/vmlinux)",
                "use a kernel built with CONFIG_DEBUG_INFO_BTF, or --tracer strace",
            )
        ensure_tracefs()

    # -- RunObserver -------------------------------------------------------------------
    def follow_process_tree(self) -> None:
        self.scope = SCOPE_PROCESS_TREE

    def before_start(self) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        program = program_for(self.scope, _mnt_ns(os.getpid()))
        script = self.work_dir / "record.bt"
        script.write_text(program)
        env = dict(os.environ, BPFTRACE_MAP_KEYS_MAX="1048576", BPFTRACE_STRLEN="128")
        self._process = proc.start(
            ["bpftrace", "-B", "line", str(script)],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._attached.wait(ATTACH_TIMEOUT) or self._process.poll() is not None:
            self._stop()
            raise EnvironmentProblem(
                "bpftrace did not attach: " + _tail(self._lines),
                "check that tracefs is mounted and the kernel allows BPF (run as root)",
            )

    def started(self, host_pid: int, container: ContainerRef) -> None:
        namespace = _mnt_ns(host_pid)
        self._containers[namespace] = container
        self._roots[namespace] = host_pid
        self._root_pid = host_pid

    def finished(self) -> None:
        self._stop()

    # -- results -----------------------------------------------------------------------
    def recordings(self, workload: str, run_index: int, pod_security: str) -> tuple[Recording, ...]:
        if not self._containers:
            raise EnvironmentProblem("the container never started, so nothing was recorded")
        native = arch_lib.native_arch()
        # container role -> syscall -> process role -> calls
        counts: dict[str, dict[str, dict[str, int]]] = {
            ref.role.value: defaultdict(lambda: defaultdict(int))
            for ref in self._containers.values()
        }
        unknown: dict[str, set[int]] = defaultdict(set)
        tree = self._tree()
        for line in self._lines:
            if (m := _EXEC.match(line)) and self._ours(m, tree):
                key = (int(m[2]), int(m[3]))
                self._table.argv[key] = self._cmdlines.get(key) or [m[4]]
            elif (m := _FORK.match(line)) and self._ours(m, tree):
                self._table.parent.setdefault(int(m[4]), (int(m[2]), int(m[3])))
        for line in self._lines:
            m = _COUNT.match(line)
            if not m or not self._ours(m, tree):
                continue
            role = self._containers[int(m[1])].role.value
            pid, gen, number, count = int(m[2]), int(m[3]), int(m[4]), int(m[5])
            name = arch_lib.syscall_name(number, native)
            if name is None:
                unknown[role].add(number)
                continue
            counts[role][name][self._table.role(pid, gen)] += count
        (self.work_dir / "bpftrace.out").write_text("\n".join(self._lines) + "\n")
        return tuple(
            Recording(
                workload=workload,
                run_index=run_index,
                tracer=self.name,
                arch=native,
                pod_security=pod_security,
                counts={n: dict(r) for n, r in by_name.items()},
                unknown_numbers=frozenset(unknown[role]),
                role=role,
                lost_events=self.lost_events(),
            )
            for role, by_name in sorted(counts.items())
        )

    def container_pids(self, role: str | None = None) -> frozenset[int]:
        """Host pids of the traced containers' processes seen so far, of one container role
        or all (for matching other per-pid sources, such as the kernel's seccomp audit
        records, to a container)."""
        pids: set[int] = set()
        tree = self._tree()
        for line in self._lines:
            m = _COUNT.match(line) or _EXEC.match(line) or _FORK.match(line)
            if not m or not self._ours(m, tree):
                continue
            if role is not None and self._containers[int(m[1])].role.value != role:
                continue
            pids.add(int(m[2]))
            if line.startswith("FORK "):
                pids.add(int(m[4]))
        return frozenset(pids)

    def lost_events(self) -> int:
        """Events bpftrace's buffer dropped during the run (it says so on its output)."""
        return sum(int(m[1]) for line in self._lines if (m := _LOST.search(line)))

    # -- internals ---------------------------------------------------------------------
    def _tree(self) -> dict[int, frozenset[int]]:
        """Per namespace, the pids counted in it: the process tree of its root. A namespace
        without a tree here counts every process in it.

        A container's mount namespace number is freed when it ends and the kernel hands
        out the lowest free number to the next namespace made, so a container started
        later by anyone can take it over while the tracer runs (seen once under load: an
        executor's counts held another run's Python worker). Its processes are not
        descendants of the container's init, so counting only the init's tree keeps them
        out. That needs every fork event: when bpftrace lost some, the tree could miss
        the container's own processes, so the namespace alone decides, as the lost-events
        warning says."""
        if self.scope == SCOPE_PROCESS_TREE:
            if self._root_pid is None:
                return {}
            namespace = next(iter(self._containers), None)
            if namespace is None:
                return {}
            return {namespace: process_tree(self._root_pid, namespace, self._lines)}
        if self.lost_events():
            return {}
        return {
            namespace: container_tree(root, namespace, self._lines)
            for namespace, root in self._roots.items()
        }

    def _ours(self, match: re.Match[str], tree: dict[int, frozenset[int]]) -> bool:
        namespace = int(match[1])
        if namespace not in self._containers:
            return False
        pids = tree.get(namespace)
        return pids is None or int(match[2]) in pids

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.rstrip("\n")
            self._lines.append(line)
            if line == "READY":
                self._attached.set()
            elif line.startswith("EXEC "):
                # Read the full argv while the process is alive: the tracepoint only has
                # the file name, and roles depend on the JVM's main class.
                m = _EXEC.match(line)
                if m:
                    argv = _cmdline(int(m[2]))
                    if argv:
                        self._cmdlines[(int(m[2]), int(m[3]))] = argv

    def _stop(self) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            # SIGINT makes bpftrace print its maps and exit.
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._reader is not None:
            self._reader.join(timeout=30)
        self._process = None


def lost_events_warning(run: str, lost: int) -> str:
    """What lost events mean for a recording of ``run``: the counts are complete, but a
    process whose start was lost is credited to the wrong process, and in the local
    backend's process-tree scope, a child whose fork was lost is not followed at all."""
    return (
        f"the eBPF tracer lost {lost} events in {run}: processes it did not see start may "
        "be credited to the wrong process in the summary or, on the local backend, left out "
        "of the profile"
    )


def program_for(scope: str, host_mnt_ns: int) -> str:
    """The bpftrace program: containers are outside the host's mount namespace, a local
    process tree is inside it."""
    if scope not in (SCOPE_MOUNT_NAMESPACE, SCOPE_PROCESS_TREE):
        raise ValueError(f"unknown tracing scope {scope!r}")
    program = PROGRAM
    if scope == SCOPE_PROCESS_TREE:
        program = program.replace("!= HOST_MNT_NS", "== HOST_MNT_NS")
    return program.replace("HOST_MNT_NS", str(host_mnt_ns))


def process_tree(root: int, namespace: int | None, lines: list[str]) -> frozenset[int]:
    """``root`` and every process forked from it, in event order (a later pid reuse by an
    unrelated process is not followed, as its fork came from outside the tree)."""
    tree = {root}
    for line in lines:
        m = _FORK.match(line)
        if m and int(m[1]) == namespace and int(m[2]) in tree:
            tree.add(int(m[4]))
    return frozenset(tree)


def container_tree(root: int, namespace: int, lines: list[str]) -> frozenset[int]:
    """``root`` and every process forked from it inside ``namespace``, whatever order the
    fork events came in (bpftrace reads one buffer per CPU, so a grandchild's fork can be
    printed before its parent's)."""
    children: dict[int, set[int]] = defaultdict(set)
    for line in lines:
        m = _FORK.match(line)
        if m and int(m[1]) == namespace:
            children[int(m[2])].add(int(m[4]))
    tree = {root}
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in tree:
                tree.add(child)
                todo.append(child)
    return frozenset(tree)


def ensure_tracefs() -> None:
    """bpftrace finds tracepoints in tracefs; mount it if the machine has not."""
    if (TRACEFS / "events").is_dir():
        return
    try:
        proc.run(["mount", "-t", "tracefs", "nodev", str(TRACEFS)])
    except EnvironmentProblem as exc:
        raise EnvironmentProblem(
            f"tracefs is not mounted at {TRACEFS} and mounting it failed",
            f"run `mount -t tracefs nodev {TRACEFS}` as root",
        ) from exc


def _mnt_ns(pid: int) -> int:
    link = os.readlink(f"/proc/{pid}/ns/mnt")  # "mnt:[4026531841]"
    return int(link[link.index("[") + 1 : -1])


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _tail(lines: list[str]) -> str:
    useful = [line for line in lines if line.strip() and "RLIMIT_MEMLOCK" not in line]
    return useful[-1] if useful else "no output"
