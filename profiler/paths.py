"""Where the tool finds its bundled data and keeps its caches and run directories."""

from __future__ import annotations

import contextlib
import os
from datetime import datetime, timezone
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def data_dir(name: str) -> Path:
    """A bundled top-level folder (``workloads``, ``profiles``): in the wheel or the checkout."""
    bundled = _PACKAGE / "_data" / name
    if bundled.is_dir():
        return bundled
    return _PACKAGE.parent / name


def cache_dir() -> Path:
    """Downloaded wheels and rootfs tarballs, kept between image builds."""
    explicit = os.environ.get("SPARK_SECCOMP_CACHE")
    if explicit:
        return Path(explicit)
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg) if xdg else Path.home() / ".cache") / "spark-seccomp"


def runs_dir() -> Path:
    """Default parent of run directories (stdout, stderr, results of each container run)."""
    return Path(os.environ.get("SPARK_SECCOMP_RUNS", "runs"))


def run_folder(kind: str, given: Path | None = None) -> Path:
    """The run folder of a command: ``given`` (``--run-dir``), else
    ``runs/<kind>-<UTC time>`` ("check-20261205T120000Z")."""
    if given is not None:
        return Path(given)
    return runs_dir() / f"{kind}-{datetime.now(timezone.utc):%Y%m%dT%H%M%SZ}"


def slug(name: str) -> str:
    """A folder name for an image reference or an engine label
    (``spark-seccomp/spark:4.3.0`` -> ``spark-seccomp-spark-4.3.0``)."""
    return "".join(c if c.isalnum() or c in "._-" else "-" for c in name).strip("-")


def read_cached(name: str) -> str | None:
    """A cached result (engine probes), or None when it was never written or is unreadable."""
    path = cache_dir() / name
    with contextlib.suppress(OSError, UnicodeDecodeError):
        return path.read_text(encoding="utf-8")
    return None


def write_cached(name: str, text: str) -> None:
    """Keep a result for next time; a cache that cannot be written only costs a re-probe."""
    path = cache_dir() / name
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
