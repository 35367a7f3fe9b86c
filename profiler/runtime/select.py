"""Choosing the backend: an engine (Docker, Podman, containerd) with an OCI runtime, or
the local backend when no engine is reachable."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.engine import ENGINES, check_engine_choice
from profiler.runtime.interface import Backend, ContainerEngine
from profiler.runtime.run_shape import DOCKER_RUNC, EngineChoice

__all__ = [
    "BACKENDS",
    "EngineChoice",  # re-exported: where the engine choice has always been found
    "cleanup_everywhere",
    "make_backend",
    "make_engine",
    "parse_engine_choices",
]

BACKENDS = ("auto", "docker", "local")


def parse_engine_choices(runtimes: str | None, oci_runtimes: str | None) -> list[EngineChoice]:
    """Every pair of the comma-separated ``--runtime`` and ``--oci-runtime`` lists, in order
    (no ``--oci-runtime``: each engine's own default)."""
    engines = [e.strip() for e in (runtimes or "docker").split(",") if e.strip()]
    oci: list[str | None] = [o.strip() for o in (oci_runtimes or "").split(",") if o.strip()]
    if not engines:
        raise UsageError("--runtime names no engine", f"choose from {', '.join(ENGINES)}")
    choices = [EngineChoice(*check_engine_choice(e, o)) for e in engines for o in oci or [None]]
    return list(dict.fromkeys(choices))


def make_engine(choice: EngineChoice) -> ContainerEngine:
    if choice.engine == "podman":
        from profiler.runtime.podman import PodmanBackend

        return PodmanBackend(oci_runtime=choice.oci_runtime)
    if choice.engine == "containerd":
        from profiler.runtime.containerd import ContainerdBackend

        return ContainerdBackend(oci_runtime=choice.oci_runtime)
    from profiler.runtime.docker import DockerBackend

    return DockerBackend(oci_runtime=choice.oci_runtime)


def make_backend(
    choice: str,
    note: Callable[[str], None],
    *,
    runtime_default: Path | None = None,
    engine: EngineChoice | None = None,
) -> Backend:
    """The backend for ``--backend`` (and ``--runtime``); ``auto`` says which it picked
    and why.

    ``runtime_default`` is the reference profile the local backend enforces for
    runtime-default (an engine's comes from the engine itself). ``engine`` other than
    Docker with runc makes the backend that engine's, whatever ``--backend`` says but local.
    """
    from profiler.runtime.local import LocalBackend

    choice = choice.lower()
    if choice not in BACKENDS:
        raise UsageError(f"unknown backend {choice!r}", "choose auto, docker or local")
    engine = engine or DOCKER_RUNC
    if choice == "local":
        if engine != DOCKER_RUNC:
            raise UsageError(
                "--backend local runs no engine", "drop --runtime/--oci-runtime, or --backend"
            )
        return LocalBackend(runtime_default=runtime_default, note=note)
    if choice == "docker" or engine != DOCKER_RUNC:
        return make_engine(engine)
    from profiler.runtime.docker import DockerBackend
    from profiler.runtime.engine import connect

    try:
        client = connect()
    except EnvironmentProblem as exc:
        note(
            f"backend: local (host processes under the same seccomp profiles), because "
            f"{exc.message}"
        )
        return LocalBackend(runtime_default=runtime_default, note=note)
    note("backend: docker (an engine is reachable)")
    return DockerBackend(client)


def cleanup_everywhere() -> dict[str, int | str]:
    """Remove what the tool left on every engine that answers here: engine -> how many
    were removed, or why the engine was skipped. Podman's API service is not started for
    this (its containers share one store, so any running service sees them all)."""
    from profiler.runtime.engine import CONTAINERD_SOCKETS, PODMAN_SOCKET_DIR

    choices = [DOCKER_RUNC]
    services = sorted(PODMAN_SOCKET_DIR.glob("spark-seccomp-*.sock"))
    if services:
        runtime = services[0].name.removeprefix("spark-seccomp-").removesuffix(".sock")
        choices.append(EngineChoice("podman", runtime))
    if any(socket.exists() for socket in CONTAINERD_SOCKETS):
        choices.append(EngineChoice("containerd", "runc"))
    removed: dict[str, int | str] = {}
    for choice in choices:
        try:
            removed[choice.engine] = make_engine(choice).cleanup()
        except EnvironmentProblem as exc:
            removed[choice.engine] = exc.message
    return removed
