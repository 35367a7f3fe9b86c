"""Reading a JSON input file within bounds, and turning validation errors into one line.

Bounds, because inputs may be hostile or simply wrong: at most ``MAX_BYTES`` bytes, at
most ``MAX_DEPTH`` levels of nesting (checked on the text, before ``json.loads`` could
raise ``RecursionError``), no number longer than ``MAX_NUMBER_CHARS`` characters (Python
refuses to convert integers of more than 4300 digits with a ``ValueError``; no value in
our formats needs more than the 20 digits of 2**64), no NaN or Infinity (not JSON), no
key given twice in one object (readers disagree on which one wins).

A number out of bounds does not stop parsing: it becomes an ``UnreadableNumber``, which
every model refuses at its place, so the message can say where it is.
"""

from __future__ import annotations

import json
import math
import re
import stat
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from profiler.errors import UsageError

MAX_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 64
MAX_NUMBER_CHARS = 64

Model = TypeVar("Model", bound=BaseModel)

# Whole JSON strings (escapes included), so brackets inside them do not count as nesting.
_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class UnreadableNumber:
    """A number in the file that no field can hold (too long, infinite, NaN)."""

    __slots__ = ("description",)

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return f"UnreadableNumber({self.description!r})"


class _DuplicateKey(Exception):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def read_text(path: Path, source: str, hint: str) -> str:
    """The file's text: a regular file (symlinks followed), at most MAX_BYTES, UTF-8."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise UsageError(f"{source} does not exist", hint) from None
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}", hint) from exc
    if stat.S_ISDIR(info.st_mode):
        raise UsageError(f"{source} is a directory, not a file", hint)
    if not stat.S_ISREG(info.st_mode):
        # Reading a FIFO or a device would block or never end.
        raise UsageError(f"{source} is not a regular file", "give the path of a JSON file")
    if info.st_size > MAX_BYTES:
        raise UsageError(
            f"{source} is {info.st_size} bytes, more than the {MAX_BYTES // (1024 * 1024)} MiB "
            "an input file may have",
            hint,
        )
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}", hint) from exc
    if len(data) > MAX_BYTES:
        raise UsageError(f"{source} grew beyond {MAX_BYTES} bytes while being read", hint)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"{source} is not UTF-8 text (byte {data[exc.start]:#04x} at offset {exc.start})",
            hint,
        ) from exc


def read_json(path: Path, source: str, hint: str) -> Any:
    return parse_json(read_text(path, source, hint), source, hint)


def nesting_depth(text: str) -> int:
    """How deeply arrays and objects nest in JSON ``text`` (brackets in strings ignored)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        if match.group() in "[{":
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def parse_json(text: str, source: str, hint: str) -> Any:
    """Plain JSON values from ``text``, within the module's bounds."""
    if len(text) > MAX_BYTES:
        raise UsageError(f"{source} is longer than {MAX_BYTES} characters", hint)
    # A file cannot nest deeper than it has opening brackets: most need no scan at all.
    if text.count("[") + text.count("{") > MAX_DEPTH and nesting_depth(text) > MAX_DEPTH:
        raise UsageError(
            f"{source} nests arrays or objects more than {MAX_DEPTH} levels deep, "
            "deeper than any file of this kind",
            hint,
        )
    try:
        data = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
            object_pairs_hook=_unique_keys,
        )
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{source} is not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})",
            hint,
        ) from exc
    except _DuplicateKey as exc:
        raise UsageError(
            f"{source}: key {json.dumps(exc.key)} appears twice in one object, and programs "
            "disagree on which one counts",
            "keep one of them",
        ) from exc
    if ("\\ud" in text or "\\uD" in text) and _has_lone_surrogate(data):
        raise UsageError(f"{source} holds a string with an unpaired \\u surrogate escape", hint)
    return data


def _parse_int(text: str) -> int | UnreadableNumber:
    if len(text) > MAX_NUMBER_CHARS:
        return UnreadableNumber(f"a {len(text.lstrip('-'))}-digit number")
    return int(text)


