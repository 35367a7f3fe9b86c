"""Fixed sets on the command line: one parse place, enums, each option declared once."""

import re
from pathlib import Path

import pytest
import typer

from profiler.cli import app, main
from profiler.cli.choices import Modes, metavar, parse_several
from profiler.runtime.select import parse_engine_choices
from profiler.vocabulary import Engine, OciRuntime, SecurityMode

CLI = Path(__file__).parents[2] / "profiler" / "cli"
# Every option of the tool whose values come from a fixed set.
FIXED_SETS = {
    "--backend",
    "--runtime",
    "--oci-runtime",
    "--errno",
    "--pod-security",
    "--modes",
    "--tracer",
    "--topology",
    "--format",
    "--fail-on",
    "--seccomp",
    "--style",
    "--recorder",
    "--spo-api-version",
    "--java",
}


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_several_values_keep_their_order_and_case_does_not_matter() -> None:
    assert parse_several(SecurityMode, "localhost, Unconfined", what="mode") == (
        SecurityMode.LOCALHOST,
        SecurityMode.UNCONFINED,
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("bogus", "unknown mode 'bogus' (choose from unconfined, runtime-default, localhost)"),
        ("localhost,localhost", "mode 'localhost' is given twice (name each once)"),
        (" , ", "no mode given (choose from unconfined, runtime-default, localhost, "),
    ],
)
def test_a_wrong_value_names_itself_and_the_choices(text, message) -> None:
    with pytest.raises(typer.BadParameter) as info:
        parse_several(SecurityMode, text, what="mode")
    assert info.value.message.startswith(message)


def test_the_metavar_lists_the_choices() -> None:
    assert metavar(OciRuntime, several=True) == "<runc|crun>[,...]"
    assert metavar(Engine) == "<docker|podman|containerd>"


def test_the_library_takes_the_parsed_values_or_text() -> None:
    parsed = parse_engine_choices((Engine.PODMAN, Engine.DOCKER), (OciRuntime.RUNC,))
    assert [c.label for c in parsed] == ["podman/runc", "docker/runc"]
    assert parse_engine_choices("podman", None)[0].label == "podman/crun"
    assert parse_engine_choices(None, None)[0].label == "docker/runc"


def test_modes_is_a_tuple_of_modes() -> None:
    assert Modes((SecurityMode.UNCONFINED,)) == (SecurityMode.UNCONFINED,)


def _options():
    def walk(command, path=()):
        for param in command.params:
            for opt in param.opts:
                yield path, opt, param
        for name, sub in getattr(command, "commands", {}).items():
            yield from walk(sub, (*path, name))

    return list(walk(typer.main.get_command(app)))


def test_every_fixed_set_shows_its_choices_in_help(capsys) -> None:
    seen = set()
    for path, opt, _ in _options():
        if opt not in FIXED_SETS:
            continue
        seen.add(opt)
        out = run([*path, "--help"], capsys)[1]
        shown = re.search(rf"{re.escape(opt)} (<[^>]*>)", out)
        assert shown and "|" in shown.group(1), f"{' '.join(path)} {opt}: {shown}"
    assert seen == FIXED_SETS


@pytest.mark.parametrize("option", sorted(FIXED_SETS | {"--timeout", "--run-dir"}))
def test_each_option_is_declared_once(option) -> None:
    """--backend was declared four times: now one declaration serves every command.
    (--format, --timeout and --run-dir are declared by one factory each: each command
    gives its own formats, default or folder name. --out is one declaration for every
    command's result, and record's own: there it is required and names several files.)"""
    declarations = [
        (path.name, line)
        for path in sorted(CLI.glob("*.py"))
        for line in path.read_text().splitlines()
        if re.search(rf'"{re.escape(option)}"\s*[,)]', line)
    ]
    assert len(declarations) == 1, declarations


def test_one_engine_commands_refuse_several(capsys) -> None:
    code, _, err = run(["demo", "--runtime", "docker,podman"], capsys)
    assert code == 2
    assert err.startswith("error: this command runs on one engine and OCI runtime")


def test_check_runs_localhost_too_when_given_a_profile() -> None:
    from profiler.cli.common import default_modes

    assert default_modes(None, profiles=True) == tuple(SecurityMode)
    assert default_modes(None, profiles=False) == (
        SecurityMode.UNCONFINED,
        SecurityMode.RUNTIME_DEFAULT,
    )
    assert default_modes(Modes((SecurityMode.LOCALHOST,)), profiles=True) == (
        SecurityMode.LOCALHOST,
    )
