"""`spark-seccomp profile ...` in-process: exact outputs, exit codes, files written."""

import json

import pytest

from profiler.cli import main
from profiler.seccomp.generate import derive_profile, summary_path_for

from .conftest import FIXTURES, recording

DOCKER = FIXTURES / "seccomp" / "docker_default_small.json"


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def _write(tmp_path, name, recordings, summary=True):
    profile, summ = derive_profile(recordings)
    path = tmp_path / f"{name}.json"
    path.write_text(profile.to_json())
    if summary:
        summary_path_for(path).write_text(summ.to_json())
    return path


@pytest.fixture
def two_profiles(tmp_path):
    a = _write(tmp_path, "a", [recording("w", 0, {"read": {"shell": 1}, "poll": {"shell": 1}})])
    b = _write(tmp_path, "b", [recording("w", 1, {"read": {"shell": 2}, "write": {"shell": 1}})])
    return a, b


def test_merge_writes_profile_and_summary(tmp_path, two_profiles, capsys):
    out = tmp_path / "merged.json"
    code, stdout, stderr = run(
        ["profile", "merge", *map(str, two_profiles), "--out", str(out)], capsys
    )
    assert code == 0
    merged = json.loads(out.read_text())
    assert {"read", "poll", "write"} <= set(merged["syscalls"][0]["names"])
    summary = json.loads((tmp_path / "merged.summary.json").read_text())
    assert summary["total_runs"] == 2
    assert summary["syscalls"]["read"]["runs"] == 2
    assert summary["flaky"] == ["poll", "write"]
    assert "wrote" in stderr and stdout == ""


def test_merge_to_stdout_and_without_summaries(tmp_path, capsys):
    a = _write(tmp_path, "a", [recording("w", 0, {"read": {"shell": 1}})], summary=False)
    b = _write(tmp_path, "b", [recording("w", 0, {"write": {"shell": 1}})])
    code, stdout, stderr = run(["profile", "merge", str(a), str(b)], capsys)
    assert code == 0
    assert json.loads(stdout)["defaultErrnoRet"] == 38
    assert "no summary beside" in stderr


def test_merge_needs_two(tmp_path, two_profiles, capsys):
    code, _, stderr = run(["profile", "merge", str(two_profiles[0])], capsys)
    assert code == 2 and "at least two" in stderr


def test_diff_two_files(two_profiles, capsys):
    a, b = map(str, two_profiles)
    code, stdout, _ = run(["profile", "diff", a, b], capsys)
    assert code == 1  # they differ, as diff and kubectl diff say
    assert stdout.splitlines() == [
        f"only in {a} (1):",
        "  poll  [w]",
        f"only in {b} (1):",
        "  write  [w]",
        f"allowed by both: {len(json.loads(two_profiles[0].read_text())['syscalls'][0]['names']) - 1}",
    ]


def test_diff_against_runtime_default_file(two_profiles, capsys):
    args = ["profile", "diff", str(two_profiles[0]), "runtime-default"]
    code, stdout, _ = run(
        [*args, "--runtime-default", str(DOCKER), "--arch", "amd64", "-f", "json"], capsys
    )
    assert code == 1
    data = json.loads(stdout)
    assert "poll" in data["only_left"]
    assert "mmap" in data["only_right"]
    assert data["right"].startswith("RuntimeDefault from docker_default_small.json")


def test_diff_of_profiles_allowing_the_same_calls_exits_0(two_profiles, tmp_path, capsys):
    a = str(two_profiles[0])
    copy = tmp_path / "copy.json"
    copy.write_text(two_profiles[0].read_text())
    code, stdout, _ = run(["profile", "diff", a, str(copy)], capsys)
    assert code == 0
    assert stdout.splitlines()[:2] == [f"only in {a} (0):", f"only in {copy} (0):"]
    code, stdout, _ = run(["profile", "diff", a, str(copy), "--format", "json"], capsys)
    assert code == 0
    assert json.loads(stdout)["only_left"] == []


