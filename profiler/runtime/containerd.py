"""The containerd backend: runs through ``ctr`` on Docker's own containerd.

containerd's default seccomp profile (``ctr run --seccomp``) is the one its CRI plugin
applies as RuntimeDefault on EKS, GKE and AKS nodes. Without CNI, ``ctr`` gives a
container a network namespace with loopback only, so this backend runs the local
topology (one container, a local master) and says so when asked for pods.

What ``ctr`` cannot do, and how this backend stands in: it has no ``--user`` (the image's
USER, 185 in Spark's images, is the pod's user; another user is refused), no ``--cap-drop
ALL`` (each capability of containerd's default set, read from ``ctr oci spec``, is
dropped), and no hostname (the host's name is mapped to 127.0.0.1 in the container's
/etc/hosts, as Docker's ``localhost`` container resolves its own name). Containers live
in the tool's own namespace; their ids carry this process's pid and session, so
``cleanup`` and the next backend's sweep find what a crash left.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket as socketlib
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime import cgroup
from profiler.runtime.cleanup import register_cleanup
from profiler.runtime.docker import (
    _TMPFS_OPTIONS,
    _TMPFS_SIZE,
    _TOOLS_ON_HOST,
    RUNTIME_REFUSED_EXIT,
    SESSION,
    TOOLS_DIR,
    command_spec,
    write_run_dir,
)
from profiler.runtime.engine import (
    connect,
    containerd_bundle_configs,
    containerd_socket,
    move_image_from_docker,
    oci_runtime_binary,
    oci_runtime_version,
    read_bundle_seccomp,
)
from profiler.runtime.interface import (
    SPARK_LOCAL_DIR,
    ContainerEngine,
    ContainerRef,
    ContainerResult,
    ContainerSecurity,
    ResolvedRole,
    Role,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.pod import CONF_DIR, JOB_DIR, plan_run
from profiler.workloads import parse_result_line

NAMESPACE = "spark-seccomp"
ID_PREFIX = "spark-seccomp"
# Where containerd keeps a running task's bundle: Docker's containerd, then a system one.
_MEMORY_UNITS = {"k": 1024, "m": 1024**2, "g": 1024**3}


@dataclass(frozen=True)
class _Container:
    """What one ``ctr run`` is given."""

    image: str
    args: tuple[str, ...]  # given to the image's entrypoint
    env: tuple[tuple[str, str], ...]
    mode: SecurityMode
    profile_json: str | None
    security: ContainerSecurity
    binds: tuple[tuple[str, str, bool], ...] = ()  # (host, container, read-only)
    tmpfs: tuple[tuple[str, int | None], ...] = ()  # (container path, size in bytes)
    memory_limit: str | None = None


@dataclass(frozen=True)
class _ImageConfig:
    image_id: str
    labels: tuple[tuple[str, str], ...]
    entrypoint: tuple[str, ...]
    user: str


@dataclass
class _Outcome:
    exit_code: int | None
    timed_out: bool
    wall_seconds: float
    cpu_seconds: float | None
    stdout: str
    stderr: str
    start_error: str | None = None
    notes: list[str] = field(default_factory=list)


class ContainerdBackend(ContainerEngine):
    name = "containerd"

    def __init__(self, *, oci_runtime: str = "runc") -> None:
        self.oci_runtime = oci_runtime
        ctr = shutil.which("ctr")
        if ctr is None:
            raise EnvironmentProblem("ctr is not installed", "`apt-get install containerd`")
        self.ctr = [ctr, "--address", str(containerd_socket()), "--namespace", NAMESPACE]
        self.runtime_binary = oci_runtime_binary(oci_runtime)
        self._checked_images: set[str] = set()
        self._image_configs: dict[str, _ImageConfig] = {}
        self._default_caps: tuple[str, ...] | None = None
        self.sweep_orphans()
        register_cleanup(self.name, "container", lambda: self.cleanup(session_only=True))

    # -- what the engine is ----------------------------------------------------------
    def topology_for(self, requested: Topology, note: Callable[[str], None]) -> Topology:
        if requested is Topology.POD:
            note(
                "containerd: ctr has no pod network without CNI, so the run uses the local "
                "topology (one container, a local master)"
            )
        return Topology.LOCAL

    def versions(self) -> dict[str, str]:
        output = self._ctr("version").stdout
        server = output.split("Server:", 1)[-1]
        version = next(
            (line.split()[-1] for line in server.splitlines() if "Version:" in line), "unknown"
        )
        return {
            "engine": f"containerd {version}",
            "containerd": version,
            "oci_runtime": oci_runtime_version(self.oci_runtime),
        }

    def cgroup_driver(self) -> str:
        return "cgroupfs"  # ctr places containers at the raw cgroup path it is given

    def require_image(self, image: str) -> None:
        if image in self._checked_images:
            return
        reference = containerd_reference(image)
        listed = self._ctr("images", "ls", "-q").stdout.split()
        if reference not in listed:
            move_image_from_docker(image, [*self.ctr, "images", "import", "-"], "containerd")
        self._checked_images.add(image)

    def image_facts(self, image: str) -> tuple[str, dict[str, str]]:
        config = self._image_config(image)
        return config.image_id, dict(config.labels)

    def _image_config(self, image: str) -> _ImageConfig:
        """The image's id, labels, entrypoint and user, asked of Docker once per image: the
        images come from Docker (save and import), so its config is the same blob."""
        if image not in self._image_configs:
            found = connect().images.get(image)
            config = found.attrs.get("Config") or {}
            self._image_configs[image] = _ImageConfig(
                image_id=str(found.id),
                labels=tuple(sorted((found.labels or {}).items())),
                entrypoint=tuple(config.get("Entrypoint") or ()),
                user=str(config.get("User") or "0"),
            )
        return self._image_configs[image]

    def _caps(self) -> tuple[str, ...]:
        if self._default_caps is None:
            spec = json.loads(self._ctr("oci", "spec").stdout)
            self._default_caps = tuple(spec["process"]["capabilities"]["bounding"])
        return self._default_caps

    # -- runs ------------------------------------------------------------------------
    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        observer = observer or RunObserver()
        if spec.hold_until_traced:
            raise EnvironmentProblem(
                "the containerd backend cannot hold a container for a tracer",
                "use --tracer ebpf",
            )
        notes: list[str] = []
        if spec.topology is Topology.POD:
            notes.append("containerd runs the local topology (no pod network without CNI)")
            spec = replace(spec, topology=Topology.LOCAL)
        self.require_image(spec.image)
        run_id = uuid.uuid4().hex[:12]
        plan = plan_run(spec, run_id)
        settings = plan.driver.settings
        assert settings is not None
        with tempfile.TemporaryDirectory(prefix="spark-seccomp-run-") as scratch:
            host = Path(scratch)
            conf = host / "conf-driver"
            conf.mkdir()
            (conf / "spark.properties").write_text(plan.properties)
            host.chmod(0o755)
            if run_dir is not None:
                run_dir.mkdir(parents=True, exist_ok=True)
                (run_dir / "spark.properties").write_text(plan.properties)
            binds = [(str(conf), CONF_DIR, True)]
            if spec.application is None:
                binds.append((str(spec.workload.path.parent), JOB_DIR, True))
            container = self._container_for(settings, plan.driver.args, plan.driver.env, binds)
            observer.before_start()
            try:
                outcome = self._run_container(
                    container,
                    host,
                    run_id,
                    spec.timeout_seconds,
                    lambda pid: observer.started(pid, ContainerRef(Role.ALL, plan.driver.name)),
                )
            finally:
                observer.finished()
        result_container = ContainerResult(
            role=Role.ALL,
            name=plan.driver.name,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            wall_seconds=outcome.wall_seconds,
            cpu_seconds=outcome.cpu_seconds,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            start_error=outcome.start_error,
            notes=tuple(outcome.notes),
        )
        result = RunResult(
            spec=spec,
            exit_code=outcome.exit_code,
            timed_out=outcome.timed_out,
            wall_seconds=outcome.wall_seconds,
            cpu_seconds=outcome.cpu_seconds,
            stdout=outcome.stdout,
            stderr=outcome.stderr,
            result=parse_result_line(outcome.stdout),
            run_dir=run_dir,
            notes=tuple(notes + outcome.notes),
            containers=(result_container,),
        )
        if run_dir is not None:
            write_run_dir(result, run_dir)
        return result

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
        self.require_image(image)
        settings = command_spec(image, mode, profile_json, security).settings_for(Role.ALL)
        binds = [(str(_TOOLS_ON_HOST), TOOLS_DIR, True)]
        binds += [(str(host), inside, True) for host, inside in (mounts or {}).items()]
        container = self._container_for(settings, tuple(argv), (), binds)
        with tempfile.TemporaryDirectory(prefix="spark-seccomp-command-") as scratch:
            outcome = self._run_container(
                container, Path(scratch), uuid.uuid4().hex[:12], timeout_seconds, None
            )
        if outcome.start_error is not None:
            return RUNTIME_REFUSED_EXIT, outcome.stdout, outcome.stderr
        return outcome.exit_code, outcome.stdout, outcome.stderr

    def runtime_default_filter(self, image: str) -> tuple[str, dict[str, Any]] | None:
        self.require_image(image)
        settings = command_spec(image, SecurityMode.RUNTIME_DEFAULT).settings_for(Role.ALL)
        container = self._container_for(settings, ("sleep", "60"), (), [])
        found: list[tuple[str, dict[str, Any]]] = []

        def read_bundle(_pid: int, container_id: str) -> None:
            read = read_bundle_seccomp(containerd_bundle_configs(NAMESPACE, container_id))
            if read is not None:
                found.append(read)

        with tempfile.TemporaryDirectory(prefix="spark-seccomp-command-") as scratch:
            self._run_container(
                container, Path(scratch), uuid.uuid4().hex[:12], 90.0, None, stop_after=read_bundle
            )
        return found[0] if found else None

    def _container_for(
        self,
        settings: ResolvedRole,
        args: tuple[str, ...],
        env: tuple[tuple[str, str], ...],
        binds: list[tuple[str, str, bool]],
    ) -> _Container:
        security = settings.security
        tmpfs: list[tuple[str, int | None]] = [
            (path, None) for path in (*security.writable_paths, SPARK_LOCAL_DIR)
        ]
        for mount in settings.mounts:
            if mount.source is None:
                tmpfs.append((mount.target, mount.size_bytes))
            else:
                binds.append((mount.source, mount.target, mount.read_only))
        return _Container(
            image=settings.image,
            args=args,
            env=env,
            mode=settings.mode,
            profile_json=settings.profile_json,
            security=security,
            binds=tuple(binds),
            tmpfs=tuple(tmpfs),
            memory_limit=settings.memory_limit,
        )

    def ctr_run_args(
        self, container: _Container, container_id: str, scratch: Path, cgroup_path: str
    ) -> list[str]:
        """The ``ctr run`` command line for one container (files it needs go to ``scratch``)."""
        security = container.security
        if security.user is not None:
            wanted = (
                f"{security.user}:{security.group if security.group is not None else security.user}"
            )
            image_user = self._image_config(container.image).user
            if (
                wanted not in (image_user, image_user.split(":")[0])
                and str(security.user) != image_user.split(":")[0]
            ):
                raise UsageError(
                    f"containerd (ctr) runs {container.image} as its own user {image_user}, "
                    f"not {wanted}",
                    "use an image whose USER is the pod's user, or another --runtime",
                )
        hosts = scratch / "hosts"
        hosts.write_text(f"127.0.0.1\tlocalhost {socketlib.gethostname()}\n::1\tlocalhost\n")
        args = [
            *self.ctr,
            "run",
            "--rm",
            "--cgroup",
            cgroup_path,
            "--pid-file",
            str(scratch / "pid"),
        ]
        if self.oci_runtime != "runc":
            args += ["--runc-binary", self.runtime_binary]
        if container.mode is not SecurityMode.UNCONFINED:
            args.append("--seccomp")
        if container.mode is SecurityMode.LOCALHOST:
            if container.profile_json is None:
                raise ValueError("localhost mode needs a profile")
            profile = scratch / "seccomp.json"
            profile.write_text(container.profile_json)
            args += ["--seccomp-profile", str(profile)]
        if "ALL" in security.cap_drop:
            dropped: Sequence[str] = self._caps()
        else:
            dropped = [_cap(c) for c in security.cap_drop]
        for cap in dropped:
            args += ["--cap-drop", cap]
        for cap in security.cap_add:
            args += ["--cap-add", _cap(cap)]
        if not security.no_new_privileges:
            args.append("--allow-new-privs")
        if security.read_only_root:
            args.append("--read-only")
        if security.privileged:
            args.append("--privileged")
        if container.memory_limit:
            args += ["--memory-limit", str(memory_bytes(container.memory_limit))]
        binds = [*container.binds, (str(hosts), "/etc/hosts", True)]
        for host, inside, read_only in sorted(binds, key=lambda b: b[1]):
            args += [
                "--mount",
                f"type=bind,src={host},dst={inside},options=rbind:{'ro' if read_only else 'rw'}",
            ]
        # runc gives a tmpfs the mode of the directory it creates for it (0755, root's),
        # so the pod's user owns it as on Docker (an emptyDir is the pod user's to write).
        owner = ""
        if security.user is not None:
            group = security.group if security.group is not None else security.user
            owner = f":uid={security.user}:gid={group}"
        for path, size in container.tmpfs:
            options = (
                _TMPFS_OPTIONS.replace(",", ":")
                + ":"
                + (f"size={size}" if size else _TMPFS_SIZE)
                + owner
            )
            args += ["--mount", f"type=tmpfs,src=tmpfs,dst={path},options={options}"]
        for key, value in container.env:
            args += ["--env", f"{key}={value}"]
        entrypoint = self._image_config(container.image).entrypoint
        return [
            *args,
            containerd_reference(container.image),
            container_id,
            *entrypoint,
            *container.args,
        ]

    def _run_container(
        self,
        container: _Container,
        scratch: Path,
        run_id: str,
        timeout: float,
        started: Callable[[int], None] | None,
        *,
        stop_after: Callable[[int, str], None] | None = None,
    ) -> _Outcome:
        """One ``ctr run`` to its end (or its timeout), the container removed whatever
        happens. ``stop_after`` is called with the pid and id once the task runs; the
        container is then stopped."""
        container_id = f"{ID_PREFIX}-{os.getpid()}-{SESSION}-{run_id}"
        accounting = cgroup.CpuAccounting.create("cgroupfs", run_id)
        cgroup_path = f"{accounting.parent or '/spark-seccomp/' + run_id}/{container_id}"
        argv = self.ctr_run_args(container, container_id, scratch, cgroup_path)
        out_path, err_path = scratch / "stdout", scratch / "stderr"
        begun = time.monotonic()
        timed_out = False
        with open(out_path, "wb") as out, open(err_path, "wb") as err:
            # Its own session: Ctrl-C reaches this process, which stops the task itself.
            process = subprocess.Popen(
                argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
            )
            try:
                pid = _wait_for_pid(scratch / "pid", process, min(timeout, 60.0))
                if pid is not None and started is not None:
                    started(pid)
                if pid is not None and stop_after is not None:
                    stop_after(pid, container_id)
                    self._kill(container_id)
                try:
                    process.wait(timeout=max(1.0, timeout - (time.monotonic() - begun)))
                except subprocess.TimeoutExpired:
                    timed_out = True
                    self._kill(container_id)
                    process.wait(timeout=30)
            finally:
                if process.poll() is None:
                    self._kill(container_id)
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=30)
                    if process.poll() is None:
                        process.kill()
                self._remove(container_id)
        wall = time.monotonic() - begun
        cpu = accounting.finish()
        stdout = out_path.read_text(errors="replace")
        stderr = err_path.read_text(errors="replace")
        start_error = None
        code = process.returncode
        if not (scratch / "pid").exists() and "OCI runtime" in stderr:
            start_error = (stderr.strip().splitlines() or ["the OCI runtime failed"])[-1][:300]
        return _Outcome(
            exit_code=None if timed_out else code,
            timed_out=timed_out,
            wall_seconds=wall,
            cpu_seconds=cpu,
            stdout=stdout,
            stderr=stderr,
            start_error=start_error,
        )

    # -- removal ---------------------------------------------------------------------
    def _ctr(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([*self.ctr, *args], capture_output=True, text=True, timeout=120)
        if check and done.returncode != 0:
            said = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise EnvironmentProblem(
                f"ctr {' '.join(args[:2])} failed: {said}",
                "check that the Docker engine (and its containerd) runs: `make engine`",
            )
        return done

    def _kill(self, container_id: str) -> None:
        self._ctr("task", "kill", "--signal", "SIGKILL", container_id, check=False)

    def _remove(self, container_id: str) -> None:
        for _ in range(20):
            listed = self._ctr("containers", "ls", "-q", check=False).stdout.split()
            if container_id not in listed:
                return
            self._ctr("task", "kill", "--signal", "SIGKILL", container_id, check=False)
            self._ctr("task", "rm", "-f", container_id, check=False)
            self._ctr("containers", "rm", container_id, check=False)
            time.sleep(0.25)

    def _ours(self) -> list[str]:
        listed = self._ctr("containers", "ls", "-q", check=False).stdout.split()
        return [c for c in listed if c.startswith(f"{ID_PREFIX}-")]

    def sweep_orphans(self) -> int:
        removed = 0
        for container_id in self._ours():
            pid = container_id.split("-")[2] if container_id.count("-") >= 3 else ""
            if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                self._remove(container_id)
                removed += 1
        return removed

    def cleanup(self, session_only: bool = False) -> int:
        removed = 0
        for container_id in self._ours():
            if session_only and f"-{SESSION}-" not in container_id:
                continue
            self._remove(container_id)
            removed += 1
        return removed


def containerd_reference(image: str) -> str:
    """The name ``ctr images import`` gives an image Docker saved (``docker.io/...``)."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"


def memory_bytes(limit: str) -> int:
    """``"1408m"`` -> bytes (Docker's units)."""
    text = limit.strip().lower().removesuffix("b")
    if text and text[-1] in _MEMORY_UNITS:
        return int(float(text[:-1]) * _MEMORY_UNITS[text[-1]])
    return int(text)


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"


def _wait_for_pid(path: Path, process: subprocess.Popen[bytes], timeout: float) -> int | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            text = path.read_text().strip()
            if text:
                return int(text)
        if process.poll() is not None:
            return None
        time.sleep(0.01)
    return None
