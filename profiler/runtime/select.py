"""Choosing the backend: an engine (Docker, Podman, containerd) with an OCI runtime, or
the local backend when no engine is reachable."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.engine import check_engine_choice
from profiler.runtime.interface import Backend, ContainerEngine
from profiler.runtime.run_shape import DOCKER_RUNC, EngineChoice
from profiler.vocabulary import BackendName, Engine

__all__ = [
    "EngineChoice",  # re-exported: where the engine choice has always been found
    "cleanup_everywhere",
    "make_backend",
    "make_engine",
    "parse_engine_choices",
]


def parse_engine_choices(
    runtimes: Sequence[str] | str | None, oci_runtimes: Sequence[str] | str | None
) -> list[EngineChoice]:
    """Every pair of the ``--runtime`` and ``--oci-runtime`` values, in order (no
    ``--oci-runtime``: each engine's own default). Each is a sequence (as the command line
    parses them) or a comma-separated string."""
    engines = _items(runtimes) if runtimes is not None else [Engine.DOCKER.value]
    if not engines:
        raise UsageError("--runtime names no engine", f"choose from {Engine.names()}")
    oci: list[str | None] = list(_items(oci_runtimes)) or [None]
    choices = [EngineChoice(*check_engine_choice(e, o)) for e in engines for o in oci]
    return list(dict.fromkeys(choices))


def _items(values: Sequence[str] | str | None) -> list[str]:
    if values is None:
        return []
    parts = values.split(",") if isinstance(values, str) else [str(v) for v in values]
    return [p.strip() for p in parts if p.strip()]


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
    choice: BackendName | str,
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

    try:
        chosen = BackendName(str(choice).lower())
    except ValueError:
        raise UsageError(f"unknown backend {choice!r}", f"choose {BackendName.names()}") from None
    engine = engine or DOCKER_RUNC
    if chosen is BackendName.LOCAL:
        if engine != DOCKER_RUNC:
            raise UsageError(
                "--backend local runs no engine", "drop --runtime/--oci-runtime, or --backend"
            )
        return LocalBackend(runtime_default=runtime_default, note=note)
    if chosen is BackendName.DOCKER or engine != DOCKER_RUNC:
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
    from profiler.runtime.cri.node import default_socket
    from profiler.runtime.engine import PODMAN_SOCKET_DIR

    choices = [DOCKER_RUNC]
    services = sorted(PODMAN_SOCKET_DIR.glob("spark-seccomp-*.sock"))
    if services:
        runtime = services[0].name.removeprefix("spark-seccomp-").removesuffix(".sock")
        choices.append(EngineChoice("podman", runtime))
    if default_socket().exists():
        # The tool's containerd runs (so the backend does not start it just to clean up).
        choices.append(EngineChoice("containerd", "runc"))
    removed: dict[str, int | str] = {}
    for choice in choices:
        try:
            removed[choice.engine] = make_engine(choice).cleanup()
        except EnvironmentProblem as exc:
            removed[choice.engine] = exc.message
    return removed
