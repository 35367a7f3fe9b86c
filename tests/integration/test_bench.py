"""`spark-seccomp bench` end to end on the real engine: runs, micro-benchmark, report.

Kept small (two rounds of a tiny job, one micro-benchmark round and two per-call-cost
rounds with few calls; one bench for all its parts): this tests the path, not the numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler.cli import main
from profiler.seccomp.arch import known_syscalls, native_arch

FIXTURES = Path(__file__).parents[1] / "fixtures"
# Leaves the master to the run, so its tasks run in executor pods.
TINY_JOB = str(FIXTURES / "scripts" / "tiny_cluster_job.py")


@pytest.fixture()
def allow_list_profile(tmp_path: Path) -> Path:
    """Every known syscall allowed by name, default deny: shaped like a generated profile."""
    names = sorted(known_syscalls(native_arch()))
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": names, "action": "SCMP_ACT_ALLOW"}],
    }
    path = tmp_path / "allow-list.json"
    path.write_text(json.dumps(profile, indent=2) + "\n")
    return path


def test_bench_compares_runc_and_crun(
    spark_image: str, allow_list_profile: Path, tmp_path: Path, capsys: Any
) -> None:
    """Each OCI runtime's bench records it in its environment, and the comparison table
    gives each one's container lifecycle time and ns per call."""
    import os

    if os.geteuid() != 0:
        from tests.conftest import missing

        missing("Docker's crun runtime is set up by `make setup` as root")
    run_dir = tmp_path / "bench"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "bench",
                TINY_JOB,
                "--modes",
                "unconfined",
                "--profile",
                str(allow_list_profile),
                "--repeat",
                "1",
                "--warmup",
                "0",
                "--micro-repeat",
                "2",
                "--micro-iterations",
                "20000",
                "--no-bound",
                "--image",
                spark_image,
                "--oci-runtime",
                "runc,crun",
                "--timeout",
                "300",
                "--run-dir",
                str(run_dir),
            ]
        )
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "engines and OCI runtimes" in out and "container lifecycle s (generated)" in out
    for label, runtime in (("docker-runc", "runc"), ("docker-crun", "crun")):
        bench = json.loads((run_dir / label / "bench.json").read_text())
        assert bench["environment"]["oci_runtime"].startswith(f"{runtime} ")
        assert bench["environment"]["engine"].startswith("docker ")
        micro = json.loads((run_dir / label / "microbench.json").read_text())
        assert len(micro["container_seconds"]["generated"]) == 2


def test_a_short_bench_writes_samples_micro_benchmark_bound_and_report(
    spark_image: str, allow_list_profile: Path, tmp_path: Path, capsys: Any, need_bpftrace: None
) -> None:
    """One short bench of every part: two rounds of the three modes, the environment, the
    micro-benchmark, the bound (the job recorded once for its counts, as no --recordings is
    given; one call timed under RuntimeDefault, the profile and the recorder) and the
    report with its plots."""
    run_dir = tmp_path / "bench"
    with pytest.raises(SystemExit) as info:
        main(
            [
                "bench",
                TINY_JOB,
                "--modes",
                "unconfined,runtime-default,localhost",
                "--profile",
                str(allow_list_profile),
                "--repeat",
                "2",
                "--warmup",
                "0",
                "--micro-repeat",
                "1",
                "--micro-iterations",
                "20000",
                "--bound-repeat",
                "2",
                "--bound-iterations",
                "20000",
                "--image",
                spark_image,
                "--timeout",
                "300",
                "--run-dir",
                str(run_dir),
            ]
        )
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert "tiny_cluster_job" in out and "runtime-default" in out
    assert "CPU time per pod" in out
    assert "speculation_store_bypass" in out
    assert "the bound: recorded calls x added cost per call" in out
    assert "added cost of one call" in out

    bench = json.loads((run_dir / "bench.json").read_text())
    environment = bench["environment"]
    assert environment["kernel"]
    assert environment["speculation_store_bypass"] not in ("", "unknown")
    assert environment["seccomp_confined"] == "2"  # the probe really ran under a filter
    assert environment["seccomp_unconfined"] == "0"
    assert environment["spark_version"]
    assert bench["failed_runs"] == []
    assert {(s["mode"], s["round"]) for s in bench["samples"]} == {
        (mode, round_index)
        for mode in ("unconfined", "runtime-default", "localhost")
        for round_index in (0, 1)
    }
    assert all(s["cpu_seconds"] is None or s["cpu_seconds"] > 0 for s in bench["samples"])
    # Pod topology: the CPU of the driver pod and of the executor pods, measured apart.
    assert all(s["executor_cpu_seconds"] > 0 for s in bench["samples"])
    assert {(o["mode"], o["metric"]) for o in bench["role_overheads"]} == {
        (mode, metric)
        for mode in ("runtime-default", "localhost")
        for metric in ("driver_cpu", "executor_cpu")
    }

    micro = json.loads((run_dir / "microbench.json").read_text())
    assert micro["failed_runs"] == []
    assert set(micro["samples"]) == {
        "unconfined",
        "one-rule-filter",
        "runtime-default",
        "generated",
        "one-arg-rule",
    }
    assert micro["syscall"] == "getppid"

    bounds = {(b["role"], b["mode"]): b for b in bench["bound"]["bounds"]}
    assert set(bounds) == {
        (role, mode)
        for role in ("driver", "executor")
        for mode in ("runtime-default", "localhost", "recording")
    }
    for bound in bounds.values():
        assert bound["calls"] > 1000 and bound["cpu_seconds"] > 0
        assert bound["share_percent_low"] <= bound["share_percent"] <= bound["share_percent_high"]
    # Every call the allow-list profile allows is cached; RuntimeDefault checks clone's
    # flags and refuses clone3, which glibc retries with clone.
    assert bounds[("driver", "localhost")]["uncached_calls"] == 0
    assert bounds[("driver", "runtime-default")]["uncached_calls"] > 0
    costs = {(c["filter"], c["call"]) for c in bench["bound"]["costs"]}
    assert ("runtime-default", "clone") in costs and ("recording+ebpf", "") in costs
    assert json.loads((run_dir / "bound.json").read_text()) == bench["bound"]
    assert (run_dir / "bound" / "record" / "tiny_cluster_job" / "run-1").is_dir()

    report = (run_dir / "report.md").read_text()
    assert "What each filter can add" in report
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64") >= 2  # overhead and micro-benchmark plots
    assert (run_dir / "profile.json").read_text() == allow_list_profile.read_text()
