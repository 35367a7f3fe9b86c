"""Rendering and reading multi-document YAML, with stable bytes on the way out."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from profiler.errors import UsageError

Manifest = dict[str, Any]


class _Dumper(yaml.SafeDumper):
    """Block style everywhere; multi-line strings (profiles, scripts) as literal blocks."""


def _str_representer(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_Dumper.add_representer(str, _str_representer)


def render(documents: Iterable[Manifest]) -> str:
    """Documents joined with ``---``: same input, same bytes (key order is the builder's)."""
    parts = [
        yaml.dump(doc, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=100)
        for doc in documents
    ]
    return "---\n" + "---\n".join(parts)


def load_documents(path: Path) -> list[Any]:
    """Every document of a YAML file (empty ones dropped); a bad file is a usage error."""
    text = read_text(path)
    try:
        return [doc for doc in yaml.safe_load_all(text) if doc is not None]
    except yaml.YAMLError as exc:
        raise UsageError(f"{path}: {yaml_problem(exc)}", "fix the YAML and run again") from None


def read_text(path: Path) -> str:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"{path} does not exist", "pass a path to a YAML manifest")
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}") from None


def yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"invalid YAML{where}: {problem}"
