import xml.etree.ElementTree as ET
from pathlib import Path

from profiler import workloads
from profiler.check import CheckOptions, Verdict, run_check
from profiler.report.check_formats import check_to_json, check_to_junit
from profiler.runtime.interface import SecurityMode
from tests.fakes import FakeBackend, check_plan

U, R, L = SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST


def _workloads(*names):
    return [workloads.resolve(n) for n in names]


def test_unconfined_runs_first_and_every_cell_passes():
    backend = FakeBackend(lambda spec: (0, False, "abc", ""))
    report = run_check(
        backend,
        check_plan(_workloads("rdd_python"), [R, U], repeat=2),
        CheckOptions(timeout_seconds=5),
    )
    assert [s.mode for s in backend.specs] == [U, R, U, R]
    assert report.passed
    assert report.cell("rdd_python", R).passes == 2


def test_failure_timeout_and_mismatch_verdicts():
    def outcome(spec):
        if spec.mode is L:
            return 1, False, "", "java.lang.OutOfMemoryError: unable to create native thread\n"
        if spec.workload.name == "ml_pipeline" and spec.mode is R:
            return 0, False, "different", ""
        if spec.workload.name == "pandas_udf" and spec.mode is R:
            return None, True, "", ""
        return 0, False, "same", ""

    report = run_check(
        FakeBackend(outcome),
        check_plan(_workloads("ml_pipeline", "pandas_udf"), [U, R, L], profile_json="{}"),
    )
    assert not report.passed
    assert report.cell("ml_pipeline", U).verdict is Verdict.PASS
    assert report.cell("ml_pipeline", R).verdict is Verdict.MISMATCH
    assert report.cell("pandas_udf", R).verdict is Verdict.TIMEOUT
    failed = report.cell("ml_pipeline", L)
    assert failed.verdict is Verdict.FAIL
    assert "unable to create native thread" in failed.runs[0].error_line


def test_one_failure_in_several_runs_fails_the_cell():
    calls = iter([0, 0, 0, 1])
    backend = FakeBackend(lambda spec: (next(calls), False, "x", "boom error"))
    report = run_check(backend, check_plan(_workloads("rdd_python"), [U, R], repeat=2))
    assert report.cell("rdd_python", R).verdict is Verdict.FAIL
    assert report.cell("rdd_python", R).passes == 1


def test_reference_checksums_stand_in_for_unconfined_runs():
    backend = FakeBackend(lambda spec: (0, False, "new", ""))
    report = run_check(
        backend,
        check_plan(
            _workloads("rdd_python"),
            [L],
            profile_json="{}",
            reference_checksums={"rdd_python": "recorded"},
        ),
    )
    assert report.cell("rdd_python", L).verdict is Verdict.MISMATCH


def test_json_and_junit_outputs(tmp_path: Path):
    backend = FakeBackend(
        lambda spec: (0, False, "a", "") if spec.mode is U else (2, False, "", "Error: x")
    )
    report = run_check(backend, check_plan(_workloads("rdd_python"), [U, R]))
    assert check_to_json(report) == check_to_json(report)
    assert '"verdict": "fail"' in check_to_json(report)
    root = ET.fromstring(check_to_junit(report).split("?>", 1)[1])
    suites = {s.get("name"): s for s in root}
    assert suites["seccomp-unconfined"].get("failures") == "0"
    assert suites["seccomp-runtime-default"].get("failures") == "1"
    assert root.find(".//failure").get("message") == "exit 2: Error: x"


def _pod_result(driver_exit, executor_exit, *, orphaned=False, stopped=False):
    from profiler.runtime.interface import ContainerResult, Role, RunResult, RunSpec

    spec = RunSpec(workloads.resolve("rdd_python"), L, "img", profile_json="{}")
    driver = ContainerResult(
        Role.DRIVER, "app-driver", driver_exit, False, 20.0, None, "", "", orphaned=orphaned
    )
    executor = ContainerResult(
        Role.EXECUTOR,
        "app-exec-1",
        executor_exit,
        False,
        10.0,
        None,
        "",
        'Exception in thread "main" java.lang.reflect.UndeclaredThrowableException\n'
        "Caused by: java.net.UnknownHostException: app-driver-svc.default.svc\n",
        stopped_after_driver=stopped,
    )
    return RunResult(
        spec, driver_exit, False, 20.0, None, "", "", None, containers=(driver, executor)
    )


def test_a_dead_executor_fails_the_run_even_when_the_driver_passes():
    from profiler.check import judge

    outcome = judge(_pod_result(0, 1), None)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.error_line.startswith("executor app-exec-1: exit 1: ")


def test_an_orphaned_driver_is_blamed_on_its_executors():
    from profiler.check import judge

    outcome = judge(_pod_result(137, 1, orphaned=True), None)
    assert outcome.verdict is Verdict.FAIL
    assert outcome.error_line.startswith("executor app-exec-1: exit 1: ")
    assert "UnknownHostException" in outcome.error_line


def test_an_executor_stopped_after_its_driver_ended_is_no_failure():
    from profiler.check import judge

    assert judge(_pod_result(0, 143, stopped=True), None).verdict is Verdict.PASS
