"""Synthetic run-directory files, written the way the real commands write them."""

from __future__ import annotations

import json
import random
from pathlib import Path

from profiler.bench.microbench import analyse_microbench, microbench_to_json
from profiler.bench.stats import Sample, analyse_bench, bench_to_json

WORKLOADS = ("etl", "ml-pipeline", "pandas-udf", "streaming")
COMMON = ("read", "write", "openat", "close", "futex", "mmap", "munmap", "epoll_wait", "clone3")


def write_check(run_dir: Path) -> None:
    cells = []
    modes = ("unconfined", "runtime-default", "localhost")
    for workload in WORKLOADS:
        for mode in modes:
            verdict = "pass"
            error = ""
            if workload == "pandas-udf" and mode == "localhost":
                verdict, error = "fail", "PermissionError: [Errno 1] Operation not permitted"
            if workload == "streaming" and mode == "runtime-default":
                verdict, error = "timeout", "timed out after 600 s"
            runs = [
                {
                    "verdict": verdict if i == 0 else "pass",
                    "exit_code": 0,
                    "wall_seconds": 40.0 + i,
                    "job_seconds": 30.0,
                    "cpu_seconds": 90.0,
                    "checksum": "abc",
                    "error_line": error if i == 0 else "",
                    "run_dir": None,
                }
                for i in range(3)
            ]
            cells.append(
                {
                    "workload": workload,
                    "mode": mode,
                    "verdict": verdict,
                    "passes": 3 if verdict == "pass" else 2,
                    "median_wall_seconds": 41.0,
                    "diagnosis": ["denied: pidfd_open (seccomp)"] if verdict == "fail" else [],
                    "runs": runs,
                }
            )
    data = {
        "image": "spark-seccomp/spark:3.5.3",
        "pod_security": "restricted",
        "modes": list(modes),
        "workloads": list(WORKLOADS),
        "profile": "profile.json",
        "repeat": 3,
        "passed": False,
        "cells": cells,
    }
    (run_dir / "check.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def bench_samples(rounds: int = 12) -> list[Sample]:
    rng = random.Random(11)
    factors = {"unconfined": 1.0, "runtime-default": 1.005, "generated": 1.02}
    samples = []
    for r in range(rounds):
        drift = 1 + rng.gauss(0, 0.02)
        for index, workload in enumerate(WORKLOADS):
            base = 30.0 + 15 * index
            for mode, factor in factors.items():
                wall = base * factor * drift * (1 + rng.gauss(0, 0.004))
                samples.append(Sample(workload, mode, r, wall, wall - 9, wall * 3.1))
    return samples


def write_bench(run_dir: Path) -> None:
    environment = {
        "kernel": "6.8.0-45-generic",
        "engine": "Docker 27.3.1",
        "runc": "1.1.14",
        "cpu_model": "AMD EPYC 7B13",
        "cpu_count": 8,
        "speculation_store_bypass": "thread vulnerable",
        "bpf_jit": 1,
        "image": "spark-seccomp/spark:3.5.3",
        "spark_version": "3.5.3",
    }
    report = analyse_bench(bench_samples(), environment=environment)
    (run_dir / "bench.json").write_text(bench_to_json(report))


def write_microbench(run_dir: Path) -> None:
    rng = random.Random(5)
    medians = {"unconfined": 48, "runtime-default": 71, "generated": 80, "one-arg-rule": 96}
    samples = {m: [v * (1 + rng.gauss(0, 0.02)) for _ in range(15)] for m, v in medians.items()}
    report = analyse_microbench(samples, syscall="getppid", iterations=1_000_000)
    (run_dir / "microbench.json").write_text(microbench_to_json(report))


def write_profile(run_dir: Path) -> None:
    generated = sorted({*COMMON, "pidfd_open", "io_uring_setup", "sched_getaffinity"})
    profile = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 1,
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"names": generated, "action": "SCMP_ACT_ALLOW"},
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
        ],
    }
    (run_dir / "profile.json").write_text(json.dumps(profile, indent=2) + "\n")
    default = {
        "name": "docker-default",
        "allowed": sorted({*COMMON, "sched_getaffinity", "uname", "setns", "unshare", "mount"}),
    }
    (run_dir / "runtime_default.json").write_text(json.dumps(default, indent=2) + "\n")


def write_summary(run_dir: Path) -> None:
    syscalls = {}
    for name in COMMON:
        syscalls[name] = {
            "runs": 8,
            "of_runs": 8,
            "workloads": list(WORKLOADS),
            "roles": {"driver JVM": 100, "executor JVM": 200},
        }
    syscalls["pidfd_open"] = {
        "runs": 2,
        "of_runs": 8,
        "workloads": ["pandas-udf"],
        "roles": {"python worker": 3},
    }
    syscalls["io_uring_setup"] = {
        "runs": 2,
        "of_runs": 8,
        "workloads": ["streaming"],
        "roles": {"executor JVM": 1},
    }
    syscalls["sched_getaffinity"] = {
        "runs": 8,
        "of_runs": 8,
        "workloads": ["etl", "ml-pipeline", "pandas-udf"],
        "roles": {"driver JVM": 4},
    }
    summary = {
        "profile": {"image": "spark-seccomp/spark:3.5.3", "tracer": "ebpf", "runs": 8},
        "syscalls": syscalls,
        "held_back": {"ptrace": "debugging only; Spark does not need it"},
    }
    (run_dir / "profile.summary.json").write_text(json.dumps(summary, indent=2) + "\n")


def write_all(run_dir: Path) -> None:
    write_check(run_dir)
    write_bench(run_dir)
    write_microbench(run_dir)
    write_profile(run_dir)
    write_summary(run_dir)


def write_bound(run_dir: Path) -> None:
    """bound.json for etl in one container (role "all"), generated and runtime-default."""
    from profiler.bench.bound import BoundReport, CallCost, RoleBound, bound_to_json

    def bound(mode: str, label: str, share: float) -> RoleBound:
        cpu = 93.0
        return RoleBound(
            "etl",
            "all",
            mode,
            label,
            250_000,
            120 if mode == "runtime-default" else 0,
            cpu,
            share * cpu,
            share,
            share * 0.9,
            share * 1.1,
            0.95,
            1,
            12,
            ("refused with ENOSYS and retried by libc: clone3 -> clone",)
            if mode == "runtime-default"
            else (),
        )

    report = BoundReport(
        costs=(
            CallCost("generated", "", "cached", 13.6, 11.1, 16.6, "cached"),
            CallCost("runtime-default", "", "cached", 13.3, 10.9, 14.5, "cached"),
            CallCost(
                "runtime-default",
                "clone",
                "argument-checked",
                119.5,
                116.5,
                121.8,
                "runs 589 instructions",
            ),
        ),
        bounds=(
            bound("generated", "generated", 0.0002),
            bound("runtime-default", "runtime-default", 0.00021),
        ),
    )
    (run_dir / "bound.json").write_text(bound_to_json(report))
