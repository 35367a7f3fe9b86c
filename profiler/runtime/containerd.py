"""The containerd engine through ``ctr``, on Docker's own containerd (or a system one).

containerd's default seccomp profile (``ctr run --seccomp``) is the one its CRI plugin
applies as RuntimeDefault on EKS, GKE and AKS nodes. Without CNI, ``ctr`` gives a
container a network namespace with loopback only, so this engine runs the local topology
(one container, a local master) and says so when asked for pods.

What ``ctr`` cannot do, and how this adapter stands in: it has no ``--user`` (the image's
USER, 185 in Spark's images, is the pod's user; another user is refused), no ``--cap-drop
ALL`` (each capability of containerd's default set, read from ``ctr oci spec``, is
dropped), and no hostname (the host's name is mapped to 127.0.0.1 in the container's
/etc/hosts, as Docker's ``localhost`` container resolves its own name). A container is one
attached ``ctr run --rm``, its output going to files: it is created when that command line
is made and started when the command runs and its task's pid file appears. Containers live
in the tool's own namespace; their ids carry this process's pid and session, so
``cleanup`` and the next adapter's sweep find what a crash left.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket as socketlib
import subprocess
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.adapter import EngineAdapter
from profiler.runtime.engine import (
    CONTAINERD_SOCKETS,
    CONTAINERD_TASK_ROOTS,
    connect,
    containerd_bundle_configs,
    containerd_socket,
    move_image_from_docker,
    oci_runtime_binary,
    oci_runtime_version,
)
from profiler.runtime.interface import SecurityMode
from profiler.runtime.location import EngineLocation
from profiler.runtime.ownership import SESSION
from profiler.runtime.primitives import ContainerState, PodSite, StartRefused
from profiler.runtime.shape import ContainerShape

NAMESPACE = "spark-seccomp"
ID_PREFIX = "spark-seccomp"
# How long ``ctr run`` may take before its task's pid file appears.
START_SECONDS = 60.0


@dataclass(frozen=True)
class _ImageConfig:
    image_id: str
    labels: tuple[tuple[str, str], ...]
    entrypoint: tuple[str, ...]
    user: str


@dataclass
class CtrContainer:
    """One ``ctr run``: its command line, files and, once started, its process."""

    container_id: str
    argv: list[str]
    scratch: Path
    process: subprocess.Popen[bytes] | None = None
    outputs: tuple[IO[bytes], IO[bytes]] | None = None

    @property
    def pid_file(self) -> Path:
        return self.scratch / "pid"


class ContainerdBackend(EngineAdapter):
    name = "containerd"
    engine_title = "containerd"
    runs_pods = False
    no_pods_reason = "ctr has no pod network without CNI"
    holds_for_tracer = False

    def __init__(
        self, *, oci_runtime: str = "runc", location: EngineLocation | None = None
    ) -> None:
        location = location or EngineLocation()
        ctr = location.command("ctr")
        if ctr is None:
            raise EnvironmentProblem("ctr is not installed", "`apt-get install containerd`")
        socket = location.socket or containerd_socket(CONTAINERD_SOCKETS)
        self.ctr = [*ctr, "--address", str(socket), "--namespace", NAMESPACE]
        self.runtime_binary = oci_runtime_binary(oci_runtime, location)
        self._image_configs: dict[str, _ImageConfig] = {}
        self._default_caps: tuple[str, ...] | None = None
        super().__init__(oci_runtime=oci_runtime, location=location)
        self.sweep_orphans()

    # -- what the engine is ----------------------------------------------------------
    def versions(self) -> dict[str, str]:
        output = self._ctr("version").stdout
        server = output.split("Server:", 1)[-1]
        version = next(
            (line.split()[-1] for line in server.splitlines() if "Version:" in line), "unknown"
        )
        return {
            "engine": f"containerd {version}",
            "containerd": version,
            "oci_runtime": oci_runtime_version(self.oci_runtime, self.location),
        }

    def cgroup_driver(self) -> str:
        return "cgroupfs"  # ctr places containers at the raw cgroup path it is given

    def bundle_configs(self, container_id: str) -> list[Path]:
        roots = self.location.bundle_roots or CONTAINERD_TASK_ROOTS
        return containerd_bundle_configs(NAMESPACE, container_id, roots)

    def make_image_available(self, image: str) -> None:
        reference = containerd_reference(image)
        listed = self._ctr("images", "ls", "-q").stdout.split()
        if reference not in listed:
            move_image_from_docker(image, [*self.ctr, "images", "import", "-"], "containerd")

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

    # -- primitives ------------------------------------------------------------------
    def create_network(self, run_id: str) -> Any:
        raise EnvironmentProblem(f"containerd (ctr) has no pod network: {self.no_pods_reason}")

    def remove_network(self, network: Any) -> None:
        return None

    def open_pod(self, network: Any | None, pod: Any) -> PodSite:
        return PodSite()

    def create(self, shape: ContainerShape, site: PodSite, scratch: Path) -> CtrContainer:
        scratch.mkdir(parents=True, exist_ok=True)
        container_id = f"{ID_PREFIX}-{os.getpid()}-{SESSION}-{uuid.uuid4().hex[:12]}"
        argv = self.ctr_run_args(shape, container_id, scratch)
        return CtrContainer(container_id, argv, scratch)

    def start(self, container: Any) -> None:
        assert isinstance(container, CtrContainer)
        out = open(container.scratch / "stdout", "wb")  # noqa: SIM115 - closed on remove
        err = open(container.scratch / "stderr", "wb")  # noqa: SIM115
        container.outputs = (out, err)
        # Its own session: Ctrl-C reaches this process, which stops the task itself.
        container.process = subprocess.Popen(
            container.argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True
        )
        if self._pid(container, wait=START_SECONDS) is not None:
            return
        if container.process.poll() is None:
            self.kill(container)
            raise EnvironmentProblem(
                f"ctr run did not start its task within {START_SECONDS:.0f} s",
                "check that containerd answers (`ctr version`)",
            )
        stderr = (container.scratch / "stderr").read_text(errors="replace")
        if "OCI runtime" in stderr:
            said = (stderr.strip().splitlines() or ["the OCI runtime failed"])[-1][:300]
            raise StartRefused(said)
        # Anything else that ends ``ctr run`` before its task runs is the container's exit.

    def state(self, container: Any) -> ContainerState:
        process = container.process
        if process is None:
            return ContainerState(exited=False)
        code = process.poll()
        return ContainerState(exited=code is not None, exit_code=code)

    def wait(self, container: Any, timeout: float) -> int | None:
        process = container.process
        if process is None:
            return None
        try:
            return process.wait(timeout=max(0.0, timeout))
        except subprocess.TimeoutExpired:
            return None

    def logs(self, container: Any) -> tuple[str, str]:
        def read(name: str) -> str:
            with contextlib.suppress(OSError):
                return (container.scratch / name).read_text(errors="replace")
            return ""

        return read("stdout"), read("stderr")

    def host_pid(self, container: Any) -> int:
        pid = self._pid(container, wait=0.0)
        if pid is None:
            raise EnvironmentProblem(f"containerd task {container.container_id} has no pid")
        return pid

    def container_id(self, container: Any) -> str:
        return str(container.container_id)

    def kill(self, container: Any) -> None:
        self._ctr("task", "kill", "--signal", "SIGKILL", container.container_id, check=False)

    def stop(self, container: Any, grace_seconds: float) -> None:
        self._ctr("task", "kill", "--signal", "SIGTERM", container.container_id, check=False)
        if self.wait(container, grace_seconds) is None:
            self.kill(container)

    def remove(self, container: Any) -> None:
        process = container.process
        if process is not None and process.poll() is None:
            self.kill(container)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=30)
            if process.poll() is None:
                process.kill()
                process.wait()
        self._remove(container.container_id)
        for output in container.outputs or ():
            output.close()
        container.outputs = None

    # -- the ctr command line ----------------------------------------------------------
    def ctr_run_args(self, shape: ContainerShape, container_id: str, scratch: Path) -> list[str]:
        """The ``ctr run`` command line for one container (files it needs go to ``scratch``)."""
        if shape.user is not None:
            wanted = shape.user_spec
            image_user = self._image_config(shape.image).user
            if (
                wanted not in (image_user, image_user.split(":")[0])
                and str(shape.user) != image_user.split(":")[0]
            ):
                raise UsageError(
                    f"containerd (ctr) runs {shape.image} as its own user {image_user}, "
                    f"not {wanted}",
                    "use an image whose USER is the pod's user, or another --runtime",
                )
        hosts = scratch / "hosts"
        hosts.write_text(f"127.0.0.1\tlocalhost {socketlib.gethostname()}\n::1\tlocalhost\n")
        # Paths as containerd sees them (under its rootfs when it runs in one).
        where = self.location.engine_path
        args = [*self.ctr, "run", "--rm", "--pid-file", where(scratch / "pid")]
        if shape.pod.cgroup_parent:
            args += ["--cgroup", f"{shape.pod.cgroup_parent}/{container_id}"]
        if self.oci_runtime != "runc":
            args += ["--runc-binary", self.runtime_binary]
        if shape.seccomp_mode is not SecurityMode.UNCONFINED:
            args.append("--seccomp")
        if shape.seccomp_mode is SecurityMode.LOCALHOST:
            assert shape.seccomp_profile is not None  # container_shape checked it
            profile = scratch / "seccomp.json"
            profile.write_text(shape.seccomp_profile)
            args += ["--seccomp-profile", where(profile)]
        dropped: Sequence[str] = (
            self._caps() if "ALL" in shape.cap_drop else [_cap(c) for c in shape.cap_drop]
        )
        for cap in dropped:
            args += ["--cap-drop", cap]
        for cap in shape.cap_add:
            args += ["--cap-add", _cap(cap)]
        if not shape.no_new_privileges:
            args.append("--allow-new-privs")
        if shape.read_only_root:
            args.append("--read-only")
        if shape.privileged:
            args.append("--privileged")
        if shape.memory_bytes is not None:
            args += ["--memory-limit", str(shape.memory_bytes)]
        binds = [(b.source, b.target, b.read_only) for b in shape.binds]
        binds.append((str(hosts), "/etc/hosts", True))
        for host, inside, read_only in sorted(binds, key=lambda b: b[1]):
            args += [
                "--mount",
                f"type=bind,src={where(host)},dst={inside},"
                f"options=rbind:{'ro' if read_only else 'rw'}",
            ]
        # runc gives a tmpfs the mode of the directory it creates for it (0755, root's),
        # so the pod's user owns it as on Docker (an emptyDir is the pod user's to write).
        for tmpfs in shape.tmpfs:
            options = ":".join(tmpfs.options())
            args += ["--mount", f"type=tmpfs,src=tmpfs,dst={tmpfs.path},options={options}"]
        for key, value in shape.env:
            args += ["--env", f"{key}={value}"]
        entrypoint = self._image_config(shape.image).entrypoint
        return [*args, containerd_reference(shape.image), container_id, *entrypoint, *shape.args]

    def _pid(self, container: CtrContainer, *, wait: float) -> int | None:
        """The task's pid once ``ctr run`` wrote it (waiting up to ``wait`` seconds), or
        None when the command ended first."""
        deadline = time.monotonic() + wait
        while True:
            with contextlib.suppress(OSError, ValueError):
                text = container.pid_file.read_text().strip()
                if text:
                    return int(text)
            if container.process is None or container.process.poll() is not None:
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.01)

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


def _cap(name: str) -> str:
    name = name.upper()
    return name if name.startswith("CAP_") else f"CAP_{name}"
