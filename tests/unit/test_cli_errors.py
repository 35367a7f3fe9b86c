"""Bad input gets one line, a documented exit code, and no traceback."""

from pathlib import Path

import pytest

from profiler.cli import main

FIXTURES = Path(__file__).parents[1] / "fixtures"


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "--modes", "bogus"], "unknown mode 'bogus'"),
        (["check", "no_such_job"], "unknown workload"),
        (["check", "--modes", "localhost"], "needs a profile"),
        (["check", "--modes", "unconfined", "--profile", "x.json"], "only used in localhost mode"),
        (["check", "--modes", "localhost", "--profile", "/nonexistent.json"], "does not exist"),
        (
            [
                "check",
                "--modes",
                "localhost",
                "--profile",
                str(FIXTURES / "profiles" / "truncated.json"),
            ],
            "not valid JSON",
        ),
        (
            [
                "check",
                "--modes",
                "localhost",
                "--profile",
                str(FIXTURES / "profiles" / "no_default_action.json"),
            ],
            "defaultAction: required key is missing",
        ),
        (["check", "--no-such-option"], "No such option"),
        (["check", "/nonexistent/script.py"], "does not exist"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args, message, capsys):
    code, out, err = run(args, capsys)
    assert code == 2
    assert message in err
    assert "Traceback" not in err
    assert err.strip().splitlines()[0].startswith("error:")


def test_no_engine_exits_3_with_a_hint(capsys, monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    code, _, err = run(["check", "rdd_python", "--backend", "docker"], capsys)
    assert code == 3
    assert "no Docker engine is reachable" in err
    assert "dockerd" in err
    assert "Traceback" not in err


def test_workloads_list_json(capsys):
    import json

    code, out, err = run(["workloads", "list", "--format", "json"], capsys)
    assert (code, err) == (0, "")
    names = [w["name"] for w in json.loads(out)]
    assert "local_cluster" in names
    # 0.1's --json flag still works for one release, and says what replaces it.
    code, old_out, err = run(["workloads", "list", "--json"], capsys)
    assert (code, old_out) == (0, out)
    assert err == (
        "warning: --json is deprecated and goes in the next release: use --format json "
        "(-f json); --out FILE writes it to a file\n"
    )


def test_every_command_is_documented():
    import typer

    from profiler.cli import app

    command = typer.main.get_command(app)

    def walk(cmd, path):
        for name, sub in getattr(cmd, "commands", {}).items():
            yield f"{path} {name}", sub
            yield from walk(sub, f"{path} {name}")

    undocumented = [p for p, c in walk(command, "spark-seccomp") if not (c.help or "").strip()]
    assert not undocumented
