"""The Docker backend: the containers of one run through the docker SDK, always removed.

A run starts what ``profiler.runtime.pod`` plans: in the pod topology a private network, a
standalone master, the driver container and, once the master has the application, the
executor containers; in the local topology one container. Every container is started
through the image's own entrypoint with the arguments a pod's container gets, and carries
the ``io.spark-seccomp.owner`` label, so ``cleanup`` (and the test suite's final check)
can find anything left behind by a crash.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.paths import read_cached, write_cached
from profiler.runtime import cgroup
from profiler.runtime.cleanup import register_cleanup
from profiler.runtime.engine import (
    connect,
    containerd_bundle_configs,
    engine_versions,
    oci_runtime_version,
    read_bundle_seccomp,
    require_image,
)
from profiler.runtime.interface import (
    SPARK_LOCAL_DIR,
    ContainerEngine,
    ContainerRef,
    ContainerResult,
    ContainerSecurity,
    Mount,
    PodSecurity,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.pod import (
    CONF_DIR,
    JOB_DIR,
    SHARED_DIR,
    ContainerPlan,
    PodPlan,
    plan_run,
)
from profiler.workloads import parse_result_line

OWNER_LABEL = "io.spark-seccomp.owner"
OWNER = "spark-seccomp"
# Each process of the tool labels its containers with its own session, so one process
# (a test run, a Ctrl-C handler) never removes the containers of another.
SESSION_LABEL = "io.spark-seccomp.session"
SESSION = uuid.uuid4().hex[:12]
# The process that started a container: one whose process is gone was left by a crash or
# by an engine that stopped answering, and the next backend removes it.
PID_LABEL = "io.spark-seccomp.pid"
ERRNO_PROBE_CACHE = "default-errno-probe.json"
# What ``run_command`` answers when the OCI runtime could not start the container (as
# `docker run` exits 125 when the container cannot be run).
RUNTIME_REFUSED_EXIT = 125
# The containerd namespace Docker runs its containers in.
DOCKER_NAMESPACE = "moby"
JAVA_OPTIONS_CACHE = "executor-java-options.json"
TOOLS_DIR = "/opt/spark-seccomp-tools"
_TOOLS_ON_HOST = Path(__file__).resolve().parent.parent / "image_tools"
# Kubernetes emptyDir volumes are not noexec; Docker's tmpfs default is, and snappy/zstd
# load native libraries they unpack into /tmp.
_TMPFS_OPTIONS = "rw,exec,nosuid,nodev,mode=1777"
_TMPFS_SIZE = "size=4g"
MASTER_READY = re.compile(r"I have been elected leader|Starting Spark master at")
APP_REGISTERED = re.compile(r"Registered app .* with ID (\S+)")
# How long the run waits, after the driver ended, for executors to stop by themselves
# before it stops them (as the operator deletes executor pods of a finished driver).
EXECUTOR_GRACE_SECONDS = 30.0
# How long a driver may go on once every executor is gone (it would wait forever).
ORPHANED_DRIVER_SECONDS = 20.0
POLL_SECONDS = 0.25
# Containers removed by runs that were unwinding from Ctrl-C or SIGTERM, so the CLI's
# "interrupted" line can say how many were removed.
_removed_while_unwinding = 0
POD_SYSCTLS = (("net.ipv6.conf.all.disable_ipv6", "0"), ("net.ipv6.conf.default.disable_ipv6", "0"))


def seccomp_option(mode: SecurityMode, profile_json: str | None) -> list[str]:
    """Docker's --security-opt for a seccomp mode (runtime-default: say nothing)."""
    if mode is SecurityMode.UNCONFINED:
        return ["seccomp=unconfined"]
    if mode is SecurityMode.LOCALHOST:
        if profile_json is None:
            raise ValueError("localhost mode needs a profile")
        return ["seccomp=" + profile_json]
    if profile_json is not None:
        raise ValueError("a profile is only used in localhost mode")
    return []


def security_options(security: ContainerSecurity) -> dict[str, Any]:
    """The Docker SDK keywords for a security context (everything but seccomp)."""
    options: dict[str, Any] = {}
    if security.user is not None:
        group = security.group if security.group is not None else security.user
        options["user"] = f"{security.user}:{group}"
    if security.cap_drop:
        options["cap_drop"] = list(security.cap_drop)
    if security.cap_add:
        options["cap_add"] = list(security.cap_add)
    if security.privileged:
        options["privileged"] = True
    if security.read_only_root:
        options["read_only"] = True
    return options


