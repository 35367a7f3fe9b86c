"""Every command's and group's `--help` renders, found by walking the command tree.

It fails on an error or a traceback, on help text lost to markup (a stray " ." where
`[default: ...]` was eaten, a bracketed text missing from the page), on a command or
option without help, and on metavars that leak Python types (`<list[Path]>`, `<bool>`)
or Typer's `{name}` for arguments.
"""

import re

import pytest
import typer

from profiler import __version__
from profiler.cli import app, main


def _walk(command, path=()):
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _walk(sub, (*path, name))


COMMANDS = list(_walk(typer.main.get_command(app)))


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(list(args))
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def flat(text: str) -> str:
    return " ".join(text.split())


def test_the_walk_finds_every_command_and_group() -> None:
    paths = {" ".join(path) for path, _ in COMMANDS}
    assert {"", "check", "profile", "profile diff", "k8s lint", "k8s dry-run"} <= paths
    assert len(paths) >= 20


@pytest.mark.parametrize(
    ("path", "command"), COMMANDS, ids=[" ".join(p) or "spark-seccomp" for p, _ in COMMANDS]
)
def test_help_renders_whole(path, command, capsys) -> None:
    code, out, err = run([*path, "--help"], capsys)
    assert (code, err) == (0, ""), err
    assert "Traceback" not in out and "error" not in out.splitlines()[0].lower()
    usage = out.splitlines()[0]
    assert usage.startswith(f"Usage: spark-seccomp {' '.join(path)}".rstrip())
    text = flat(out)
    # Markup that ate a bracketed text leaves its surroundings behind: "scripts ." .
    assert not re.search(r"\s\.(\s|$)", text), text
    for leak in ("<list[", "<bool>", "<Path>"):
        assert leak not in out
    assert not re.search(r"\{\w+\}", usage), usage

    assert (command.help or "").strip(), f"{' '.join(path)} has no help text"
    for param in command.params:
        if param.name == "help":
            continue
        assert (param.help or "").strip(), f"{' '.join(path)}: {param.name} has no help text"
        # Every bracketed text of a help text ([default: ...], [/OCI-RUNTIME]) is shown.
        for bracketed in re.findall(r"\[[^\]]*\]", param.help):
            assert flat(bracketed) in text, f"{bracketed!r} lost from {' '.join(path)} --help"


def test_arguments_are_named_in_capitals_in_usage(capsys) -> None:
    assert run(["check", "--help"], capsys)[1].splitlines()[0] == (
        "Usage: spark-seccomp check [OPTIONS] [WORKLOAD]..."
    )
    assert run(["profile", "diff", "--help"], capsys)[1].splitlines()[0] == (
        "Usage: spark-seccomp profile diff [OPTIONS] A B"
    )
    assert run(["report", "--help"], capsys)[1].splitlines()[0] == (
        "Usage: spark-seccomp report [OPTIONS] RUN_DIR"
    )


def test_a_repeatable_option_shows_the_type_of_one_value(capsys) -> None:
    out = run(["record", "--help"], capsys)[1]
    assert "--from-recordings <path>" in out
    assert "--allow <str>" in out


def test_help_never_splits_an_option_name_at_its_hyphen(capsys) -> None:
    out = run(["check", "--help"], capsys)[1]
    assert "--no-\n" not in out
    assert "--no-diagnose" in flat(out)


def test_version(capsys) -> None:
    code, out, err = run(["--version"], capsys)
    assert (code, out, err) == (0, f"spark-seccomp {__version__}\n", "")


@pytest.mark.parametrize("where", ["before", "after"])
def test_verbose_is_accepted_before_and_after_the_command(where, capsys, tmp_path) -> None:
    missing = tmp_path / "missing.json"
    args = ["profile", "explain", str(missing)]
    args = ["-v", *args] if where == "before" else [*args, "-v"]
    code, _, err = run(args, capsys)
    assert code == 2
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: ")


def test_without_verbose_there_is_no_traceback(capsys, tmp_path) -> None:
    code, _, err = run(["profile", "explain", str(tmp_path / "missing.json")], capsys)
    assert code == 2
    assert "Traceback" not in err
