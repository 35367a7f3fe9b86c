"""How results look where they go: boxes on a terminal, plain columns anywhere else."""

import io
import json
from pathlib import Path

import pytest
from rich.table import Table

from profiler.cli import main
from profiler.cli.console import OutputConsole

ROOT = Path(__file__).parents[2]
BOX_CHARACTERS = set("┏┓┗┛┃━│─┡┩╇╋┳┻")


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_piped_explain_is_one_line_per_syscall_without_boxes(capsys) -> None:
    profile = ROOT / "profiles" / "spark-3.5.9-amd64.json"
    code, out, _ = run(["profile", "explain", str(profile)], capsys)
    assert code == 0
    lines = out.splitlines()
    rules = json.loads(profile.read_text())["syscalls"]
    allowed = sum(len(r["names"]) for r in rules if r["action"] == "SCMP_ACT_ALLOW")
    assert len(lines) == 1 + allowed  # the header, then one row per call
    assert lines[0].split()[:3] == ["syscall", "allowed", "runs"]
    assert not BOX_CHARACTERS & set(out)
    assert all(line == line.rstrip() for line in lines)


def test_piped_workloads_list_rows_are_not_wrapped(capsys) -> None:
    code, out, _ = run(["workloads", "list"], capsys)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split() == ["workload", "kind", "what", "it", "exercises"]
    from profiler.workloads import catalogue

    assert len(lines) == 1 + len(catalogue())  # the header, then one row per workload
    assert lines[1].startswith(f"{catalogue()[0].name} ")


def test_a_terminal_keeps_boxes_and_its_width() -> None:
    buffer = io.StringIO()
    terminal = OutputConsole(file=buffer, force_terminal=True, width=60, color_system=None)
    table = Table("name", "text")
    table.add_row("a", "word " * 30)
    terminal.print(table)
    lines = buffer.getvalue().splitlines()
    assert BOX_CHARACTERS & set(buffer.getvalue())
    assert max(len(line) for line in lines) <= 60


def test_a_table_title_stays_above_its_plain_columns() -> None:
    buffer = io.StringIO()
    piped = OutputConsole(file=buffer)
    table = Table("role", "verdict", title="image: x; pod topology")
    table.add_row("driver", "pass")
    piped.print(table)
    assert buffer.getvalue() == "image: x; pod topology\nrole    verdict\ndriver  pass\n"
