"""Reaching the container engines, with errors that say how to start them.

Docker through its socket; Podman through its Docker-compatible API service, one service
per OCI runtime (the compat API ignores a container's ``Runtime``, so the service's
default runtime is what runs); containerd through ``ctr`` on Docker's own containerd (or a
system one). Images are built on Docker and moved to the others by save and load. Each
function takes where the engine lives (a socket, an ``EngineLocation``) with the host's
engine as the default.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.location import EngineLocation

ENGINES = ("docker", "podman", "containerd")
OCI_RUNTIMES = ("runc", "crun")
# The OCI runtime each engine uses unless told otherwise (Debian's podman runs crun).
DEFAULT_OCI_RUNTIME = {"docker": "runc", "podman": "crun", "containerd": "runc"}
START_HINT = (
    "start a Docker engine (as root: `make engine`, or `apt-get install docker.io && dockerd &`)"
)
PODMAN_SOCKET_DIR = Path("/run/podman")
# Docker's own containerd first (Debian's docker.io starts one when no system containerd
# runs), then a system containerd.
CONTAINERD_SOCKETS = (
    Path("/run/docker/containerd/containerd.sock"),
    Path("/run/containerd/containerd.sock"),
)


def check_engine_choice(engine: str, oci_runtime: str | None) -> tuple[str, str]:
    """(engine, OCI runtime) for ``--runtime`` / ``--oci-runtime``, or ``UsageError``."""
    engine = engine.lower()
    if engine not in ENGINES:
        raise UsageError(f"unknown runtime {engine!r}", "choose docker, podman or containerd")
    runtime = (oci_runtime or DEFAULT_OCI_RUNTIME[engine]).lower()
    if runtime not in OCI_RUNTIMES:
        raise UsageError(f"unknown OCI runtime {runtime!r}", "choose runc or crun")
    return engine, runtime


def connect(socket: Path | None = None) -> Any:
    """A docker SDK client for a reachable engine (the host's unless ``socket`` names
    another), or ``EnvironmentProblem``."""
    import docker
    from docker.errors import DockerException

    try:
        if socket is None:
            client = docker.from_env(timeout=120)
        else:
            client = docker.DockerClient(base_url=f"unix://{socket}", timeout=120)
        client.ping()
    except DockerException as exc:
        raise EnvironmentProblem("no Docker engine is reachable", START_HINT) from exc
    return client


def podman_socket(oci_runtime: str) -> Path:
    """Where the tool's Podman API service for ``oci_runtime`` listens on this host."""
    return PODMAN_SOCKET_DIR / f"spark-seccomp-{oci_runtime}.sock"


