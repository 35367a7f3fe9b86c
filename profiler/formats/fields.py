"""Field types shared by the formats: exact integers in a range, syscall and arch names.

Each type validates on its own (pydantic's ``PlainValidator``) so its message says what a
person should write, e.g. ``expected an errno number from 0 to 4294967295 (unsigned
32-bit), got "38"; numbers are written in decimal, without quotes``, instead of a generic
"valid integer".
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator
from pydantic_core import PydanticCustomError

from profiler.errors import UsageError
from profiler.formats.jsonfile import shown
from profiler.seccomp import arch as arch_lib

UINT32_MAX = 2**32 - 1
UINT64_MAX = 2**64 - 1
INT64_MAX = 2**63 - 1

# Syntax only: whether a name exists is libseccomp's answer (``profiler.seccomp.arch``).
_SYSCALL_NAME = re.compile(r"[a-z_][a-z0-9_]{0,63}")


class Strict(BaseModel):
    """A format whose every key is known: an unknown key is a typo or a foreign dialect."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Open(BaseModel):
    """A format written by this tool, read by maybe another version: new keys are ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


def fail(what: str, value: Any, note: str = "") -> PydanticCustomError:
    return PydanticCustomError(
        "invalid",
        "expected {what}, got {got}{note}",
        {"what": what, "got": shown(value), "note": note},
    )


def _quoted_number_note(value: Any) -> str:
    if isinstance(value, str) and re.fullmatch(r"\s*-?(0x)?[0-9a-fA-F]+\s*", value):
        return "; numbers are written in decimal, without quotes"
    return ""


def integer(low: int, high: int, what: str) -> PlainValidator:
    """An exact JSON integer (not a bool, not a float, not a string) in ``low..high``."""

    def check(value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise fail(what, value, _quoted_number_note(value))
        return value

    return PlainValidator(check)


def number(what: str, *, minimum: float | None = None) -> PlainValidator:
    """A JSON number (integer or float, not a bool), optionally at least ``minimum``."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise fail(what, value, _quoted_number_note(value))
        if minimum is not None and value < minimum:
            raise fail(what, value)
        return float(value)

    return PlainValidator(check)


def fraction(what: str) -> PlainValidator:
    """A JSON number strictly between 0 and 1."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise fail(what, value, _quoted_number_note(value))
        return float(value)

    return PlainValidator(check)


def _string_matching(pattern: re.Pattern[str], what: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str) or not pattern.fullmatch(value):
            raise fail(what, value)
        return value

    return check


def _libseccomp_arch(value: Any) -> str:
    """An architecture in libseccomp's naming (``x86_64``, ``aarch64``) or an alias."""
    names = arch_lib.known_arch_names()
    if isinstance(value, str):
        try:
            return arch_lib.canonical_arch(value)
        except UsageError:  # re-worded below, with the names to choose from
            pass
    raise fail(f"an architecture libseccomp knows ({', '.join(names)})", value)


def _oci_arch(value: Any) -> str:
    """An OCI ``architectures`` entry: exactly ``SCMP_ARCH_`` and a libseccomp arch."""
    known = tuple(f"SCMP_ARCH_{name.upper()}" for name in arch_lib.known_arch_names())
    if isinstance(value, str) and value in known:
        return value
    raise fail(f"one of libseccomp's architectures ({', '.join(known)})", value)


NonNegativeInt = Annotated[int, integer(0, INT64_MAX, "a whole number of 0 or more")]
Uint64 = Annotated[
    int, integer(0, UINT64_MAX, "an integer from 0 to 18446744073709551615 (unsigned 64-bit)")
]
Errno = Annotated[
    int, integer(0, UINT32_MAX, "an errno number from 0 to 4294967295 (unsigned 32-bit)")
]
SyscallName = Annotated[
    str,
    PlainValidator(
        _string_matching(_SYSCALL_NAME, "a syscall name (lower-case letters, digits and _)")
    ),
]
LibseccompArch = Annotated[str, PlainValidator(_libseccomp_arch)]
SparkVersion = Annotated[
    str,
    PlainValidator(
        _string_matching(
            re.compile(r"\d+\.\d+\.\d+([.+-][0-9A-Za-z.+-]*)?"), "a Spark version such as 3.5.9"
        )
    ),
]
OciArch = Annotated[str, PlainValidator(_oci_arch)]
