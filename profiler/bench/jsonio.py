"""Writing the JSON files of benchmarks and reports deterministically.

Floats are rounded so the same numbers give the same bytes. Reading them back is
``profiler.formats`` (the models name the file and the key path when a value is wrong).
"""

from __future__ import annotations

from typing import Any

from profiler.formats import jsonfile

DIGITS = 6  # floats in JSON are rounded to this many decimals


def round_float(value: float | None) -> float | None:
    if value is None:
        return None
    return round(float(value), DIGITS) + 0.0  # + 0.0: no "-0.0" in the output


def parse_json(text: str, source: str) -> Any:
    """JSON text of a result file, within ``formats.jsonfile``'s bounds."""
    return jsonfile.parse_json(text, source, "regenerate it with the command that wrote it")
