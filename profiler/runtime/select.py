"""Choosing the backend: Docker when an engine is reachable, else the local backend."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime.interface import Backend

BACKENDS = ("auto", "docker", "local")


def make_backend(
    choice: str, note: Callable[[str], None], *, runtime_default: Path | None = None
) -> Backend:
    """The backend for ``--backend``; ``auto`` says which it picked and why.

    ``runtime_default`` is the reference profile the local backend enforces for
    runtime-default (Docker's comes from the engine itself).
    """
    from profiler.runtime.local import LocalBackend

    choice = choice.lower()
    if choice not in BACKENDS:
        raise UsageError(f"unknown backend {choice!r}", "choose auto, docker or local")
    if choice == "local":
        return LocalBackend(runtime_default=runtime_default, note=note)
    from profiler.runtime.docker import DockerBackend
    from profiler.runtime.engine import connect

    if choice == "docker":
        return DockerBackend()
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
