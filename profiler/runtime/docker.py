"""The Docker backend: one container per run through the docker SDK, always removed.

Every container carries the ``io.spark-seccomp.owner`` label, so ``cleanup`` (and the
test suite's final check) can find anything left behind by a crash.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem
from profiler.paths import read_cached, write_cached
from profiler.runtime import cgroup
from profiler.runtime.cleanup import register_cleanup
from profiler.runtime.engine import connect, require_image
from profiler.runtime.interface import (
    Backend,
    ContainerSecurity,
    PodSecurity,
    RunObserver,
    RunResult,
    RunSpec,
    SecurityMode,
)
from profiler.workloads import Workload, parse_result_line

OWNER_LABEL = "io.spark-seccomp.owner"
OWNER = "spark-seccomp"
# Each process of the tool labels its containers with its own session, so one process
# (a test run, a Ctrl-C handler) never removes the containers of another.
SESSION_LABEL = "io.spark-seccomp.session"
SESSION = uuid.uuid4().hex[:12]
ERRNO_PROBE_CACHE = "default-errno-probe.json"
JOB_DIR = "/job"
TOOLS_DIR = "/opt/spark-seccomp-tools"
_TOOLS_ON_HOST = Path(__file__).resolve().parent.parent / "image_tools"

# spark-submit is how the Spark Operator's driver pod starts a PySpark application
# (bash -> JVM -> Python driver over py4j); running the same launcher keeps the syscalls
# of a recording the same as those of a driver pod.
SUBMIT = 'exec "${SPARK_HOME:-/opt/spark}/bin/spark-submit" "$@"'


def container_options(spec: RunSpec, run_id: str) -> dict[str, Any]:
    """Docker SDK ``containers.create`` keyword arguments for a spec (pure, unit-tested)."""
    workload = spec.workload
    command = ["/bin/sh", "-c", SUBMIT, "spark-submit", f"{JOB_DIR}/{workload.path.name}"]
    entrypoint: list[str] = []
    if spec.hold_until_traced:
        entrypoint = [f"{TOOLS_DIR}/wait-for-tracer"]
    security_opt: list[str] = []
    if spec.mode is SecurityMode.UNCONFINED:
        security_opt.append("seccomp=unconfined")
    elif spec.mode is SecurityMode.LOCALHOST:
        if spec.profile_json is None:
            raise ValueError("localhost mode needs a profile")
        security_opt.append("seccomp=" + spec.profile_json)
    elif spec.profile_json is not None:
        raise ValueError("a profile is only used in localhost mode")
    options: dict[str, Any] = {
        "image": spec.image,
        "command": command,
        "entrypoint": entrypoint,
        "environment": dict(spec.env),
        "labels": {
            OWNER_LABEL: OWNER,
            SESSION_LABEL: SESSION,
            "io.spark-seccomp.run": run_id,
            "io.spark-seccomp.workload": workload.name,
            "io.spark-seccomp.mode": spec.mode.value,
        },
        "volumes": {
            str(workload.path.parent): {"bind": JOB_DIR, "mode": "ro"},
            str(_TOOLS_ON_HOST): {"bind": TOOLS_DIR, "mode": "ro"},
        },
        "working_dir": "/tmp",
        "detach": True,
    }
    if spec.memory_limit:
        options["mem_limit"] = spec.memory_limit
    security = spec.container_security
    if security.user is not None:
        group = security.group if security.group is not None else security.user
        options["user"] = f"{security.user}:{group}"
    if security.cap_drop:
        options["cap_drop"] = list(security.cap_drop)
    if security.cap_add:
        options["cap_add"] = list(security.cap_add)
    if security.no_new_privileges:
        security_opt.append("no-new-privileges:true")
    if security.privileged:
        options["privileged"] = True
    if security.read_only_root:
        options["read_only"] = True
    if security.writable_paths:
        # Kubernetes emptyDir volumes are not noexec; Docker's tmpfs default is, and
        # snappy/zstd load native libraries they unpack into /tmp.
        options["tmpfs"] = {
            path: "rw,exec,nosuid,nodev,size=4g,mode=1777" for path in security.writable_paths
        }
    if not security.network:
        options["network_mode"] = "none"
        # With no network the container's own name resolves nowhere and the JVM dies.
        options["hostname"] = "localhost"
    options["security_opt"] = security_opt
    return options


class DockerBackend(Backend):
    name = "docker"

    def __init__(self, client: Any | None = None) -> None:
        self.client = client or connect()
        self._checked_images: set[str] = set()
        register_cleanup(self.name, "container", lambda: self.cleanup(session_only=True))

    def run(
        self, spec: RunSpec, run_dir: Path | None = None, observer: RunObserver | None = None
    ) -> RunResult:
        from docker.errors import APIError

        observer = observer or RunObserver()
        if spec.image not in self._checked_images:
            require_image(self.client, spec.image)
            self._checked_images.add(spec.image)
        run_id = uuid.uuid4().hex[:12]
        accounting = cgroup.CpuAccounting.create(self.client, run_id)
        options = container_options(spec, run_id)
        if accounting.parent:
            options["cgroup_parent"] = accounting.parent
        container = None
        timed_out = False
        exit_code: int | None = None
        started = time.monotonic()
        try:
            container = _create(self.client, options)
            observer.before_start()
            started = time.monotonic()
            container.start()
            container.reload()
            observer.started(int(container.attrs["State"]["Pid"]))
            exit_code, timed_out = _wait(container, spec.timeout_seconds)
            wall = time.monotonic() - started
            stdout, stderr = _logs(container)
            if exit_code is None and not timed_out:
                stderr += "\ncontainer exited without an exit code"
        except APIError as exc:
            raise EnvironmentProblem(f"Docker engine error: {exc.explanation or exc}") from exc
        finally:
            if container is not None:
                _remove(container)
            observer.finished()
        cpu = accounting.finish()
        result = RunResult(
            spec=spec,
            exit_code=exit_code,
            timed_out=timed_out,
            wall_seconds=wall,
            cpu_seconds=cpu,
            stdout=stdout,
            stderr=stderr,
            result=parse_result_line(stdout),
            run_dir=run_dir,
            container_id=container.id if container is not None else None,
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
        """Run ``argv`` (no entrypoint) under a seccomp mode; (exit code, stdout, stderr).

        The container gets exactly the security settings of a workload run (the options
        come from ``container_options``), so a probe or micro-benchmark sees what a Spark
        job sees. ``mounts`` maps host directories to read-only container paths. The exit
        code is None when the command timed out. The container is always removed.
        """
        from docker.errors import APIError

        if image not in self._checked_images:
            require_image(self.client, image)
            self._checked_images.add(image)
        run_id = uuid.uuid4().hex[:12]
        placeholder = Workload("command", _TOOLS_ON_HOST / "command", "", False)
        spec = RunSpec(
            workload=placeholder,
            mode=mode,
            image=image,
            pod_security=PodSecurity.RESTRICTED,
            profile_json=profile_json if mode is SecurityMode.LOCALHOST else None,
            security=security,
        )
        options = container_options(spec, run_id)
        options["command"] = list(argv)
        options["entrypoint"] = []
        options["volumes"] = {
            str(_TOOLS_ON_HOST): {"bind": TOOLS_DIR, "mode": "ro"},
            **{
                str(host): {"bind": inside, "mode": "ro"} for host, inside in (mounts or {}).items()
            },
        }
        container = None
        try:
            container = _create(self.client, options)
            container.start()
            exit_code, timed_out = _wait(container, timeout_seconds)
            stdout, stderr = _logs(container)
        except APIError as exc:
            raise EnvironmentProblem(f"Docker engine error: {exc.explanation or exc}") from exc
        finally:
            if container is not None:
                _remove(container)
        return (None if timed_out else exit_code), stdout, stderr

    def honours_default_errno(self, image: str) -> bool:
        """Whether the engine passes a profile's ``defaultErrnoRet`` on; cached per engine."""
        from profiler.runtime.engine import engine_versions
        from profiler.seccomp.arch import known_syscalls, native_arch

        versions = engine_versions(self.client)
        key = "-".join(f"{k}={v}" for k, v in sorted(versions.items()))
        known: dict[str, bool] = {}
        with contextlib.suppress(ValueError):
            known = json.loads(read_cached(ERRNO_PROBE_CACHE) or "{}")
        if key not in known:
            require_image(self.client, image)
            errno = probe_default_errno(self, image, sorted(known_syscalls(native_arch())))
            known[key] = errno == 38
            write_cached(ERRNO_PROBE_CACHE, json.dumps(known, indent=2, sort_keys=True) + "\n")
        return known[key]

    def cleanup(self, session_only: bool = False) -> int:
        """Remove the tool's containers: this process's only, or every one (``cleanup``)."""
        label = f"{SESSION_LABEL}={SESSION}" if session_only else f"{OWNER_LABEL}={OWNER}"
        removed = 0
        for container in self.client.containers.list(all=True, filters={"label": label}):
            _remove(container)
            removed += 1
        return removed


def _create(client: Any, options: dict[str, Any]) -> Any:
    from docker.errors import APIError

    try:
        return client.containers.create(**options)
    except APIError as exc:
        raise EnvironmentProblem(
            f"the engine refused the container: {exc.explanation or exc}",
            "check the profile file and the image",
        ) from exc


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
        with contextlib.suppress(NotFound):
            container.remove(force=True)


def write_run_dir(result: RunResult, run_dir: Path) -> None:
    """stdout, stderr and a summary of one run, for reports and for people debugging."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stdout.txt").write_text(result.stdout)
    (run_dir / "stderr.txt").write_text(result.stderr)
    if result.spec.profile_json is not None:
        (run_dir / "profile.json").write_text(result.spec.profile_json)
    summary = {
        "workload": result.spec.workload.name,
        "mode": result.spec.mode.value,
        "pod_security": result.spec.pod_security.value,
        "image": result.spec.image,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "wall_seconds": round(result.wall_seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3) if result.cpu_seconds is not None else None,
        "checksum": result.result.checksum if result.result else None,
        "job_seconds": result.result.job_seconds if result.result else None,
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
