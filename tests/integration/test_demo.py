"""`spark-seccomp demo` end to end on one small job: record, derive, check, bench, report."""

import json

import pytest

from profiler.cli import main
from tests.conftest import FIXTURES


def test_demo_tells_the_whole_story(tmp_path, capsys, spark_image, need_bpftrace):
    with pytest.raises(SystemExit) as info:
        main(
            [
                "demo",
                str(FIXTURES / "scripts" / "tiny_cluster_job.py"),
                "--bench-repeat",
                "1",
                "--run-dir",
                str(tmp_path),
            ]
        )
    out = capsys.readouterr().out
    assert info.value.code == 0, out
    assert "check: 3 of 3 cells passed" in out
    for name in (
        "profile.json",
        "profile.summary.json",
        "profile.driver.json",
        "profile.executor.json",
        "check.json",
        "bench.json",
        "report.html",
    ):
        assert (tmp_path / name).is_file(), name
    assert json.loads((tmp_path / "check.json").read_text())["passed"] is True
    assert "data:image/png;base64," in (tmp_path / "report.html").read_text()
