"""Fixtures shared by the integration tests: profiles recorded once, in pod shape."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from profiler.cli import main

# The fastest catalogue workload: Python lambdas in executor pods. One is enough here
# (merging recordings of several jobs is unit-tested; the committed references, recorded
# from the whole catalogue, are checked on every engine); each more costs a recording and
# a verification run, about 75 s.
POD_WORKLOADS = ("rdd_python",)


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


def run_captured(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """The CLI's exit code, stdout and stderr for ``args``."""
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


@pytest.fixture(scope="session")
def pod_profiles(tmp_path_factory: pytest.TempPathFactory, spark_image: str) -> Path:
    """`record` of POD_WORKLOADS in the pod topology with eBPF: p.json, p.driver.json and
    p.executor.json (with summaries) in the returned folder, verified in pod shape."""
    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        from tests.conftest import missing

        missing("recording needs root and bpftrace")
    root = tmp_path_factory.mktemp("pod-profiles")
    code = cli(
        "record",
        *POD_WORKLOADS,
        "--topology",
        "pod",
        "--image",
        spark_image,
        "--out",
        str(root / "p.json"),
        "--run-dir",
        str(root / "run"),
        "--timeout",
        "300",
        # The host's engine alone: verification on the newest node is tested with nodes.
        "--verify-node",
        "host",
    )
    assert code == 0
    return root
