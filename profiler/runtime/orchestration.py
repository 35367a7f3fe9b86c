"""A pod run from start to teardown, apart from any engine: it drives ``ContainerPrimitives``.

A run starts what ``profiler.runtime.pod`` plans. In the pod topology: a private network,
the standalone master (awaited until it leads), the driver, and, once the master has the
application, the executors; then it waits for the driver, gives the executors a grace
period to stop by themselves before stopping them (as the operator deletes a finished
application's executor pods), and collects every container's output, exit code and CPU
time. In the local topology: one container. Whatever happens (a timeout, a container the
OCI runtime could not start, Ctrl-C, SIGTERM, an engine that went away) every container,
pod and the network are removed before ``execute`` returns or raises.

A tracer that must attach before the first instruction (strace) gets each container held:
its cgroup parent is frozen before the start, so the OCI runtime's init stops as soon as it
joins the container's cgroup, the tracer attaches, and the parent is thawed.

``run_one_off`` is the one-off command container's life: create, start, wait, logs, remove.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.runtime import cgroup
from profiler.runtime.command import RUNTIME_REFUSED_EXIT
from profiler.runtime.interface import (
    ContainerRef,
    ContainerResult,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    Topology,
)
from profiler.runtime.pod import CONF_DIR, JOB_DIR, SHARED_DIR, ContainerPlan, PodPlan, plan_run
from profiler.runtime.primitives import (
    ContainerPrimitives,
    ContainerState,
    EngineLost,
    PodSite,
    StartRefused,
)
from profiler.runtime.run_dir import write_run_dir
from profiler.runtime.shape import Bind, ContainerShape, container_shape, pod_shape
from profiler.workloads import parse_result_line

MASTER_READY = re.compile(r"I have been elected leader|Starting Spark master at")
APP_REGISTERED = re.compile(r"Registered app .* with ID (\S+)")
# How long the master may take to lead.
MASTER_START_SECONDS = 120.0
# How long the run waits, after the driver ended, for executors to stop by themselves
# before it stops them (as the operator deletes executor pods of a finished driver).
EXECUTOR_GRACE_SECONDS = 30.0
# SIGTERM to SIGKILL for an executor stopped after the driver ended.
EXECUTOR_STOP_SECONDS = 10.0
# How long a driver may go on once every executor is gone (it would wait forever).
ORPHANED_DRIVER_SECONDS = 20.0
POLL_SECONDS = 0.25
# How long a run whose engine went away waits for it to answer again, to remove its
# containers before giving up: dockerd's own shutdown waits up to 15 s per container that
# ignores SIGTERM before it exits, and its restart takes a few seconds more.
ENGINE_RETURN_SECONDS = 180.0
# How long a held container's first process may take to appear in its frozen cgroup.
HOLD_SECONDS = 60.0
NOT_EMULATED_API_SERVER = (
    "not emulated: the driver's calls to the Kubernetes API server (it asks a standalone "
    "master for executors instead), so its HTTPS client is not exercised; record one run in "
    "the cluster (`k8s record --spo`) and merge it (`profile import`) before enforcing a "
    "driver profile"
)


@dataclass
class Live:
    """A container of a run, while the run goes on."""

    plan: ContainerPlan
    site: PodSite
    container: Any
    accounting: cgroup.CpuAccounting
    started: float
    ended: float | None = None
    exit_code: int | None = None
    timed_out: bool = False
    stopped_after_driver: bool = False
    orphaned: bool = False
    start_error: str | None = None
    oom_killed: bool = False
    cpu_seconds: float | None = None
    stdout: str = ""
    stderr: str = ""
    notes: list[str] = field(default_factory=list)

    def settle(self, state: ContainerState) -> None:
        self.exit_code = state.exit_code
        self.oom_killed = state.oom_killed
        self.ended = time.monotonic()

    def result(self) -> ContainerResult:
        assert self.plan.role is not None
        ended = self.ended if self.ended is not None else time.monotonic()
        notes = list(self.notes)
        if self.oom_killed:
            notes.append("OOMKilled: the container reached its memory limit")
        return ContainerResult(
            role=self.plan.role,
            name=self.plan.name,
            exit_code=None if self.timed_out else self.exit_code,
            timed_out=self.timed_out,
            wall_seconds=ended - self.started,
            cpu_seconds=self.cpu_seconds,
            stdout=self.stdout,
            stderr=self.stderr,
            oom_killed=self.oom_killed,
            stopped_after_driver=self.stopped_after_driver,
            orphaned=self.orphaned,
            start_error=self.start_error,
            notes=tuple(notes),
        )


class _StartFailed(Exception):
    """A container the OCI runtime could not start (``Live.start_error`` says why)."""

    def __init__(self, live: Live) -> None:
        super().__init__(live.start_error)
        self.live = live


class PodRun:
    """One run on one engine: its containers, pods, network and host directories, all
    gone when it ends.

    ``on_removed_while_unwinding`` is told of each container removed while Ctrl-C or
    SIGTERM unwinds the run, so the CLI's "interrupted" line can say how many went."""

    def __init__(
        self,
        engine: ContainerPrimitives,
        spec: RunSpec,
        run_dir: Path | None = None,
        observer: RunObserver | None = None,
        *,
        executor_java_options: tuple[str, ...] = (),
        notes: tuple[str, ...] = (),
        on_removed_while_unwinding: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.spec = spec
        self.run_dir = run_dir
        self.observer = observer or RunObserver()
        self.executor_java_options = executor_java_options
        self.on_removed_while_unwinding = on_removed_while_unwinding
        self.run_id = uuid.uuid4().hex[:12]
        self.network: Any | None = None
        self.host_dir = Path(
            tempfile.mkdtemp(prefix="spark-seccomp-run-", dir=engine.run_files_dir())
        )
        self.master: Live | None = None
        self.driver: Live | None = None
        self.executors: list[Live] = []
        self.created: list[Any] = []  # every container made, removed whatever happens
        self.sites: list[PodSite] = []  # every pod made room for, closed after them
        self.accountings: list[cgroup.CpuAccounting] = []
        self.engine_lost = False
        self.interrupted = False
        self.notes: list[str] = list(notes)
        self.observer_started = False

    # -- the run ---------------------------------------------------------------------
    def execute(self) -> RunResult:
        try:
            try:
                plan = plan_run(
                    self.spec, self.run_id, executor_java_options=self.executor_java_options
                )
                self._write_conf(plan)
                if plan.topology is Topology.POD:
                    self.network = self.engine.create_network(self.run_id)
                return self._run(plan)
            except EngineLost as exc:
                self.engine_lost = True
                raise EnvironmentProblem(
                    f"the {self.engine.engine_title} engine stopped answering during the run "
                    f"({exc})",
                    "start it again (`make engine`); the run's containers are removed once it "
                    "answers, or by `spark-seccomp cleanup`",
                ) from exc
            except KeyboardInterrupt:
                self.interrupted = True
                raise
            except OSError as exc:
                raise EnvironmentProblem(
                    f"cannot write the run's files: {exc.strerror or exc}"
                    + (f" ({exc.filename})" if exc.filename else ""),
                    "free some space or pass --run-dir on another file system",
                ) from exc
        finally:
            self._teardown()

    def _run(self, plan: PodPlan) -> RunResult:
        spec = self.spec
        if plan.master is not None:
            self.master = self._start(plan.master, observe=False)
        self.observer.before_start()
        self.observer_started = True
        if self.master is not None:
            self._wait_for_master()
        # The run's timeout is the application's: it counts from the moment the master
        # leads, as the API server it stands in for is up before any pod is made.
        deadline = time.monotonic() + spec.timeout_seconds
        try:
            self.driver = self._start(plan.driver, observe=True)
        except _StartFailed as failed:
            self.driver = failed.live
            return self._result(plan)
        if plan.topology is Topology.POD and spec.executors > 0:
            app_id = self._wait_for_application(deadline)
            if app_id is None:
                self.notes.append(
                    "the driver never registered with the cluster: the script sets its own "
                    "master, so it ran wholly in the driver container and no executor pod "
                    "was started"
                )
            else:
                for index in range(1, spec.executors + 1):
                    executor = plan.executor(index, app_id, self.driver.site.address)
                    try:
                        self.executors.append(self._start(executor, observe=True))
                    except _StartFailed as failed:
                        # The driver would wait for it forever: the run ends here.
                        self.executors.append(failed.live)
                        self._stop_driver("an executor pod could not start")
                        return self._result(plan)
        self._wait_for_driver(deadline)
        self._wind_down_executors()
        return self._result(plan)

    def _stop_driver(self, why: str) -> None:
        assert self.driver is not None
        self._kill(self.driver)
        self.driver.settle(self.engine.state(self.driver.container))
        self.driver.orphaned = True
        self.driver.notes.append(f"stopped by the run: {why}")

    # -- containers ------------------------------------------------------------------
    def _start(self, plan: ContainerPlan, *, observe: bool) -> Live:
        accounting = cgroup.CpuAccounting.create(
            self.engine.cgroup_driver(), f"{self.run_id}-{plan.name}"
        )
        self.accountings.append(accounting)
        pod = pod_shape(
            plan,
            self.spec,
            self.run_id,
            networked=self.network is not None,
            cgroup_parent=accounting.parent,
        )
        site = self.engine.open_pod(self.network, pod)
        self.sites.append(site)
        plan = plan.at(site.address)
        shape = container_shape(plan, pod, self.spec, self._binds(plan))
        scratch = self.host_dir / "engine" / plan.name
        container = self.engine.create(shape, site, scratch)
        self.created.append(container)
        live = Live(plan, site, container, accounting, started=time.monotonic())
        try:
            if self.spec.hold_until_traced and observe:
                self._start_held(live)
                return live
            self.engine.start(container)
        except StartRefused as refused:
            if plan.role is None:
                raise EnvironmentProblem(
                    f"the standalone master could not start: {refused.reason}"
                ) from refused
            # The OCI runtime's init runs under the container's filter before it execs the
            # entrypoint; a profile that denies what it needs kills it: a verdict, not an
            # engine failure.
            live.start_error = refused.reason
            live.ended = time.monotonic()
            raise _StartFailed(live) from refused
        live.started = time.monotonic()
        if observe and plan.role is not None:
            self.observer.started(
                self.engine.host_pid(container), ContainerRef(plan.role, plan.name)
            )
        return live

    def _start_held(self, live: Live) -> None:
        """Start a container whose first process waits until the tracer is attached.

        The container's cgroup parent is frozen before the start, so the OCI runtime's init
        process stops as soon as it joins its cgroup, before it runs anything of the
        container's; the tracer attaches to it, and the parent is thawed. The image's
        entrypoint stays PID 1."""
        assert live.plan.role is not None
        hold = cgroup.FreezerHold.create(live.accounting.parent)
        failure: list[BaseException] = []

        def start() -> None:
            try:
                self.engine.start(live.container)
            except BaseException as exc:  # surfaced in the calling thread
                failure.append(exc)

        hold.freeze()
        starter = threading.Thread(target=start, daemon=True)
        try:
            starter.start()
            pid = hold.first_pid(timeout=HOLD_SECONDS, alive=starter.is_alive)
            if pid is None and not failure:
                raise EnvironmentProblem(
                    "the container's first process never appeared in its frozen cgroup",
                    "the strace tracer needs the cgroupfs driver; use --tracer ebpf",
                )
            if pid is not None:
                self.observer.started(pid, ContainerRef(live.plan.role, live.plan.name))
        finally:
            hold.thaw()
            starter.join(timeout=120)
        if failure:
            if isinstance(failure[0], StartRefused):
                live.start_error = failure[0].reason
                live.ended = time.monotonic()
                raise _StartFailed(live) from failure[0]
            raise failure[0]
        live.started = time.monotonic()

    def _binds(self, plan: ContainerPlan) -> tuple[Bind, ...]:
        """The run's host directories in a container of the application: the job's script,
        the role's conf directory, and in pod runs the shared volume."""
        if plan.role is None:
            return ()
        binds = []
        if self.spec.application is None:
            binds.append(Bind(str(self.spec.workload.path.parent), JOB_DIR))
        conf = "conf-driver" if plan.role is not Role.EXECUTOR else "conf-executor"
        binds.append(Bind(str(self.host_dir / conf), CONF_DIR))
        if self.spec.topology is Topology.POD:
            binds.append(Bind(str(self.host_dir / "shared"), SHARED_DIR, read_only=False))
        return tuple(sorted(binds, key=lambda b: b.target))

    def _write_conf(self, plan: PodPlan) -> None:
        for name in ("conf-driver", "conf-executor", "shared"):
            (self.host_dir / name).mkdir()
        (self.host_dir / "conf-driver" / "spark.properties").write_text(plan.properties)
        # The containers run as the pod's user; the shared volume is theirs to write.
        (self.host_dir / "shared").chmod(0o1777)
        self.host_dir.chmod(0o755)
        if self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "spark.properties").write_text(plan.properties)

    def _kill(self, live: Live) -> None:
        with contextlib.suppress(EnvironmentProblem):
            self.engine.kill(live.container)

    def _exited(self, live: Live) -> bool:
        return self.engine.state(live.container).exited

    # -- waiting ---------------------------------------------------------------------
    def _wait_for_master(self) -> None:
        assert self.master is not None
        give_up = time.monotonic() + MASTER_START_SECONDS
        while time.monotonic() < give_up:
            stdout, stderr = self.engine.logs(self.master.container)
            if MASTER_READY.search(stderr) or MASTER_READY.search(stdout):
                return
            if self._exited(self.master):
                raise EnvironmentProblem(
                    "the standalone master that stands in for the API server exited: "
                    + (stderr.strip().splitlines() or ["no output"])[-1],
                    "check that the image runs `spark-class org.apache.spark.deploy.master.Master`",
                )
            time.sleep(POLL_SECONDS)
        raise EnvironmentProblem(
            f"the standalone master did not lead within {MASTER_START_SECONDS:.0f} s",
            "the machine may be overloaded: try again when it is quieter",
        )

    def _wait_for_application(self, deadline: float) -> str | None:
        """The application id the master gave the driver, or None once the driver ended
        without registering (a script with its own master)."""
        assert self.master is not None and self.driver is not None
        while time.monotonic() < deadline:
            stdout, stderr = self.engine.logs(self.master.container)
            match = APP_REGISTERED.search(stderr) or APP_REGISTERED.search(stdout)
            if match:
                return match.group(1)
            if self._exited(self.driver):
                return None
            time.sleep(POLL_SECONDS)
        return None

    def _wait_for_driver(self, deadline: float) -> None:
        assert self.driver is not None
        driver = self.driver
        orphaned_since: float | None = None
        while True:
            state = self.engine.state(driver.container)
            if state.exited:
                driver.settle(state)
                return
            now = time.monotonic()
            if now >= deadline:
                driver.timed_out = True
                driver.ended = now
                self._kill(driver)
                return
            if self.executors and all(self._exited(e) for e in self.executors):
                orphaned_since = orphaned_since or now
                if now - orphaned_since > ORPHANED_DRIVER_SECONDS and not driver.orphaned:
                    driver.orphaned = True
                    driver.notes.append(
                        f"every executor pod had exited and the driver went on alone for "
                        f"{ORPHANED_DRIVER_SECONDS:.0f} s: stopped"
                    )
                    self._kill(driver)
            time.sleep(POLL_SECONDS)

    def _wind_down_executors(self) -> None:
        grace_end = time.monotonic() + EXECUTOR_GRACE_SECONDS
        for executor in self.executors:
            if executor.start_error is not None:
                continue
            while not self._exited(executor) and time.monotonic() < grace_end:
                time.sleep(POLL_SECONDS)
            if not self._exited(executor):
                # The operator deletes the executor pods of a finished driver: SIGTERM.
                with contextlib.suppress(EnvironmentProblem):
                    self.engine.stop(executor.container, EXECUTOR_STOP_SECONDS)
                executor.stopped_after_driver = True
                executor.notes.append(
                    f"still running {EXECUTOR_GRACE_SECONDS:.0f} s after the driver ended: "
                    "stopped, as the operator deletes a finished application's executor pods"
                )
            executor.settle(self.engine.state(executor.container))

    # -- results ---------------------------------------------------------------------
    def _result(self, plan: PodPlan) -> RunResult:
        assert self.driver is not None
        for live in [self.driver, *self.executors]:
            live.stdout, live.stderr = self.engine.logs(live.container)
            self.engine.remove(live.container)
            live.cpu_seconds = live.accounting.finish()
        if self.master is not None and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            master_stderr = self.engine.logs(self.master.container)[1]
            (self.run_dir / "master.stderr.txt").write_text(master_stderr)
        containers = tuple(live.result() for live in [self.driver, *self.executors])
        driver = containers[0]
        cpu_parts = [c.cpu_seconds for c in containers]
        cpu = sum(c for c in cpu_parts if c is not None) if None not in cpu_parts else None
        notes = list(self.notes)
        if plan.topology is Topology.POD:
            notes.append(NOT_EMULATED_API_SERVER)
        result = RunResult(
            spec=self.spec,
            exit_code=driver.exit_code if not driver.timed_out else None,
            timed_out=driver.timed_out,
            wall_seconds=driver.wall_seconds,
            cpu_seconds=cpu,
            stdout=driver.stdout,
            stderr=driver.stderr,
            result=parse_result_line(driver.stdout),
            run_dir=self.run_dir,
            container_id=self.engine.container_id(self.driver.container),
            notes=tuple(notes),
            containers=containers,
        )
        if self.run_dir is not None:
            write_run_dir(result, self.run_dir)
        return result

    # -- teardown --------------------------------------------------------------------
    def _teardown(self) -> None:
        try:
            self._remove_everything()
        finally:
            if self.observer_started:
                self.observer.finished()
            for accounting in self.accountings:
                accounting.finish()
            shutil.rmtree(self.host_dir, ignore_errors=True)

    def _remove_everything(self) -> None:
        """Every container of the run, then its pods and its network. An engine that went
        away is waited for: a dockerd that stops first stops its containers (up to its
        shutdown timeout each) and a new one answers before it has restored them, so
        removal is retried until the engine stays up; what is left after that the owner
        labels let `cleanup` (or the next run's sweep) find."""
        pending = list(self.created)
        sites = list(self.sites)
        deadline = time.monotonic() + ENGINE_RETURN_SECONDS
        told = False
        while True:
            if self.engine_lost and not told and pending:
                # The one line the library prints itself: the wait can be minutes long.
                sys.stderr.write(
                    f"waiting up to {ENGINE_RETURN_SECONDS:.0f} s for the "
                    f"{self.engine.engine_title} engine to answer again, to remove this "
                    f"run's {len(pending)} container(s)\n"
                )
                told = True
            if self.engine_lost and not _wait_for_engine(self.engine, deadline):
                return
            try:
                while pending:
                    self.engine.remove(pending[0])
                    pending.pop(0)
                    if self.interrupted:
                        self.on_removed_while_unwinding()
                while sites:
                    self.engine.close_pod(sites[0])
                    sites.pop(0)
                if self.network is not None:
                    self.engine.remove_network(self.network)
                return
            except EngineLost:
                self.engine_lost = True
                if time.monotonic() >= deadline:
                    return


