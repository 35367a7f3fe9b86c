"""Reaching the container engines, with errors that say how to start them.

Docker through its socket; Podman through its Docker-compatible API service, one service
per OCI runtime (the compat API ignores a container's ``Runtime``, so the service's
default runtime is what runs); containerd through its CRI (``profiler.runtime.cri``, on a
containerd of the tool's own). Images are built on Docker and moved to the others by save
and load. Each
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
from profiler.vocabulary import Engine, OciRuntime

# The OCI runtime each engine uses unless told otherwise (Debian's podman runs crun).
DEFAULT_OCI_RUNTIME = {
    Engine.DOCKER: OciRuntime.RUNC,
    Engine.PODMAN: OciRuntime.CRUN,
    Engine.CONTAINERD: OciRuntime.RUNC,
}
START_HINT = (
    "start a Docker engine (as root: `make engine`, or `apt-get install docker.io && dockerd &`)"
)
PODMAN_SOCKET_DIR = Path("/run/podman")


def docker_reference(image: str) -> str:
    """Docker's full name of an image reference, as ``ctr images import`` and Podman 5's
    compat API name what Docker saved: docker.io/NAME, docker.io/library/NAME for a
    one-part name; a name with a registry (or localhost/) stays as it is."""
    first = image.split("/", 1)[0]
    if "/" in image and ("." in first or ":" in first or first == "localhost"):
        return image
    return f"docker.io/{image}" if "/" in image else f"docker.io/library/{image}"


def check_engine_choice(
    engine: str | Engine, oci_runtime: str | OciRuntime | None
) -> tuple[str, str]:
    """(engine, OCI runtime) for ``--runtime`` / ``--oci-runtime``, or ``UsageError``
    (the command line parses both as enums; this holds for callers of the library)."""
    try:
        chosen = Engine(str(engine).lower())
    except ValueError:
        raise UsageError(f"unknown runtime {engine!r}", f"choose {Engine.names()}") from None
    try:
        runtime = OciRuntime(str(oci_runtime).lower()) if oci_runtime else None
    except ValueError:
        raise UsageError(
            f"unknown OCI runtime {oci_runtime!r}", f"choose {OciRuntime.names()}"
        ) from None
    return chosen.value, (runtime or DEFAULT_OCI_RUNTIME[chosen]).value


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
    log_path = Path(f"/var/log/spark-seccomp-podman-{oci_runtime}{location.suffix}.log")
    log = open(log_path, "ab")  # noqa: SIM115
    # Its own session: the service outlives this process, as dockerd does. It listens
    # where the host finds the socket, as the engine sees that path (in a node: through
    # the host's tree).
    subprocess.Popen(
        [
            *podman,
            "--runtime",
            oci_runtime,
            "system",
            "service",
            "--time=0",
            f"unix://{location.engine_path(socket)}",
        ],
        stdout=log,
        stderr=log,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
    )
    sys.stderr.write(
        f"started Podman's API service for {oci_runtime}{location.suffix} at {socket}\n"
    )
    for _ in range(60):
        if (client := answering()) is not None:
            return client
        time.sleep(0.5)
    raise EnvironmentProblem(
        f"Podman's API service did not answer at {socket}",
        f"see {log_path}",
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


def docker_image_id(image: str) -> str | None:
    """Docker's id of ``image`` (``sha256:...``) when a Docker engine answers here and has
    it (the images are built there), so an engine holding an older build gets the new one;
    None otherwise."""
    with contextlib.suppress(Exception):
        return str(connect().images.get(image).id)
    return None


def same_image(one: str | None, other: str | None) -> bool:
    """Whether two engines' ids name one image: ``docker save`` keeps the config, whose
    digest is the id; one engine may leave out the ``sha256:`` prefix."""
    if one is None or other is None:
        return False
    return one.removeprefix("sha256:") == other.removeprefix("sha256:")


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
