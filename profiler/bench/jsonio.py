"""Reading and writing the JSON files of benchmarks and reports: deterministic and strict.

Floats are rounded so the same numbers give the same bytes; readers name the file and the
key path when something is missing or of the wrong type, because these files are written
by one command and read by another, possibly from a different version.
"""

from __future__ import annotations

import json
from typing import Any

from profiler.errors import UsageError

DIGITS = 6  # floats in JSON are rounded to this many decimals


def round_float(value: float | None) -> float | None:
    if value is None:
        return None
    return round(float(value), DIGITS) + 0.0  # + 0.0: no "-0.0" in the output


def parse_json(text: str, source: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source} is not valid JSON (line {exc.lineno}: {exc.msg})",
            "regenerate it with the command that wrote it",
        ) from exc


class JsonReader:
    """Typed access to parsed JSON that names the file and the key path when it is wrong."""

    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, where: str, what: str) -> UsageError:
        where = where.lstrip(".")
        place = f"{self.source}: {where}" if where else self.source
        return UsageError(f"{place} {what}", "regenerate it with the command that wrote it")

    def object(self, raw: Any, where: str) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise self.fail(where, "must be an object")
        return raw

    def items(self, top: dict[str, Any], key: str) -> list[tuple[str, dict[str, Any]]]:
        raw = top.get(key) or []
        if not isinstance(raw, list):
            raise self.fail(key, "must be a list")
        return [(f"{key}[{i}]", self.object(item, f"{key}[{i}]")) for i, item in enumerate(raw)]

    def strings(self, top: dict[str, Any], key: str) -> tuple[str, ...]:
        raw = top.get(key) or []
        if not isinstance(raw, list) or not all(isinstance(x, str) for x in raw):
            raise self.fail(key, "must be a list of strings")
        return tuple(raw)

    def optional_string(self, obj: dict[str, Any], key: str) -> str | None:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise self.fail(key, "must be a string")
        return value

    def string(self, obj: dict[str, Any], key: str, where: str) -> str:
        value = obj.get(key)
        if not isinstance(value, str):
            raise self.fail(f"{where}.{key}", "must be a string")
        return value

    def integer(self, obj: dict[str, Any], key: str, where: str) -> int:
        value = obj.get(key)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be an integer")
        return value

    def number(self, obj: dict[str, Any], key: str, where: str) -> float:
        value = obj.get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise self.fail(f"{where}.{key}", "must be a number")
        return float(value)

    def optional_number(self, obj: dict[str, Any], key: str, where: str) -> float | None:
        return None if obj.get(key) is None else self.number(obj, key, where)
