"""The workload catalogue and user scripts: resolving names, and reading a job's result line.

A workload is a PySpark script. Catalogue workloads live in ``workloads/`` and check their
own result; any user script works too. A job reports through one JSON line on stdout,
``{"workload": ..., "checksum": ..., "job_seconds": ...}``; its exit code says whether it ran.
"""

from __future__ import annotations

import ast
import json
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import UsageError
from profiler.paths import data_dir


@dataclass(frozen=True)
class Workload:
    name: str
    path: Path  # the script on the host
    description: str
    in_catalogue: bool


@dataclass(frozen=True)
class WorkloadResult:
    """The machine-readable line a job printed."""

    workload: str
    checksum: str | None
    job_seconds: float | None


def catalogue_dir() -> Path:
    return data_dir("workloads")


def catalogue() -> list[Workload]:
    """Every catalogue workload, sorted by name."""
    found = []
    for path in sorted(catalogue_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        found.append(Workload(path.stem, path, _describe(path), True))
    return found


def resolve(name_or_path: str) -> Workload:
    """A catalogue name, or a path to the user's own PySpark script."""
    by_name = {w.name: w for w in catalogue()}
    if name_or_path in by_name:
        return by_name[name_or_path]
    candidate = Path(name_or_path)
    if candidate.suffix == ".py" or "/" in name_or_path:
        if not candidate.is_file():
            raise UsageError(
                f"script {name_or_path} does not exist",
                "give a path to a PySpark .py file or a catalogue name",
            )
        try:
            candidate.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read script {name_or_path}: {exc.strerror}") from exc
        resolved = candidate.resolve()
        return Workload(resolved.stem, resolved, _describe(resolved), False)
    raise UsageError(
        f"unknown workload {name_or_path!r}",
        "run `spark-seccomp workloads list` for the catalogue, or give a path to a .py script",
    )


def resolve_all(names: list[str]) -> list[Workload]:
    """Names given on the command line; none means the whole catalogue."""
    if not names:
        return catalogue()
    workloads = [resolve(n) for n in names]
    seen: set[str] = set()
    for w in workloads:
        if w.name in seen:
            raise UsageError(f"workload {w.name!r} given twice", "name each workload once")
        seen.add(w.name)
    return workloads


def parse_result_line(stdout: str) -> WorkloadResult | None:
    """The last JSON object line with a ``workload`` key, if the job printed one."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "workload" in data:
            seconds = data.get("job_seconds")
            return WorkloadResult(
                workload=str(data["workload"]),
                checksum=str(data["checksum"]) if data.get("checksum") is not None else None,
                job_seconds=float(seconds) if isinstance(seconds, int | float) else None,
            )
    return None


def _describe(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return ""
    return doc.strip().splitlines()[0] if doc else ""
