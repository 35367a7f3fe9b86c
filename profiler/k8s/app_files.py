"""Where Spark finds the files a SparkApplication names: the main application file and
``deps`` (jars, files, pyFiles, archives), each in the image, on this machine, or remote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any


@dataclass(frozen=True)
class InImage:
    """A file the image holds (``local://`` or a bare absolute path): the pod finds it there."""

    path: str


@dataclass(frozen=True)
class HostFile:
    """A file on the submitting machine (``file://`` or a path that exists here)."""

    path: Path


@dataclass(frozen=True)
class Remote:
    """A URL Spark fetches (s3a://, https://, hdfs://...): not emulated."""

    url: str


AppFile = InImage | HostFile | Remote


@dataclass(frozen=True)
class Dependency:
    """One entry of ``spec.deps``, and where Spark finds it."""

    kind: str  # "jars", "files", "pyFiles" or "archives"
    uri: str
    location: AppFile


def classify(uri: str, base_dir: Path) -> AppFile:
    """Where Spark finds a file named in the manifest."""
    if uri.startswith("local://"):
        return InImage(str(PurePosixPath("/" + uri[len("local://") :].lstrip("/"))))
    if uri.startswith("file://"):
        return HostFile(Path(uri[len("file://") :]))
    if "://" in uri:
        return Remote(uri)
    candidate = Path(uri)
    if candidate.is_absolute():
        return HostFile(candidate) if candidate.is_file() else InImage(uri)
    for base in (Path.cwd(), base_dir):
        if (base / candidate).is_file():
            return HostFile((base / candidate).resolve())
    return HostFile(candidate)


def dependencies(spec: dict[str, Any], base_dir: Path) -> tuple[Dependency, ...]:
    deps = spec.get("deps") or {}
    found = []
    for kind in ("jars", "files", "pyFiles", "archives"):
        for uri in deps.get(kind) or []:
            found.append(Dependency(kind, uri, classify(uri, base_dir)))
    return tuple(found)
