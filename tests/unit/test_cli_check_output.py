"""`check`'s output convention, end to end on a fake backend: -f, -o, --json/--junit, -."""

import json
from pathlib import Path

import pytest

from profiler.cli import main
from tests.fakes import FakeBackend

REFERENCE = Path(__file__).parents[2] / "profiles" / "runtime-default-docker-20.10.24-amd64.json"


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeBackend:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    backend = FakeBackend(lambda spec: (0, False, "abc", ""))
    monkeypatch.setattr("profiler.runtime.select.make_backend", lambda *a, **k: backend)
    return backend


def run(args, capsys, tmp_path: Path):
    base = ["check", "rdd_python", "--run-dir", str(tmp_path / "run"), "--no-diagnose"]
    with pytest.raises(SystemExit) as info:
        main([*base, "--runtime-default", str(REFERENCE), *args])
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_the_table_on_stdout_by_default(fake, capsys, tmp_path) -> None:
    code, out, _ = run([], capsys, tmp_path)
    assert code == 0
    lines = out.splitlines()
    assert lines[0].startswith("topology: pod (2 executors); pod security: restricted")
    assert lines[1].split() == ["workload", "unconfined", "runtime-default"]
    assert lines[2].split()[:2] == ["rdd_python", "pass"]
    assert [s.mode.value for s in fake.specs] == ["unconfined", "runtime-default"]


def test_format_json_replaces_the_table_on_stdout(fake, capsys, tmp_path) -> None:
    code, out, err = run(["-f", "json"], capsys, tmp_path)
    assert code == 0
    data = json.loads(out)
    assert data == json.loads((tmp_path / "run" / "check.json").read_text())
    assert "workload" in err  # the table, for the person at the terminal


def test_junit_to_stdout_and_json_to_a_file(fake, capsys, tmp_path) -> None:
    target = tmp_path / "check.json"
    code, out, err = run(["--junit", "-", "--json", str(target)], capsys, tmp_path)
    assert code == 0
    assert out.startswith("<?xml") and "<testsuites" in out
    assert json.loads(target.read_text())["passed"] is True
    assert "rdd_python" in err


def test_out_writes_the_result_whole(fake, capsys, tmp_path) -> None:
    target = tmp_path / "table.txt"
    code, out, err = run(["-o", str(target)], capsys, tmp_path)
    assert (code, out) == (0, "")
    assert target.read_text().splitlines()[1].split() == [
        "workload",
        "unconfined",
        "runtime-default",
    ]
    assert f"wrote {target}" in err


def test_a_profile_adds_localhost_to_the_default_modes(fake, capsys, tmp_path) -> None:
    profile = Path(__file__).parents[1] / "fixtures" / "adversarial" / "valid" / "profile.json"
    code, out, _ = run(["--profile", str(profile)], capsys, tmp_path)
    assert code == 0
    assert out.splitlines()[1].split() == ["workload", "unconfined", "runtime-default", "localhost"]
