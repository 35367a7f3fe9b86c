"""The Docker backend against a real engine, with real Spark jobs and real seccomp."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import workloads
from profiler.check import CheckOptions, CheckPlan, Verdict, run_check
from profiler.cli import main
from profiler.runtime.interface import ProfileSet, RunSpec, SecurityMode, Topology
from profiler.runtime.run_shape import RunShape

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_JOB = str(FIXTURES / "scripts" / "tiny_job.py")
ALL = [SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST]


def test_catalogue_workload_passes_under_all_three_modes_in_one_container(
    docker_backend, spark_image, tmp_path
):
    """The local topology (the pod topology has its own tests in test_pod.py)."""
    allow_all = (FIXTURES / "profiles" / "allow_all.json").read_text()
    plan = CheckPlan(
        workloads=(workloads.resolve("sql_aggregation"),),
        modes=tuple(ALL),
        profiles=ProfileSet.single(allow_all, "allow all"),
        shape=RunShape(spark_image, topology=Topology.LOCAL),
    )
    report = run_check(docker_backend, plan, CheckOptions(run_root=tmp_path, timeout_seconds=300))
    for mode in ALL:
        cell = report.cell("sql_aggregation", mode)
        assert cell.verdict is Verdict.PASS, (mode, cell.runs[0].error_line)
        assert cell.runs[0].checksum
        assert cell.runs[0].cpu_seconds is None or cell.runs[0].cpu_seconds > 1
    assert (tmp_path / "sql_aggregation" / "localhost-1" / "stderr.txt").exists()


def test_profile_that_denies_thread_creation_fails_the_cell(capsys, tmp_path, spark_image):
    broken = FIXTURES / "profiles" / "denies_thread_creation.json"
    out_json = tmp_path / "check.json"
    junit = tmp_path / "junit.xml"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "check",
                TINY_JOB,
                "--modes",
                "unconfined,runtime-default,localhost",
                "--profile",
                str(broken),
                "--run-dir",
                str(tmp_path / "runs"),
                "--json",
                str(out_json),
                "--junit",
                str(junit),
                "--timeout",
                "300",
                "--no-diagnose",  # diagnosis has its own tests; keep this one fast
            ]
        )
    assert info.value.code == 1
    out = capsys.readouterr().out
    assert "fail" in out
    data = json.loads(out_json.read_text())
    verdicts = {c["mode"]: c["verdict"] for c in data["cells"]}
    assert verdicts == {"unconfined": "pass", "runtime-default": "pass", "localhost": "fail"}
    assert 'failures="1"' in junit.read_text()


def test_timeout_kills_and_removes_every_container_of_the_pod(
    docker_backend, docker_client, spark_image
):
    spec = RunSpec(
        workload=workloads.resolve(TINY_JOB),
        mode=SecurityMode.RUNTIME_DEFAULT,
        image=spark_image,
        timeout_seconds=3,
    )
    result = docker_backend.run(spec)
    assert result.timed_out
    assert result.exit_code is None
    from profiler.runtime.ownership import SESSION, SESSION_LABEL

    label = f"{SESSION_LABEL}={SESSION}"
    assert not docker_client.containers.list(
        all=True, filters={"label": label}, ignore_removed=True
    )
    assert not docker_client.networks.list(filters={"label": label})


def test_missing_image_exits_3(capsys, docker_client):
    with pytest.raises(SystemExit) as info:
        main(["check", TINY_JOB, "--image", "spark-seccomp/no-such-image:0"])
    assert info.value.code == 3
    assert "does not exist" in capsys.readouterr().err