def _parse_float(text: str) -> float | UnreadableNumber:
    if len(text) > MAX_NUMBER_CHARS:
        return UnreadableNumber(f"a {len(text)}-character number")
    value = float(text)
    if not math.isfinite(value):
        return UnreadableNumber(f"{text}, beyond the range of a number")
    return value


def _parse_constant(text: str) -> UnreadableNumber:
    return UnreadableNumber(f"{text}, which is not a JSON number")


def _unique_keys(pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(key)
        result[key] = value
    return result


def _has_lone_surrogate(data: Any) -> bool:
    if isinstance(data, str):
        try:
            data.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(data, dict):
        return any(_has_lone_surrogate(k) or _has_lone_surrogate(v) for k, v in data.items())
    if isinstance(data, list):
        return any(_has_lone_surrogate(v) for v in data)
    return False


# -- validation ------------------------------------------------------------------------------
def validate(
    model: type[Model],
    data: Any,
    source: str,
    hint: str,
    *,
    key_notes: Mapping[str, str] | None = None,
) -> Model:
    """``data`` as ``model``, or a UsageError naming the first problem and where it is.

    ``key_notes`` explains unknown keys that people are known to write (Docker-only keys
    in an OCI profile, for example), keyed by the key.
    """
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(describe_errors(exc, source, key_notes or {}), hint) from exc


def describe_errors(exc: ValidationError, source: str, key_notes: Mapping[str, str]) -> str:
    errors = exc.errors(include_url=False)
    # An unknown key that has a note (Docker's "name" for "names") explains the errors
    # it causes, such as the missing key it was meant to be: it goes first.
    noted = [e for e in errors if e["type"] == "extra_forbidden" and str(e["loc"][-1]) in key_notes]
    first = noted[0] if noted else errors[0]
    # A check over several fields (a model validator) names the place itself.
    where = (first.get("ctx") or {}).get("where") or location(first["loc"])
    message = f"{source}: {where}: {_problem(first, key_notes)}"
    if len(errors) > 1:
        more = len(errors) - 1
        message += f"; {more} more problem{'s' if more > 1 else ''} after this one"
    return message


def location(loc: Sequence[int | str]) -> str:
    """A pydantic error location as a path into the file: ``syscalls[3].args[0].op``."""
    parts: list[str] = []
    for item in loc:
        if item == "[key]":  # the key itself failed validation, not its value
            continue
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif _IDENTIFIER.fullmatch(item):
            parts.append(f".{item}" if parts else item)
        else:
            parts.append(f"[{json.dumps(item)}]")
    return "".join(parts) or "the top level"


def shown(value: Any) -> str:
    """A value as the user wrote it in the file, short enough for one line."""
    if isinstance(value, UnreadableNumber):
        return value.description
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return f"a list of {len(value)}" if value else "an empty list"
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        text = type(value).__name__
    return text if len(text) <= 60 else text[:57] + "..."


_EXPECTED = {
    "a valid integer": "an integer",
    "a valid string": "a string",
    "a valid list": "a list",
    "a valid dictionary": "an object",
    "a valid boolean": "true or false",
    "a valid number": "a number",
}


def _problem(error: Any, key_notes: Mapping[str, str]) -> str:
    kind = error["type"]
    loc = error["loc"]
    value = error.get("input")
    if kind == "missing":
        return "required key is missing"
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else ""
        note = key_notes.get(key)
        return f"unknown key ({note})" if note else "unknown key, not part of this format"
    if kind == "invalid-json-value":
        return f"expected a JSON value, got {shown(value)}"
    message = str(error["msg"])
    if message.startswith("Input should be "):
        expected = message[len("Input should be ") :]
        if expected.startswith("a valid dictionary"):
            expected = "a valid dictionary"
        expected = _EXPECTED.get(expected, expected)
        if kind == "literal_error" and " or " in expected:
            expected = f"one of {expected}"
        return f"expected {expected}, got {shown(value)}"
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    message = f"{message[:1].lower()}{message[1:]}"
    return f"the key is not valid: {message}" if loc and loc[-1] == "[key]" else message