def _wait_for_engine(engine: ContainerPrimitives, deadline: float) -> bool:
    """Whether the engine answers before ``deadline`` (a monotonic time)."""
    while time.monotonic() < deadline:
        if engine.answering():
            return True
        time.sleep(1.0)
    return False


@contextlib.contextmanager
def one_off_container(engine: ContainerPrimitives, shape: ContainerShape) -> Iterator[Any]:
    """A created container of ``shape`` (not started), removed with its pod whatever
    happens."""
    with tempfile.TemporaryDirectory(
        prefix="spark-seccomp-command-", dir=engine.run_files_dir()
    ) as scratch:
        site = engine.open_pod(None, shape.pod)
        container = None
        try:
            container = engine.create(shape, site, Path(scratch))
            yield container
        finally:
            if container is not None:
                engine.remove(container)
            engine.close_pod(site)


def run_one_off(
    engine: ContainerPrimitives, shape: ContainerShape, timeout_seconds: float
) -> tuple[int | None, str, str]:
    """(exit code, stdout, stderr) of a one-off container; the exit code is None when it
    timed out, ``RUNTIME_REFUSED_EXIT`` when the OCI runtime could not start it (with what
    the engine said before what the runtime printed). Always removed."""
    with one_off_container(engine, shape) as container:
        try:
            engine.start(container)
        except StartRefused as refused:
            stdout, stderr = engine.logs(container)
            return RUNTIME_REFUSED_EXIT, stdout, f"{refused.reason}\n{stderr}"
        exit_code = engine.wait(container, timeout_seconds)
        if exit_code is None:
            with contextlib.suppress(EnvironmentProblem):
                engine.kill(container)
        stdout, stderr = engine.logs(container)
        return exit_code, stdout, stderr