def container_options(
    plan: ContainerPlan,
    spec: RunSpec,
    run_id: str,
    *,
    network: str | None = None,
    mounts: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Docker SDK ``containers.create`` keywords for one planned container (pure).

    ``mounts`` maps container paths to (host path, "ro"|"rw") bind mounts. The image's
    entrypoint is kept: the container gets the arguments a pod's container gets.
    """
    settings = plan.settings
    labels = {
        OWNER_LABEL: OWNER,
        SESSION_LABEL: SESSION,
        PID_LABEL: str(os.getpid()),
        "io.spark-seccomp.run": run_id,
        "io.spark-seccomp.workload": spec.workload.name,
        "io.spark-seccomp.role": plan.role.value if plan.role else "master",
    }
    options: dict[str, Any] = {
        "image": settings.image if settings is not None else spec.image,
        "command": list(plan.args),
        "environment": dict(plan.env),
        "labels": labels,
        "volumes": {
            host: {"bind": inside, "mode": mode}
            for inside, (host, mode) in sorted((mounts or {}).items())
        },
        "detach": True,
    }
    security_opt: list[str] = []
    tmpfs: dict[str, str] = {}
    if settings is None:
        # The standalone master stands in for the API server: no filter, engine defaults.
        security_opt = ["seccomp=unconfined"]
        labels["io.spark-seccomp.mode"] = "none"
    else:
        labels["io.spark-seccomp.mode"] = settings.mode.value
        security_opt = seccomp_option(settings.mode, settings.profile_json)
        security = settings.security
        options.update(security_options(security))
        if security.no_new_privileges:
            security_opt.append("no-new-privileges:true")
        # An emptyDir is writable by the pod's user whatever the image has at that path;
        # Docker gives a tmpfs over an existing directory that directory's mode, so the
        # owner is set to the pod's user.
        owner = ""
        if security.user is not None:
            group = security.group if security.group is not None else security.user
            owner = f",uid={security.user},gid={group}"
        writable = [*security.writable_paths, SPARK_LOCAL_DIR]
        for path in writable:
            tmpfs[path] = f"{_TMPFS_OPTIONS},{_TMPFS_SIZE}{owner}"
        for mount in settings.mounts:
            if mount.source is None:
                size = f"size={mount.size_bytes}" if mount.size_bytes else _TMPFS_SIZE
                tmpfs[mount.target] = f"{_TMPFS_OPTIONS},{size}{owner}"
            else:
                options["volumes"][mount.source] = {
                    "bind": mount.target,
                    "mode": "ro" if mount.read_only else "rw",
                }
        if settings.memory_limit:
            # A pod's limit covers everything: Kubernetes nodes run without swap.
            options["mem_limit"] = settings.memory_limit
            options["memswap_limit"] = settings.memory_limit
        if settings.cpu_limit:
            options["nano_cpus"] = int(settings.cpu_limit * 1e9)
    if tmpfs:
        options["tmpfs"] = tmpfs
    options["security_opt"] = security_opt
    # A pod's network namespace has IPv6 (at least ::1) even on IPv4-only clusters; Docker
    # turns it off, and then the JVM resolves names for IPv4 only (one query per name
    # instead of glibc's parallel A and AAAA queries, which need sendmmsg).
    options["sysctls"] = dict(POD_SYSCTLS)
    if network is None:
        # With no network the container's own name resolves nowhere and the JVM dies, so
        # the local container is called localhost.
        options["network_mode"] = "none"
        options["hostname"] = "localhost"
    else:
        options["network"] = network
        options["hostname"] = plan.name
    return options


@dataclass
class _Live:
    """A container of a run, while the run goes on."""

    plan: ContainerPlan
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


class DockerBackend(ContainerEngine):
    name = "docker"

    def __init__(self, client: Any | None = None, *, oci_runtime: str = "runc") -> None:
        self.oci_runtime = oci_runtime
        self.client = client or self._connect()
        self._checked_images: set[str] = set()
        if client is None:
            self._require_oci_runtime()
            self.sweep_orphans()
        register_cleanup(self.name, "container", self._cleanup_after_interrupt)

    def _connect(self) -> Any:
        return connect()

    def _require_oci_runtime(self) -> None:
        runtimes = self.client.info().get("Runtimes") or {}
        if self.oci_runtime not in runtimes:
            raise EnvironmentProblem(
                f"the Docker engine has no {self.oci_runtime} runtime "
                f"(it has {', '.join(sorted(runtimes)) or 'none'})",
                f"as root, `make setup` adds {self.oci_runtime} to /etc/docker/daemon.json "
                "and reloads the engine",
            )

    def engine_options(self, options: dict[str, Any], scratch: Path) -> dict[str, Any]:
        """The create keywords as this engine takes them (``scratch``: a directory of the
        run's for files the engine must be given by path)."""
        options["runtime"] = self.oci_runtime
        return options

    # The run's network reaches nothing outside it.
    internal_networks = True

    def bundle_configs(self, container_id: str) -> list[Path]:
        """Where a running container's OCI ``config.json`` may be."""
        return containerd_bundle_configs(DOCKER_NAMESPACE, container_id)

    def versions(self) -> dict[str, str]:
        found = engine_versions(self.client)
        versions = {
            "engine": f"{self.name} {found.get('engine', 'unknown')}",
            "oci_runtime": oci_runtime_version(self.oci_runtime),
        }
        if "containerd" in found:
            versions["containerd"] = found["containerd"]
        return versions

    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        found = self.client.images.get(image)
        return str(found.id), dict(found.labels or {})

    def cgroup_driver(self) -> str:
        try:
            return str(self.client.info().get("CgroupDriver", "unknown"))
        except Exception:  # noqa: BLE001 - unknown is an answer
            return "unknown"

    def _cleanup_after_interrupt(self) -> int:
        """How many containers an interrupt cost: those the unwinding runs removed, and
        any of this process's still there (which go now)."""
        global _removed_while_unwinding
        removed, _removed_while_unwinding = _removed_while_unwinding, 0
        return removed + self.cleanup(session_only=True)

    def require_image(self, image: str) -> None:
        if image not in self._checked_images:
            require_image(self.client, image)
            self._checked_images.add(image)

    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        for image in sorted({spec.settings_for(role).image for role in spec.roles}):
            self.require_image(image)
        return _Run(self, spec, run_dir, observer or RunObserver()).execute()

    def run_command(
        self,
        image: str,
        argv: Sequence[str],
        mode: SecurityMode,
        profile_json: str | None = None,
        security: ContainerSecurity | None = None,
        *,
        mounts: Mapping[str, str] | None = None,
        timeout_seconds: float = 120.0,
    ) -> tuple[int | None, str, str]:
        """Run ``argv`` through the image's entrypoint under a seccomp mode; (exit code,
        stdout, stderr).

        The container gets the security settings of a workload's local container (restricted
        unless ``security`` says otherwise), so a probe or micro-benchmark sees what a Spark
        job sees, tini as PID 1 included. ``mounts`` maps host directories to read-only
        container paths; the tools directory is always at ``TOOLS_DIR``. The exit code is
        None when the command timed out. The container is always removed.
        """
        self.require_image(image)
        binds = {TOOLS_DIR: (str(_TOOLS_ON_HOST), "ro")}
        binds.update({inside: (str(host), "ro") for host, inside in (mounts or {}).items()})
        options = _command_options(image, argv, mode, profile_json, security, binds)
        try:
            with (
                tempfile.TemporaryDirectory(prefix="spark-seccomp-command-") as scratch,
                _command_container(
                    self.client, self.engine_options(options, Path(scratch))
                ) as container,
            ):
                exit_code, timed_out = _wait(container, timeout_seconds)
                stdout, stderr = _logs(container)
        except RuntimeRefused as refused:
            return RUNTIME_REFUSED_EXIT, refused.stdout, refused.stderr
        return (None if timed_out else exit_code), stdout, stderr

    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        """The ``linux.seccomp`` the engine hands the OCI runtime for a RuntimeDefault
        container with the restricted settings, read from the running container's bundle
        (``config.json``), with where it was read; None when no bundle can be read here
        (not root, or an engine whose bundles live elsewhere)."""
        self.require_image(image)
        options = _command_options(image, ("sleep", "60"), SecurityMode.RUNTIME_DEFAULT)
        with (
            tempfile.TemporaryDirectory(prefix="spark-seccomp-command-") as scratch,
            _command_container(
                self.client, self.engine_options(options, Path(scratch))
            ) as container,
        ):
            return read_bundle_seccomp(self.bundle_configs(str(container.id)))

    def executor_java_options(self, image: str) -> tuple[str, ...]:
        """The JVM options Spark in ``image`` gives every executor: the module options and
        the rest that SparkContext adds to spark.executor's Java options (Spark hands them
        to executor pods as SPARK_JAVA_OPT_<n>). Asked of the image's own Spark once, cached
        by image id."""
        image_id = self.image_facts(image)[0]
        known: dict[str, list[str]] = {}
        with contextlib.suppress(ValueError):
            known = json.loads(read_cached(JAVA_OPTIONS_CACHE) or "{}")
        if image_id not in known:
            code, output, errors = self.run_command(
                image, ["python3", f"{TOOLS_DIR}/executor_java_options.py"], SecurityMode.UNCONFINED
            )
            lines = output.strip().splitlines()
            if code != 0 or not lines:
                last = (errors.strip().splitlines() or ["no output"])[-1]
                raise EnvironmentProblem(
                    f"could not ask {image}'s Spark for its executor JVM options: {last}",
                    "the image must run pyspark (python3 with pyspark on its path)",
                )
            known[image_id] = shlex.split(json.loads(lines[-1])["options"])
            write_cached(JAVA_OPTIONS_CACHE, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return tuple(known[image_id])

    def honours_default_errno(self, image: str) -> bool:
        """Whether the engine passes a profile's ``defaultErrnoRet`` on; cached per engine."""
        from profiler.seccomp.arch import known_syscalls, native_arch

        key = "-".join(f"{k}={v}" for k, v in sorted(self.versions().items()))
        known: dict[str, bool] = {}
        with contextlib.suppress(ValueError):
            known = json.loads(read_cached(ERRNO_PROBE_CACHE) or "{}")
        if key not in known:
            self.require_image(image)
            errno = probe_default_errno(self, image, sorted(known_syscalls(native_arch())))
            known[key] = errno == 38
            write_cached(ERRNO_PROBE_CACHE, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return known[key]

    def sweep_orphans(self) -> int:
        """Remove containers (and networks) of tool processes that no longer exist."""
        removed = 0
        with contextlib.suppress(Exception):
            for container in self.client.containers.list(
                all=True, filters={"label": f"{OWNER_LABEL}={OWNER}"}
            ):
                pid = str((container.labels or {}).get(PID_LABEL, ""))
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    _remove(container)
                    removed += 1
            for network in self.client.networks.list(filters={"label": f"{OWNER_LABEL}={OWNER}"}):
                pid = str((network.attrs.get("Labels") or {}).get(PID_LABEL, ""))
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    with contextlib.suppress(Exception):
                        network.remove()
        return removed

    def cleanup(self, session_only: bool = False) -> int:
        """Remove the tool's containers and networks: this process's only, or every one."""
        label = f"{SESSION_LABEL}={SESSION}" if session_only else f"{OWNER_LABEL}={OWNER}"
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": label}):
            _remove(container)
            removed += 1
        for network in self.client.networks.list(filters={"label": label}):
            with contextlib.suppress(Exception):
                network.remove()
        return removed


class _Run:
    """One run: its containers, network and host directories, all gone when it ends."""

    def __init__(
        self, backend: DockerBackend, spec: RunSpec, run_dir: Path | None, observer: RunObserver
    ) -> None:
        self.backend = backend
        self.client = backend.client
        self.spec = spec
        self.run_dir = run_dir
        self.observer = observer
        self.run_id = uuid.uuid4().hex[:12]
        self.network: Any | None = None
        self.host_dir = Path(tempfile.mkdtemp(prefix="spark-seccomp-run-"))
        self.master: _Live | None = None
        self.driver: _Live | None = None
        self.executors: list[_Live] = []
        self.created: list[Any] = []  # every container made, removed whatever happens
        self.engine_lost = False
        self.interrupted = False
        self.notes: list[str] = []
        self.observer_started = False

    # -- the run ---------------------------------------------------------------------
    def execute(self) -> RunResult:
        from docker.errors import APIError

        try:
            try:
                plan = self._plan()
                self._write_conf(plan)
                return self._run(plan)
            except APIError as exc:
                raise EnvironmentProblem(f"Docker engine error: {exc.explanation or exc}") from exc
            except _ENGINE_GONE as exc:
                self.engine_lost = True
                raise EnvironmentProblem(
                    f"the Docker engine stopped answering during the run ({type(exc).__name__})",
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

    def _plan(self) -> PodPlan:
        spec = self.spec
        if spec.topology is Topology.LOCAL:
            return plan_run(spec, self.run_id)
        executor_image = spec.settings_for(Role.EXECUTOR).image
        options = self.backend.executor_java_options(executor_image) if spec.executors else ()
        cidr = self._create_network()
        return plan_run(spec, self.run_id, network_cidr=cidr, executor_java_options=options)

    def _run(self, plan: PodPlan) -> RunResult:
        spec = self.spec
        deadline = time.monotonic() + spec.timeout_seconds
        if plan.master is not None:
            self.master = self._start(plan.master, plan, observe=False)
        self.observer.before_start()
        self.observer_started = True
        if self.master is not None:
            self._wait_for_master(deadline)
        try:
            self.driver = self._start(plan.driver, plan, observe=True)
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
                    executor = plan.executor(index, app_id, spec)
                    try:
                        self.executors.append(self._start(executor, plan, observe=True))
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
        with contextlib.suppress(Exception):
            self.driver.container.kill()
        self.driver.container.reload()
        self.driver.exit_code = int(self.driver.container.attrs["State"].get("ExitCode", -1))
        self.driver.ended = time.monotonic()
        self.driver.orphaned = True
        self.driver.notes.append(f"stopped by the run: {why}")

    # -- containers ------------------------------------------------------------------
    def _start(self, plan: ContainerPlan, pod: PodPlan, *, observe: bool) -> _Live:
        from docker.errors import APIError

        accounting = cgroup.CpuAccounting.create(
            self.backend.cgroup_driver(), f"{self.run_id}-{plan.name}"
        )
        options = container_options(
            plan,
            self.spec,
            self.run_id,
            network=self.network.name if self.network is not None else None,
            mounts=self._mounts(plan),
        )
        if accounting.parent:
            options["cgroup_parent"] = accounting.parent
        if self.network is not None and plan.ip is not None:
            options["networking_config"] = {
                self.network.name: self.client.api.create_endpoint_config(
                    ipv4_address=plan.ip, aliases=list(plan.aliases) or None
                )
            }
        if plan.role is None:
            options["environment"]["SPARK_DAEMON_MEMORY"] = "512m"
        options = self.backend.engine_options(options, self.host_dir / "engine" / plan.name)
        container = _create(self.client, options)
        self.created.append(container)
        live = _Live(plan, container, accounting, started=time.monotonic())
        try:
            if self.spec.hold_until_traced and observe:
                self._start_held(live)
                return live
            container.start()
        except APIError as exc:
            if plan.role is None or not _runtime_could_not_start(exc):
                raise
            # The OCI runtime's init runs under the container's filter before it execs the
            # entrypoint; a profile that denies what it needs kills it: a verdict, not an
            # engine failure.
            live.start_error = str(exc.explanation or exc)
            live.ended = time.monotonic()
            raise _StartFailed(live) from exc
        else:
            live.started = time.monotonic()
            if observe and plan.role is not None:
                container.reload()
                self.observer.started(
                    int(container.attrs["State"]["Pid"]), ContainerRef(plan.role, plan.name)
                )
        return live

    def _start_held(self, live: _Live) -> None:
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
                live.container.start()
            except BaseException as exc:  # surfaced in the calling thread
                failure.append(exc)

        hold.freeze()
        starter = threading.Thread(target=start, daemon=True)
        try:
            starter.start()
            pid = hold.first_pid(timeout=60.0, alive=starter.is_alive)
            if pid is None:
                raise EnvironmentProblem(
                    "the container's first process never appeared in its frozen cgroup",
                    "the strace tracer needs the cgroupfs driver; use --tracer ebpf",
                )
            self.observer.started(pid, ContainerRef(live.plan.role, live.plan.name))
        finally:
            hold.thaw()
            starter.join(timeout=120)
        if failure:
            raise failure[0]
        live.started = time.monotonic()

    def _mounts(self, plan: ContainerPlan) -> dict[str, tuple[str, str]]:
        mounts: dict[str, tuple[str, str]] = {}
        if plan.role is None:
            return mounts
        if self.spec.application is None:
            mounts[JOB_DIR] = (str(self.spec.workload.path.parent), "ro")
        conf = "conf-driver" if plan.role is not Role.EXECUTOR else "conf-executor"
        mounts[CONF_DIR] = (str(self.host_dir / conf), "ro")
        if self.spec.topology is Topology.POD:
            mounts[SHARED_DIR] = (str(self.host_dir / "shared"), "rw")
        return mounts

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

    def _create_network(self) -> str:
        from docker.errors import APIError
        from docker.types import IPAMConfig, IPAMPool

        name = f"spark-seccomp-{self.run_id}"
        rng = random.Random(self.run_id)
        for _ in range(32):
            cidr = f"10.{rng.randint(200, 250)}.{rng.randint(0, 255)}.0/24"
            try:
                self.network = self.client.networks.create(
                    name,
                    driver="bridge",
                    internal=self.backend.internal_networks,
                    ipam=IPAMConfig(pool_configs=[IPAMPool(subnet=cidr)]),
                    labels={
                        OWNER_LABEL: OWNER,
                        SESSION_LABEL: SESSION,
                        PID_LABEL: str(os.getpid()),
                    },
                )
            except APIError as exc:
                if "overlap" in str(exc).lower():
                    continue
                raise
            return cidr
        raise EnvironmentProblem("no free /24 for the run's network in 10.200.0.0-10.250.255.0")

    # -- waiting ---------------------------------------------------------------------
    def _wait_for_master(self, deadline: float) -> None:
        assert self.master is not None
        while time.monotonic() < min(deadline, time.monotonic() + 120):
            stdout, stderr = _logs(self.master.container)
            if MASTER_READY.search(stderr) or MASTER_READY.search(stdout):
                return
            if _exited(self.master.container):
                raise EnvironmentProblem(
                    "the standalone master that stands in for the API server exited: "
                    + (stderr.strip().splitlines() or ["no output"])[-1],
                    "check that the image runs `spark-class org.apache.spark.deploy.master.Master`",
                )
            time.sleep(POLL_SECONDS)
        raise EnvironmentProblem("the standalone master did not start within the run's timeout")

    def _wait_for_application(self, deadline: float) -> str | None:
        """The application id the master gave the driver, or None once the driver ended
        without registering (a script with its own master)."""
        assert self.master is not None and self.driver is not None
        while time.monotonic() < deadline:
            stdout, stderr = _logs(self.master.container)
            match = APP_REGISTERED.search(stderr) or APP_REGISTERED.search(stdout)
            if match:
                return match.group(1)
            if _exited(self.driver.container):
                return None
            time.sleep(POLL_SECONDS)
        return None

    def _wait_for_driver(self, deadline: float) -> None:
        assert self.driver is not None
        driver = self.driver
        orphaned_since: float | None = None
        while True:
            driver.container.reload()
            state = driver.container.attrs["State"]
            if not state.get("Running") and state.get("Status") in ("exited", "dead"):
                driver.ended = time.monotonic()
                driver.exit_code = int(state.get("ExitCode", -1))
                driver.oom_killed = bool(state.get("OOMKilled"))
                return
            now = time.monotonic()
            if now >= deadline:
                driver.timed_out = True
                driver.ended = now
                with contextlib.suppress(Exception):
                    driver.container.kill()
                return
            if self.executors and all(_exited(e.container) for e in self.executors):
                orphaned_since = orphaned_since or now
                if now - orphaned_since > ORPHANED_DRIVER_SECONDS and not driver.orphaned:
                    driver.orphaned = True
                    driver.notes.append(
                        f"every executor pod had exited and the driver went on alone for "
                        f"{ORPHANED_DRIVER_SECONDS:.0f} s: stopped"
                    )
                    with contextlib.suppress(Exception):
                        driver.container.kill()
            time.sleep(POLL_SECONDS)

    def _wind_down_executors(self) -> None:
        grace_end = time.monotonic() + EXECUTOR_GRACE_SECONDS
        for executor in self.executors:
            if executor.start_error is not None:
                continue
            container = executor.container
            while not _exited(container) and time.monotonic() < grace_end:
                time.sleep(POLL_SECONDS)
            if not _exited(container):
                # The operator deletes the executor pods of a finished driver: SIGTERM.
                with contextlib.suppress(Exception):
                    container.stop(timeout=10)
                executor.stopped_after_driver = True
                executor.notes.append(
                    f"still running {EXECUTOR_GRACE_SECONDS:.0f} s after the driver ended: "
                    "stopped, as the operator deletes a finished application's executor pods"
                )
            container.reload()
            state = container.attrs["State"]
            executor.exit_code = int(state.get("ExitCode", -1))
            executor.oom_killed = bool(state.get("OOMKilled"))
            executor.ended = time.monotonic()

    # -- results ---------------------------------------------------------------------
    def _result(self, plan: PodPlan) -> RunResult:
        assert self.driver is not None
        for live in [self.driver, *self.executors]:
            live.stdout, live.stderr = _logs(live.container)
            _remove(live.container)
            live.cpu_seconds = live.accounting.finish()
        if self.master is not None and self.run_dir is not None:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            (self.run_dir / "master.stderr.txt").write_text(_logs(self.master.container)[1])
        containers = tuple(_container_result(live) for live in [self.driver, *self.executors])
        driver = containers[0]
        cpu_parts = [c.cpu_seconds for c in containers]
        cpu = sum(c for c in cpu_parts if c is not None) if None not in cpu_parts else None
        notes = list(self.notes)
        if plan.topology is Topology.POD:
            notes.append(
                "not emulated: the driver's calls to the Kubernetes API server (it asks a "
                "standalone master for executors instead), so its HTTPS client is not "
                "exercised; record one run in the cluster (`k8s record --spo`) and merge "
                "it (`profile import`) before enforcing a driver profile"
            )
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
            container_id=self.driver.container.id,
            notes=tuple(notes),
            containers=containers,
        )
        if self.run_dir is not None:
            write_run_dir(result, self.run_dir)
        return result

    def _teardown(self) -> None:
        lives = [*self.executors, *([self.driver] if self.driver else [])]
        if self.master is not None:
            lives.append(self.master)
        try:
            self._remove_everything()
        finally:
            if self.observer_started:
                self.observer.finished()
            for live in lives:
                live.accounting.finish()
            shutil.rmtree(self.host_dir, ignore_errors=True)

    def _remove_everything(self) -> None:
        """Every container of the run, then its network. An engine that went away is waited
        for: a dockerd that stops first stops its containers (up to its shutdown timeout
        each) and a new one answers before it has restored them, so removal is retried
        until the engine stays up; what is left after that the label lets `cleanup` (or
        the next run's sweep) find."""
        global _removed_while_unwinding
        pending = list(self.created)
        deadline = time.monotonic() + ENGINE_RETURN_SECONDS
        told = False
        while True:
            if self.engine_lost and not told and pending:
                # The one line the library prints itself: the wait can be minutes long.
                sys.stderr.write(
                    f"waiting up to {ENGINE_RETURN_SECONDS:.0f} s for the Docker engine to "
                    f"answer again, to remove this run's {len(pending)} container(s)\n"
                )
                told = True
            if self.engine_lost and not _wait_for_engine(self.client, deadline):
                return
            try:
                while pending:
                    _remove(pending[0])
                    pending.pop(0)
                    if self.interrupted:
                        _removed_while_unwinding += 1
                if self.network is not None:
                    _remove_network(self.network)
                return
            except _ENGINE_GONE:
                self.engine_lost = True
                if time.monotonic() >= deadline:
                    return


def _engine_gone_errors() -> tuple[type[BaseException], ...]:
    import requests

    return (requests.exceptions.ConnectionError,)


_ENGINE_GONE = _engine_gone_errors()
# How long a run whose engine went away waits for it to answer again, to remove its
# containers before giving up: dockerd's own shutdown waits up to 15 s per container
# that ignores SIGTERM before it exits, and its restart takes a few seconds more.
ENGINE_RETURN_SECONDS = 180.0


def _wait_for_engine(client: Any, deadline: float) -> bool:
    """Whether the engine answers before ``deadline`` (a monotonic time)."""
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            client.ping()
            return True
        time.sleep(1.0)
    return False


def _remove_network(network: Any) -> None:
    from docker.errors import APIError, NotFound

    with contextlib.suppress(NotFound):
        try:
            network.remove()
        except APIError:
            # An endpoint of a container just removed can linger for a moment.
            time.sleep(0.5)
            with contextlib.suppress(APIError):
                network.remove()


class RuntimeRefused(Exception):
    """The OCI runtime could not start a one-off command's container (its init died under
    the filter); ``run_command`` answers exit code 125 with what it said."""

    def __init__(self, stdout: str, stderr: str) -> None:
        super().__init__(stderr)
        self.stdout = stdout
        self.stderr = stderr


class _StartFailed(Exception):
    """A container the OCI runtime could not start (``_Live.start_error`` says why)."""

    def __init__(self, live: _Live) -> None:
        super().__init__(live.start_error)
        self.live = live


def _runtime_could_not_start(exc: Exception) -> bool:
    """Whether the engine's error is the OCI runtime failing to start the container (runc:
    "OCI runtime start failed", "OCI runtime create failed"; crun: "OCI runtime error")."""
    text = str(getattr(exc, "explanation", None) or exc)
    # runc whose init died before the engine asked it to start: "cannot start a stopped
    # process"; Podman: "`/usr/bin/runc start ID` failed: exit status 1".
    return (
        "OCI runtime" in text
        or "cannot start a stopped process" in text
        or _RUNTIME_COMMAND_FAILED.search(text) is not None
    )


_RUNTIME_COMMAND_FAILED = re.compile(r"\b(runc|crun) (create|start)\b.*\bfailed\b")


def _container_result(live: _Live) -> ContainerResult:
    assert live.plan.role is not None
    ended = live.ended if live.ended is not None else time.monotonic()
    notes = list(live.notes)
    if live.oom_killed:
        notes.append("OOMKilled: the container reached its memory limit")
    return ContainerResult(
        role=live.plan.role,
        name=live.plan.name,
        exit_code=None if live.timed_out else live.exit_code,
        timed_out=live.timed_out,
        wall_seconds=ended - live.started,
        cpu_seconds=live.cpu_seconds,
        stdout=live.stdout,
        stderr=live.stderr,
        oom_killed=live.oom_killed,
        stopped_after_driver=live.stopped_after_driver,
        orphaned=live.orphaned,
        start_error=live.start_error,
        notes=tuple(notes),
    )


def command_spec(
    image: str,
    mode: SecurityMode,
    profile_json: str | None = None,
    security: ContainerSecurity | None = None,
) -> RunSpec:
    """The spec of a one-off command (a probe, a micro-benchmark) in the shape of a
    workload's local container: restricted pod security unless ``security`` says otherwise;
    every engine's ``run_command`` starts its container from this."""
    from profiler.workloads import Workload

    return RunSpec(
        workload=Workload("command", _TOOLS_ON_HOST / "command", "", False),
        mode=mode,
        image=image,
        pod_security=PodSecurity.RESTRICTED,
        profile_json=profile_json if mode is SecurityMode.LOCALHOST else None,
        security=security,
        topology=Topology.LOCAL,
    )


def _command_options(
    image: str,
    argv: Sequence[str],
    mode: SecurityMode,
    profile_json: str | None = None,
    security: ContainerSecurity | None = None,
    binds: Mapping[str, tuple[str, str]] | None = None,
) -> dict[str, Any]:
    """Create keywords for a one-off command (``command_spec``) through the image's
    entrypoint."""
    spec = command_spec(image, mode, profile_json, security)
    plan = ContainerPlan(
        role=Role.ALL,
        name="localhost",
        args=tuple(argv),
        env=(),
        settings=spec.settings_for(Role.ALL),
    )
    return container_options(plan, spec, uuid.uuid4().hex[:12], mounts=binds)


@contextlib.contextmanager
def _command_container(client: Any, options: dict[str, Any]) -> Iterator[Any]:
    """A started container for ``options``, removed whatever happens."""
    from docker.errors import APIError

    container = None
    try:
        container = _create(client, options)
        container.start()
        yield container
    except APIError as exc:
        if container is not None and _runtime_could_not_start(exc):
            # The OCI runtime's init died under the filter: what it said is in the logs.
            stdout, stderr = _logs(container)
            raise RuntimeRefused(stdout, f"{exc.explanation or exc}\n{stderr}") from exc
        raise EnvironmentProblem(f"Docker engine error: {exc.explanation or exc}") from exc
    finally:
        if container is not None:
            _remove(container)


def _create(client: Any, options: dict[str, Any]) -> Any:
    from docker.errors import APIError

    try:
        return client.containers.create(**options)
    except APIError as exc:
        raise EnvironmentProblem(
            f"the engine refused the container: {exc.explanation or exc}",
            "check the profile file and the image",
        ) from exc


def _exited(container: Any) -> bool:
    from docker.errors import NotFound

    try:
        container.reload()
    except NotFound:
        return True
    return container.attrs["State"].get("Status") in ("exited", "dead")


def _wait(container: Any, timeout: float) -> tuple[int | None, bool]:
    import requests

    try:
        status = container.wait(timeout=timeout)
    except (requests.exceptions.ReadTimeout, requests.exceptions.ConnectionError):
        container.kill()
        return None, True
    return int(status.get("StatusCode", -1)), False


def _logs(container: Any) -> tuple[str, str]:
    from docker.errors import APIError

    try:
        stdout = container.logs(stdout=True, stderr=False).decode(errors="replace")
        stderr = container.logs(stdout=False, stderr=True).decode(errors="replace")
    except APIError as exc:
        # Someone removed the container under us (`spark-seccomp cleanup`, `docker rm`).
        return "", f"container logs are gone: {exc.explanation or exc}"
    return stdout, stderr


def _remove(container: Any) -> None:
    from docker.errors import APIError, NotFound

    try:
        container.remove(force=True)
    except NotFound:
        pass
    except APIError:
        # Removal can race with the engine finishing the exit; one retry settles it.
        time.sleep(0.5)
        with contextlib.suppress(NotFound, APIError):
            container.remove(force=True)


def write_run_dir(result: RunResult, run_dir: Path) -> None:
    """stdout, stderr and a summary of one run, for reports and for people debugging.

    The top-level stdout/stderr are the driver's (or the local container's); each executor
    pod's are in ``<pod name>.stdout.txt`` / ``.stderr.txt``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stdout.txt").write_text(result.stdout)
    (run_dir / "stderr.txt").write_text(result.stderr)
    for container in result.containers[1:]:
        (run_dir / f"{container.name}.stdout.txt").write_text(container.stdout)
        (run_dir / f"{container.name}.stderr.txt").write_text(container.stderr)
    if result.spec.profile_json is not None:
        (run_dir / "profile.json").write_text(result.spec.profile_json)
    for role_name, role in (("driver", result.spec.driver), ("executor", result.spec.executor)):
        if role.profile_json is not None:
            (run_dir / f"profile.{role_name}.json").write_text(role.profile_json)
    summary = {
        "workload": result.spec.workload.name,
        "mode": result.spec.mode.value,
        "pod_security": result.spec.pod_security.value,
        "topology": result.spec.topology.value,
        "image": result.spec.image,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "wall_seconds": round(result.wall_seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3) if result.cpu_seconds is not None else None,
        "checksum": result.result.checksum if result.result else None,
        "job_seconds": result.result.job_seconds if result.result else None,
        "containers": [
            {
                "role": c.role.value,
                "name": c.name,
                "exit_code": c.exit_code,
                "timed_out": c.timed_out,
                "oom_killed": c.oom_killed,
                "stopped_after_driver": c.stopped_after_driver,
                "wall_seconds": round(c.wall_seconds, 3),
                "cpu_seconds": round(c.cpu_seconds, 3) if c.cpu_seconds is not None else None,
                "notes": list(c.notes),
            }
            for c in result.containers
        ],
        "notes": list(result.notes),
    }
    (run_dir / "run.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")


_ERRNO_PROBE = (
    "import os\n"
    "try:\n"
    "    os.getpgid(0)\n"
    "    print('allowed')\n"
    "except OSError as exc:\n"
    "    print(exc.errno)\n"
)


def probe_default_errno(backend: DockerBackend, image: str, all_names: list[str]) -> int | None:
    """The errno a program really gets from a profile's default action on this engine.

    Some engines (Docker 20.10) drop ``defaultErrnoRet`` when they convert the profile,
    so a profile asking for ENOSYS silently returns EPERM, and glibc/the JVM then fail
    where they would have fallen back (clone3 -> clone). We load a profile that allows
    everything but ``getpgid`` with ``defaultErrnoRet`` = ENOSYS and ask Python.
    """
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 38,
        "syscalls": [
            {"names": sorted(n for n in all_names if n != "getpgid"), "action": "SCMP_ACT_ALLOW"}
        ],
    }
    _, output, _ = backend.run_command(
        image, ["python3", "-c", _ERRNO_PROBE], SecurityMode.LOCALHOST, json.dumps(profile)
    )
    text = output.strip().splitlines()[-1] if output.strip() else ""
    return int(text) if text.isdigit() else None


__all__ = ["DockerBackend", "Mount", "container_options", "write_run_dir"]
