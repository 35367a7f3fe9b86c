"""Connecting to the Docker engine, with errors that say how to start one."""

from __future__ import annotations

from typing import Any

from profiler.errors import EnvironmentProblem

START_HINT = (
    "start a Docker engine (as root: `make engine`, or `apt-get install docker.io && dockerd &`)"
)


def connect() -> Any:
    """A docker SDK client for a reachable engine, or ``EnvironmentProblem``."""
    import docker
    from docker.errors import DockerException

    try:
        client = docker.from_env(timeout=120)
        client.ping()
    except DockerException as exc:
        raise EnvironmentProblem("no Docker engine is reachable", START_HINT) from exc
    return client


def engine_versions(client: Any) -> dict[str, str]:
    """Engine, containerd and runc versions as the engine reports them."""
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
