"""`bench` end to end on a fake backend: what it writes into its run directory."""

import json
import shutil
from pathlib import Path

import pytest

from profiler.cli import main
from tests.fakes import FakeBackend

ADVERSARIAL = Path(__file__).parents[2] / "fixtures" / "adversarial"
REFERENCE = Path(__file__).parents[3] / "profiles" / "runtime-default-docker-20.10.24-amd64.json"


def test_a_reused_run_directory_loses_the_old_profiles_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Nothing may reach a real engine: no probe of RuntimeDefault, no DOCKER_HOST.
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    backend = FakeBackend(lambda spec: (0, False, "abc", ""))
    monkeypatch.setattr("profiler.runtime.select.make_backend", lambda *a, **k: backend)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "profile.summary.json").write_text('{"syscalls": {"ptrace": {"runs": 1}}}\n')
    profile = tmp_path / "p.json"  # no summary beside it
    shutil.copy(ADVERSARIAL / "valid" / "profile.json", profile)
    args = ["bench", "rdd_python", "--profile", str(profile), "--repeat", "3", "--warmup", "0"]
    with pytest.raises(SystemExit) as info:
        main(
            [
                *args,
                "--no-microbench",
                "--runtime-default",
                str(REFERENCE),
                "--run-dir",
                str(run_dir),
            ]
        )
    assert info.value.code == 0, capsys.readouterr().err
    assert not (run_dir / "profile.summary.json").exists()
    assert (run_dir / "profile.json").read_text() == profile.read_text()
    assert json.loads((run_dir / "bench.json").read_text())["kind"] == "bench"
    assert all((run_dir / f"report.{ext}").is_file() for ext in ("md", "html", "json"))


def test_several_images_are_benched_in_turn_and_compared(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    backend = FakeBackend(lambda spec: (0, False, "abc", ""))
    monkeypatch.setattr("profiler.runtime.select.make_backend", lambda *a, **k: backend)
    images = ["spark-seccomp/spark:3.5.9", "spark-seccomp/spark:4.3.0"]
    with pytest.raises(SystemExit) as info:
        main(
            [
                "bench",
                "rdd_python",
                "--image",
                ",".join(images),
                "--repeat",
                "2",
                "--warmup",
                "0",
                "--no-microbench",
                "--runtime-default",
                str(REFERENCE),
                "--run-dir",
                str(tmp_path / "run"),
            ]
        )
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert [s.image for s in backend.specs] == [images[0]] * 4 + [images[1]] * 4
    for slug in ("spark-seccomp-spark-3.5.9", "spark-seccomp-spark-4.3.0"):
        bench = json.loads((tmp_path / "run" / slug / "bench.json").read_text())
        assert bench["kind"] == "bench"
    assert "change against unconfined per column" in out
