"""The Localhost profiles of a run, loaded from files: a union profile and its roles'.

``record`` writes ``NAME.json`` for every container and ``NAME.driver.json`` /
``NAME.executor.json`` beside it for the driver and executor pods; whoever runs them
(check, bench, the demo) loads all three as one ``ProfileSet``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from profiler.runtime.interface import LabelledProfile, ProfileSet
from profiler.seccomp.profile import read_profile, role_profile_path


def load_profile_set(
    union: Path,
    *,
    driver: Path | None = None,
    executor: Path | None = None,
    allow_unknown: bool = False,
    warn: Callable[[str], None] = lambda _w: None,
) -> ProfileSet:
    """A union profile and its roles' profiles: those given, else ``NAME.driver.json`` and
    ``NAME.executor.json`` when they lie beside ``NAME.json`` (as ``record`` writes them).
    Each is validated (``read_profile``); ``warn`` gets the warning of kept unknown names."""

    def load(path: Path) -> LabelledProfile:
        loaded = read_profile(path, allow_unknown=allow_unknown)
        if (warning := loaded.warning()) is not None:
            warn(warning)
        return LabelledProfile(loaded.text, str(path))

    roles: dict[str, LabelledProfile | None] = {}
    for role, given in (("driver", driver), ("executor", executor)):
        if given is not None:
            roles[role] = load(given)
        else:
            beside = role_profile_path(union, role)
            roles[role] = load(beside) if beside.is_file() else None
    return ProfileSet(load(union), driver=roles["driver"], executor=roles["executor"])
