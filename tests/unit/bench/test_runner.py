"""The bench runner with fake backends: run order, failures, environment parsing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from profiler.bench.environment import (
    collect_environment,
    confined_status,
    parse_cpuinfo,
    parse_status,
)
from profiler.bench.microbench_run import (
    arg_checked_profile,
    choose_syscall,
    parse_loop_output,
    run_microbench,
)
from profiler.bench.runner import BenchPlan, round_order, run_bench, split_runs
from profiler.bench.stats import bench_from_json
from profiler.errors import UsageError
from profiler.runtime.interface import (
    ContainerSecurity,
    PodSecurity,
    ProfileSet,
    RunResult,
    RunSpec,
    SecurityMode,
)
from profiler.runtime.run_shape import RunShape
from profiler.workloads import Workload, WorkloadResult
from tests.fakes import FakeBackend, FakeEngine

FIXTURES = Path(__file__).parents[2] / "fixtures" / "bench"
U, R, L = SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST
ALLOW_ALL = json.dumps({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": []})


def workload(name: str) -> Workload:
    return Workload(name, Path(f"/jobs/{name}.py"), "", False)


def ok(_spec: RunSpec) -> tuple[int | None, bool, str, str]:
    return 0, False, "42", ""


def bench(backend: FakeBackend, run_root: Path | None = None, **fields: Any) -> Any:
    plan: dict[str, Any] = {
        "workloads": (workload("a"), workload("b")),
        "modes": (U, R, L),
        "shape": RunShape("img"),
        "profiles": ProfileSet.single(ALLOW_ALL, "allow all"),
        "repeat": 3,
    }
    plan.update(fields)
    return run_bench(backend, BenchPlan(**plan), run_root=run_root, environment={"kernel": "test"})


# --- order ----------------------------------------------------------------------------


def test_round_order_rotates_the_start_each_round() -> None:
    assert round_order([U, R, L], 0) == [U, R, L]
    assert round_order([U, R, L], 1) == [R, L, U]
    assert round_order([U, R, L], 2) == [L, U, R]
    assert round_order([U, R, L], 3) == [U, R, L]
    assert round_order([], 5) == []


def test_modes_are_interleaved_per_round_and_rotated() -> None:
    backend = FakeBackend(ok)
    bench(backend)
    order = [(s.workload.name, s.mode) for s in backend.specs]
    assert order == [
        ("a", U), ("a", R), ("a", L), ("b", U), ("b", R), ("b", L),  # round 1
        ("a", R), ("a", L), ("a", U), ("b", R), ("b", L), ("b", U),  # round 2
        ("a", L), ("a", U), ("a", R), ("b", L), ("b", U), ("b", R),  # round 3
    ]  # fmt: skip


def test_every_mode_takes_every_position_once_when_repeat_is_a_multiple() -> None:
    positions = {m: [round_order([U, R, L], r).index(m) for r in range(3)] for m in (U, R, L)}
    assert all(sorted(p) == [0, 1, 2] for p in positions.values())


def test_warm_up_runs_are_unconfined_first_and_not_sampled() -> None:
    backend = FakeBackend(ok)
    report = bench(backend, warmup=1, repeat=1)
    assert [(s.workload.name, s.mode) for s in backend.specs[:2]] == [("a", U), ("b", U)]
    assert len(backend.specs) == 2 + 6
    assert len(report.samples) == 6


def test_profile_only_goes_to_localhost_runs() -> None:
    backend = FakeBackend(ok)
    bench(backend, repeat=1)
    assert {s.mode: s.profile_json for s in backend.specs} == {U: None, R: None, L: ALLOW_ALL}


def test_localhost_without_profile_is_refused() -> None:
    with pytest.raises(ValueError, match="profile"):
        bench(FakeBackend(ok), profiles=None)


# --- samples and failures -------------------------------------------------------------


def test_samples_carry_round_wall_job_and_cpu() -> None:
    backend = FakeBackend(ok)
    report = bench(backend, repeat=2)
    first = next(s for s in report.samples if s.workload == "a" and s.mode == "unconfined")
    assert (first.round, first.wall_seconds, first.job_seconds, first.cpu_seconds) == (
        0,
        11.0,
        1.0,
        5.0,
    )
    assert {s.round for s in report.samples} == {0, 1}
    assert report.environment == {"kernel": "test"}


def test_failed_runs_are_reported_and_excluded(tmp_path: Path) -> None:
    def fails_b_localhost_once(spec: RunSpec) -> tuple[int | None, bool, str, str]:
        nth = sum(1 for s in backend.specs if s.workload.name == "b" and s.mode is L)
        if spec.workload.name == "b" and spec.mode is L and nth == 2:
            return 1, False, "", "java.lang.Error: pthread_create failed (EPERM)"
        return 0, False, "42", ""

    backend = FakeBackend(fails_b_localhost_once)
    report = bench(backend, run_root=tmp_path)
    assert len(backend.specs) == 18
    assert len(report.samples) == 17
    assert not any(
        s.workload == "b" and s.mode == "localhost" and s.round == 1 for s in report.samples
    )
    assert report.warnings[0] == (
        "b [localhost] round 2 failed: exit 1: java.lang.Error: pthread_create failed (EPERM)"
    )
    data = json.loads((tmp_path / "bench.json").read_text())
    assert data["failed_runs"] == [
        {
            "workload": "b",
            "mode": "localhost",
            "round": 1,
            "reason": "exit 1: java.lang.Error: pthread_create failed (EPERM)",
            "run_dir": str(tmp_path / "b" / "localhost-2"),
        }
    ]
    assert data["repeat"] == 3
    assert data["environment"] == {"kernel": "test"}
    again = bench_from_json((tmp_path / "bench.json").read_text())
    assert len(again.samples) == 17


def test_timeouts_and_wrong_results_are_failures_too() -> None:
    def spec(mode: SecurityMode) -> RunSpec:
        return RunSpec(workload("a"), mode, "img", profile_json=ALLOW_ALL if mode is L else None)

    def result(
        mode: SecurityMode, checksum: str | None, exit_code: int | None = 0, timed_out: bool = False
    ) -> RunResult:
        return RunResult(
            spec=spec(mode),
            exit_code=exit_code,
            timed_out=timed_out,
            wall_seconds=12.0,
            cpu_seconds=None,
            stdout="",
            stderr="",
            result=WorkloadResult("a", checksum, 0.0),
        )

    samples, failed = split_runs(
        [
            (0, result(U, "42")),
            (0, result(R, "41")),
            (0, result(L, None, exit_code=None, timed_out=True)),
            (1, result(U, "42")),
        ]
    )
    assert [(s.mode, s.round) for s in samples] == [("unconfined", 0), ("unconfined", 1)]
    assert samples[0].job_seconds is None  # 0 means the job did not time itself
    assert [(f.mode, f.reason) for f in failed] == [
        ("runtime-default", "result 41 differs from the unconfined result 42"),
        ("localhost", "timed out after 600 s"),
    ]


# --- environment ----------------------------------------------------------------------


def test_cpuinfo_x86_64_fixture() -> None:
    model, count = parse_cpuinfo((FIXTURES / "cpuinfo_x86_64.txt").read_text())
    assert model == "Intel(R) Xeon(R) Processor"
    assert count == 2


def test_cpuinfo_arm64_names_the_implementer() -> None:
    assert parse_cpuinfo((FIXTURES / "cpuinfo_arm64.txt").read_text()) == (
        "CPU implementer 0x41",
        2,
    )
    assert parse_cpuinfo("") == ("unknown", 0)


def test_status_lines_of_a_confined_process() -> None:
    status = parse_status((FIXTURES / "status_confined_runtime_default.txt").read_text())
    assert status == {
        "NoNewPrivs": "1",
        "Seccomp": "2",
        "Seccomp_filters": "1",
        "Speculation_Store_Bypass": "thread vulnerable",
    }
    old_kernel = parse_status((FIXTURES / "status_confined_pre516.txt").read_text())
    assert old_kernel["Speculation_Store_Bypass"] == "thread force mitigated"
    assert "SpeculationIndirectBranch" not in old_kernel


class FakeRunner(FakeEngine):
    """An engine with scripted outputs per seccomp mode, run with restricted security."""

    def __init__(self, outputs: Mapping[SecurityMode, tuple[int | None, str, str]]) -> None:
        super().__init__(ok, outputs)

    def run_command(self, *args: Any, **kwargs: Any) -> tuple[int | None, str, str]:
        result = super().run_command(*args, **kwargs)
        assert self.securities[-1] == ContainerSecurity.preset(PodSecurity.RESTRICTED)
        return result


def test_environment_records_engine_image_and_confined_status() -> None:
    confined = (FIXTURES / "status_confined_pre516.txt").read_text()
    runner = FakeRunner(
        {
            R: (0, confined, ""),
            U: (0, "Seccomp:\t0\nSpeculation_Store_Bypass:\tthread vulnerable\n", ""),
        }
    )
    environment = collect_environment(runner, "img")
    assert environment["speculation_store_bypass"] == "thread force mitigated"
    assert environment["speculation_store_bypass_unconfined"] == "thread vulnerable"
    assert environment["seccomp_confined"] == "2"
    assert environment["seccomp_filters_confined"] == "1"
    assert (environment["engine"], environment["oci_runtime"]) == ("fake 20.10.24", "runc 1.1.5")
    assert environment["containerd"] == "1.6.20"
    assert (environment["image_id"], environment["spark_version"]) == ("sha256:abc", "3.5.7")
    assert environment["kernel"] and environment["cpu_count"] >= 1
    assert runner.commands[0][0][:2] == ["grep", "-E"]
    assert runner.commands[0][1] is R


def test_a_failed_status_probe_is_recorded_not_fatal() -> None:
    runner = FakeRunner({R: (127, "", "grep: not found")})
    status = confined_status(runner, "img", R, ContainerSecurity.preset(PodSecurity.RESTRICTED))
    assert status == {"error": "status probe exited 127: grep: not found"}


def test_a_backend_without_commands_records_what_the_host_knows() -> None:
    environment = collect_environment(FakeBackend(ok), "img")
    assert environment["engine"] == "unknown"
    assert "speculation_store_bypass" not in environment
    assert environment["kernel"]


# --- micro-benchmark ------------------------------------------------------------------

GENERATED = json.dumps(
    {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [
            {"names": ["getpid", "getppid", "read"], "action": "SCMP_ACT_ALLOW"},
            {"names": ["ptrace"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        ],
    }
)


def test_the_measured_syscall_is_one_the_profile_allows_by_number() -> None:
    assert choose_syscall(None) == "getppid"
    assert choose_syscall(GENERATED) == "getppid"
    only_getpid = GENERATED.replace('"getppid", ', "")
    assert choose_syscall(only_getpid) == "getpid"
    assert choose_syscall(ALLOW_ALL) == "getppid"
    with pytest.raises(UsageError):
        choose_syscall(json.dumps({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}))


def test_arg_checked_profile_moves_the_syscall_to_a_conditional_rule() -> None:
    profile = json.loads(arg_checked_profile(GENERATED, "getppid"))
    rules = profile["syscalls"]
    assert rules[0]["names"] == ["getpid", "read"]
    assert rules[-1] == {
        "names": ["getppid"],
        "action": "SCMP_ACT_ALLOW",
        "args": [{"index": 0, "value": 0, "valueTwo": 0, "op": "SCMP_CMP_EQ"}],
    }
    assert sum("getppid" in r["names"] for r in rules) == 1  # no unconditional allow left


def test_loop_output_parsing() -> None:
    line = '{"syscall": "getppid", "iterations": 1000, "ns_per_call": 71.5}\n'
    assert parse_loop_output("noise\n" + line) == 71.5
    assert parse_loop_output("") is None
    assert parse_loop_output('{"ns_per_call": 0}') is None


def test_microbench_interleaves_modes_and_reports_failures(tmp_path: Path) -> None:
    def line(ns: float) -> str:
        return json.dumps({"syscall": "getppid", "iterations": 1000, "ns_per_call": ns})

    runner = FakeRunner(
        {U: (0, line(50.0), ""), R: (0, line(60.0), ""), L: (2, "", "getppid failed: EPERM")}
    )
    binary = tmp_path / "tools" / "syscall_loop-test"
    run = run_microbench(
        runner, "img", profile_json=GENERATED, repeat=2, iterations=1000, binary=binary,
        run_root=tmp_path,
    )  # fmt: skip
    modes = [(mode, profile is not None) for _, mode, profile in runner.commands]
    # unconfined, one-rule-filter, runtime-default, generated, one-arg-rule; rotated.
    assert modes == [(U, False), (L, True), (R, False), (L, True), (L, True)] + [
        (L, True), (R, False), (L, True), (L, True), (U, False),
    ]  # fmt: skip
    argv = runner.commands[0][0]
    assert argv == ["/opt/spark-seccomp-bench/syscall_loop-test", "getppid", "1000"]
    assert [r.mode for r in run.report.results] == ["unconfined", "runtime-default"]
    assert run.report.result("runtime-default").added_ns == pytest.approx(10.0)  # type: ignore[union-attr]
    assert {f.mode for f in run.failed} == {"one-rule-filter", "generated", "one-arg-rule"}
    data = json.loads((tmp_path / "microbench.json").read_text())
    assert len(data["failed_runs"]) == 6
    assert data["samples"] == {"runtime-default": [60.0, 60.0], "unconfined": [50.0, 50.0]}


# --- command line ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--modes", "unconfined,localhost"], "localhost mode needs a profile"),
        (["--precision", "2"], "precision 2.0 is not a fraction"),
        (["--modes", "unconfined,sandboxed"], "unknown mode 'sandboxed'"),
    ],
)
def test_bench_usage_errors_exit_2_before_touching_docker(
    argv: list[str], message: str, capsys: Any
) -> None:
    from profiler.cli import main

    with pytest.raises(SystemExit) as info:
        main(["bench", "rdd_python", *argv])
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_runs_already_made_count_as_the_first_rounds() -> None:
    made = FakeBackend(ok)
    earlier = bench(made, repeat=1)  # round 0 of a and b, as the demo's check runs them
    assert len(earlier.samples) == 6
    first = [(0, made.run(spec)) for spec in list(made.specs)]
    backend = FakeBackend(ok)
    report = run_bench(
        backend,
        BenchPlan(
            workloads=(workload("a"),),
            modes=(U, R, L),
            shape=RunShape("img"),
            profiles=ProfileSet.single(ALLOW_ALL, "allow all"),
            repeat=3,
        ),
        environment={"kernel": "test"},
        first_rounds=first,
    )
    # Only rounds 2 and 3 of workload a ran; b's given runs are not this bench's.
    assert [(s.workload.name, s.mode) for s in backend.specs] == [
        ("a", R), ("a", L), ("a", U), ("a", L), ("a", U), ("a", R),
    ]  # fmt: skip
    assert sorted({s.round for s in report.samples}) == [0, 1, 2]
    assert len(report.samples) == 9 and report.workloads == ("a",)
    with pytest.raises(ValueError, match="rounds given"):
        run_bench(
            backend,
            BenchPlan(workloads=(workload("a"),), modes=(U,), shape=RunShape("img"), repeat=1),
            first_rounds=[(1, first[0][1])],
        )
