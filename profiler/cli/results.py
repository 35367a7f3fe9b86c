"""Where a command's result goes, and in which format: the one output convention.

- ``-o, --out PATH``: the result goes to PATH instead of stdout; ``-`` is stdout. Files
  are checked before the work and written whole (``profiler.output``).
- ``-f, --format FORMAT``: the result's format where there is a choice: ``text`` (for
  people: tables boxed on a terminal, plain columns when piped), ``json``, and ``sarif``
  (lint) or ``junit`` (check, dry-run).
- Commands that run jobs also write report files beside their result: ``--json FILE``
  and ``--junit FILE``. ``-`` is stdout there too, and the table moves to stderr so that
  stdout holds one machine-readable document.
- Progress, notes and summaries always go to stderr.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from profiler.cli.common import output_file
from profiler.cli.console import console, plain_text, stdout
from profiler.errors import UsageError
from profiler.output import check_output_path, is_stdout, write_file
from profiler.vocabulary import Choice

OUT_OPTION = typer.Option(
    None,
    "--out",
    "-o",
    help="Write the result to this file instead of stdout (- is stdout).",
    show_default=False,
    parser=output_file,
    metavar="<path>",
)


class TextOrJson(Choice):
    TEXT = "text"
    JSON = "json"


class RunReportFormat(Choice):
    """What a command that runs (or plans) jobs can write: its table, JSON, JUnit XML."""

    TEXT = "text"
    JSON = "json"
    JUNIT = "junit"


def format_option(default: enum.Enum | None, what: str = "The result's format.") -> Any:
    """``-f, --format``: declared here once for every command that offers a choice (each
    with its own set of formats, the option's type)."""
    return typer.Option(default, "--format", "-f", help=what, show_default=default is not None)


def check_out(out: Path | None) -> None:
    """The --out path, checked before the work."""
    if out is not None:
        check_output_path(out, stdout_ok=True)


def emit(text: str, out: Path | None) -> None:
    """The result, whole: on stdout, or written to ``out`` (said on stderr)."""
    if out is None or is_stdout(out):
        stdout.out(text, end="", highlight=False)
        return
    write_file(out, text)
    console.print(f"wrote {out}", highlight=False, markup=False, soft_wrap=True)


def emit_table(table: Table, out: Path | None) -> None:
    """A table as the console shows it on stdout, or as plain columns to a file."""
    if out is None or is_stdout(out):
        stdout.print(table)
    else:
        emit(plain_text(table), out)


# `--json` of 0.1's profile diff, profile explain and workloads list: --format json now.
DEPRECATED_JSON_OPTION = typer.Option(
    False, "--json", hidden=True, help="Deprecated: --format json."
)


def deprecated_json_flag(as_json: bool, chosen: TextOrJson) -> TextOrJson:
    """``--json`` (a flag of 0.1) means ``--format json`` for one more release."""
    if not as_json:
        return chosen
    console.print(
        "warning: --json is deprecated and goes in the next release: use --format json "
        "(-f json); --out FILE writes it to a file",
        highlight=False,
        markup=False,
        soft_wrap=True,
    )
    return TextOrJson.JSON


def plan_outputs(
    result_format: enum.Enum, out: Path | None, reports: dict[str, Path | None]
) -> Console:
    """Check every output before the work: ``--out`` and the report files (``--json
    FILE``, ``--junit FILE``). Returns the console the human table goes to: stdout, or
    stderr when stdout carries a machine-readable document (at most one may)."""
    on_stdout = [option for option, path in reports.items() if is_stdout(path)]
    if result_format.value != "text" and (out is None or is_stdout(out)):
        on_stdout.insert(0, f"--format {result_format.value}")
    if len(on_stdout) > 1:
        raise UsageError(
            f"{' and '.join(on_stdout)} would both write to stdout", "send one of them to a file"
        )
    check_out(out)
    for option, path in reports.items():
        if path is not None:
            check_output_path(path, what=f"{option} output", stdout_ok=True)
    return console if on_stdout else stdout


def emit_blocks(blocks: Iterable[Table | str], out: Path | None, human: Console) -> None:
    """Tables and lines for people: on ``human`` (a console), or as plain text to ``out``."""
    if out is None or is_stdout(out):
        for block in blocks:
            if isinstance(block, Table):
                human.print(block)
            else:
                human.print(block, markup=False, highlight=False, soft_wrap=True)
        return
    emit("".join(plain_text(b) if isinstance(b, Table) else b + "\n" for b in blocks), out)


def write_reports(reports: Iterable[tuple[Path | None, str]]) -> None:
    """Each report file whole; ``-`` is stdout."""
    for path, text in reports:
        if path is None:
            continue
        if is_stdout(path):
            stdout.out(text, end="", highlight=False)
        else:
            write_file(path, text)