def connect_podman(oci_runtime: str, location: EngineLocation | None = None) -> Any:
    """A docker SDK client on Podman's compat API whose containers run ``oci_runtime``;
    the service is started (as root) when it is not running yet."""
    import docker
    from docker.errors import DockerException

    location = location or EngineLocation()
    socket = location.socket or podman_socket(oci_runtime)

    def answering() -> Any | None:
        with contextlib.suppress(DockerException):
            client = docker.DockerClient(base_url=f"unix://{socket}", timeout=120)
            client.ping()
            return client
        return None

    if (client := answering()) is not None:
        return client
    podman = location.command("podman")
    if podman is None or os.geteuid() != 0:
        raise EnvironmentProblem(
            "Podman's API service is not running and cannot be started here",
            "install podman (`make setup` as root does) and run as root",
        )
    socket.parent.mkdir(parents=True, exist_ok=True)
    log = open(f"/var/log/spark-seccomp-podman-{oci_runtime}.log", "ab")  # noqa: SIM115
    # Its own session: the service outlives this process, as dockerd does.
    subprocess.Popen(
        [*podman, "--runtime", oci_runtime, "system", "service", "--time=0", f"unix://{socket}"],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    sys.stderr.write(f"started Podman's API service for {oci_runtime} at {socket}\n")
    for _ in range(60):
        if (client := answering()) is not None:
            return client
        time.sleep(0.5)
    raise EnvironmentProblem(
        f"Podman's API service did not answer at {socket}",
        f"see /var/log/spark-seccomp-podman-{oci_runtime}.log",
    )


# Where containerd keeps a running task's OCI bundle, per namespace: Docker's containerd,
# then a system one.
CONTAINERD_TASK_ROOTS = (
    Path("/run/docker/containerd/daemon/io.containerd.runtime.v2.task"),
    Path("/run/containerd/io.containerd.runtime.v2.task"),
)


def containerd_bundle_configs(
    namespace: str, container_id: str, roots: tuple[Path, ...] = CONTAINERD_TASK_ROOTS
) -> list[Path]:
    """Where containerd may keep the ``config.json`` of a running container."""
    return [root / namespace / container_id / "config.json" for root in roots]


def containerd_socket(candidates: tuple[Path, ...] = CONTAINERD_SOCKETS) -> Path:
    """The first of ``candidates`` that exists."""
    for socket in candidates:
        if socket.exists():
            return socket
    raise EnvironmentProblem(
        "no containerd socket (" + ", ".join(str(s) for s in candidates) + ")",
        "start the Docker engine (its containerd comes with it): `make engine`",
    )


def oci_runtime_binary(name: str, location: EngineLocation | None = None) -> str:
    """The OCI runtime's path as the engine sees it."""
    path = (location or EngineLocation()).binary(name)
    if path is None:
        raise EnvironmentProblem(
            f"the OCI runtime {name} is not installed",
            f"`apt-get install {name}` (or `make setup`)",
        )
    return path


def oci_runtime_version(name: str, location: EngineLocation | None = None) -> str:
    """``"runc 1.1.5"``: the first version line the binary prints."""
    command = (location or EngineLocation()).command(name)
    if command is None:
        return f"{name} unknown"
    try:
        output = subprocess.run(
            [*command, "--version"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return f"{name} unknown"
    return parse_version_line(output) or f"{name} unknown"


def parse_version_line(text: str) -> str | None:
    """``"crun 1.8.1"`` from the first ``NAME version N ...`` line of ``text``, or None."""
    for line in text.splitlines():
        words = line.split()
        if len(words) >= 3 and words[1] == "version":
            return f"{words[0]} {words[2]}"
    return None


def engine_versions(client: Any) -> dict[str, str]:
    """Engine, containerd and runc versions as a Docker-API engine reports them."""
    info = client.version()
    versions = {"engine": str(info.get("Version", "unknown"))}
    for component in info.get("Components", []) or []:
        name = str(component.get("Name", "")).lower()
        if name in ("containerd", "runc"):
            versions[name] = str(component.get("Version", "unknown"))
    return versions


def require_image(client: Any, image: str) -> None:
    from docker.errors import ImageNotFound

    try:
        client.images.get(image)
    except ImageNotFound as exc:
        raise EnvironmentProblem(
            f"image {image} does not exist",
            "build it with `spark-seccomp image build`, or pass --image with a Spark image",
        ) from exc


def move_image_from_docker(image: str, load: list[str], engine: str) -> None:
    """``docker save IMAGE | <load>``: the way images reach engines without a registry."""
    docker_client = connect()
    require_image(docker_client, image)
    sys.stderr.write(f"moving {image} from Docker to {engine} (save and load)\n")
    saver = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
    assert saver.stdout is not None
    loader = subprocess.run(load, stdin=saver.stdout, capture_output=True, text=True)
    saver.stdout.close()
    saved = saver.wait()
    if saved != 0 or loader.returncode != 0:
        said = (loader.stderr.strip().splitlines() or [f"docker save exited {saved}"])[-1]
        raise EnvironmentProblem(
            f"could not move {image} to {engine}: {said}", "free disk space and try again"
        )