def test_diff_exits_1_when_only_one_side_allows_more(two_profiles, tmp_path, capsys):
    a = two_profiles[0]
    data = json.loads(a.read_text())
    data["syscalls"][0]["names"].remove("poll")
    fewer = tmp_path / "fewer.json"
    fewer.write_text(json.dumps(data))
    code, stdout, _ = run(["profile", "diff", str(a), str(fewer), "--format", "json"], capsys)
    assert code == 1
    assert json.loads(stdout)["only_left"] == ["poll"]


def test_diff_runtime_default_without_file_or_engine_is_a_usage_error(
    two_profiles, capsys, monkeypatch, tmp_path
):
    # No file, no engine to probe, nothing cached: the user is told how to get a reference.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setenv("SPARK_SECCOMP_CACHE", str(tmp_path))
    code, _, stderr = run(["profile", "diff", str(two_profiles[0]), "runtime-default"], capsys)
    assert code == 2
    assert "--runtime-default FILE" in stderr


def test_explain_table_and_json(two_profiles, capsys):
    code, stdout, _ = run(["profile", "explain", str(two_profiles[0]), "--format", "json"], capsys)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(stdout)}
    assert rows["read"]["runs"] == 1 and rows["read"]["roles"] == {"shell": 1}
    code, stdout, _ = run(["profile", "explain", str(two_profiles[0])], capsys)
    assert code == 0 and "read" in stdout and "shell (1)" in stdout


def test_explain_missing_profile(tmp_path, capsys):
    code, _, stderr = run(["profile", "explain", str(tmp_path / "nope.json")], capsys)
    assert code == 2 and "does not exist" in stderr


def test_diff_against_the_committed_reference_never_counts_an_undecidable_call(capsys):
    from pathlib import Path

    profiles = Path(__file__).parents[3] / "profiles"
    reference = profiles / "runtime-default-docker-20.10.24-amd64.json"
    args = ["profile", "diff", str(profiles / "spark-3.5.9-amd64.json"), "runtime-default"]
    code, stdout, _ = run([*args, "--runtime-default", str(reference), "-f", "json"], capsys)
    assert code == 1
    data = json.loads(stdout)
    # acct, reboot, syslog... are refused for lack of a capability either way: undecidable,
    # and not allowed unless the engine's own filter lists them (futex, setgroups...).
    saved = json.loads(reference.read_text())
    undecidable, bundle = set(saved["undecidable"]), set(saved["engine_default"]["allowed"])
    assert {"acct", "reboot", "syslog"} <= undecidable
    assert not {"acct", "reboot", "syslog"} & set(data["only_right"])
    assert undecidable & set(data["only_right"]) <= bundle
    assert data["right"] == "docker-20.10.24+dfsg1-runc-1.1.5+ds1 runtime-default"


def test_explain_and_diff_write_to_out_in_either_format(two_profiles, tmp_path, capsys):
    a, b = map(str, two_profiles)
    table = tmp_path / "explain.txt"
    code, stdout, stderr = run(["profile", "explain", a, "-o", str(table)], capsys)
    assert (code, stdout) == (0, "")
    assert table.read_text().split()[:3] == ["syscall", "allowed", "runs"]
    diff = tmp_path / "diff.json"
    code, stdout, stderr = run(["profile", "diff", a, b, "-f", "json", "-o", str(diff)], capsys)
    assert (code, stdout) == (1, "")  # written, and still exit 1: they differ
    assert json.loads(diff.read_text())["only_right"] == ["write"]
    assert stderr == f"wrote {diff}\n"


def test_the_deprecated_json_flag_still_means_format_json(two_profiles, capsys):
    a = str(two_profiles[0])
    code, new, _ = run(["profile", "explain", a, "-f", "json"], capsys)
    code, old, stderr = run(["profile", "explain", a, "--json"], capsys)
    assert (code, old) == (0, new)
    assert stderr.startswith("warning: --json is deprecated")
