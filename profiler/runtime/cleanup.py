"""What to clean up when the tool is interrupted: backends register here as they are made.

Each backend's ``finally`` blocks remove its own containers while a KeyboardInterrupt
unwinds; the registry is the safety net after that, and it lets the CLI say how many it
found still there without importing the Docker SDK when no Docker backend was made.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Registered:
    name: str  # the backend, e.g. "docker"
    what: str  # what ``remove`` counts, singular: "container", "process group"
    remove: Callable[[], int]  # removes what this process left; returns how many


@dataclass(frozen=True)
class CleanupResult:
    registered: Registered
    removed: int | None  # None when the cleanup itself failed
    error: str = ""


_registry: list[Registered] = []


def register_cleanup(name: str, what: str, remove: Callable[[], int]) -> None:
    """Called by a backend when it is made; ``remove`` must only touch what this process
    started (Docker: the containers labelled with this process's session)."""
    _registry.append(Registered(name, what, remove))


def registered() -> tuple[Registered, ...]:
    return tuple(_registry)


def run_cleanups() -> tuple[CleanupResult, ...]:
    """Run every registered cleanup once; a failing one does not stop the others."""
    results = []
    for entry in _registry:
        try:
            results.append(CleanupResult(entry, entry.remove()))
        except Exception as exc:  # noqa: BLE001 - the engine may be gone; say so, go on
            results.append(CleanupResult(entry, None, f"{type(exc).__name__}: {exc}"))
    return tuple(results)


def clear() -> None:
    """Forget every registration (tests, and a CLI run that starts afresh)."""
    _registry.clear()
