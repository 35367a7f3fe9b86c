"""The pod run's orchestration, driven by a fake engine that implements the real
primitives interface: which containers start in which order with what, how a run ends,
and that everything it made is removed however it ends."""

from __future__ import annotations

import pytest

from profiler import workloads
from profiler.errors import EnvironmentProblem
from profiler.runtime import orchestration
from profiler.runtime.command import RUNTIME_REFUSED_EXIT, command_shape
from profiler.runtime.interface import (
    ContainerRef,
    Role,
    RunObserver,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.orchestration import PodRun, run_one_off
from tests.fakes import FakePrimitives, Script


@pytest.fixture(autouse=True)
def no_waiting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(orchestration, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(orchestration, "EXECUTOR_GRACE_SECONDS", 0.0)


class Observer(RunObserver):
    def __init__(self) -> None:
        self.events: list[object] = []

    def before_start(self) -> None:
        self.events.append("before_start")

    def started(self, host_pid: int, container: ContainerRef) -> None:
        self.events.append((host_pid, container.role, container.name))

    def finished(self) -> None:
        self.events.append("finished")


def _spec(**fields: object) -> RunSpec:
    base: dict[str, object] = dict(
        workload=workloads.resolve("rdd_python"),
        mode=SecurityMode.RUNTIME_DEFAULT,
        image="img",
        timeout_seconds=30.0,
    )
    base.update(fields)
    return RunSpec(**base)  # type: ignore[arg-type]


def _everything_removed(engine: FakePrimitives) -> None:
    assert engine.containers and all(c.removed for c in engine.containers)
    assert len(engine.closed) == len(engine.opened)
    assert engine.removed_networks == engine.networks


def test_a_pod_run_starts_master_driver_and_executors_and_removes_them_all(tmp_path) -> None:
    engine = FakePrimitives({"driver": Script(polls=3, stdout='{"workload": "rdd_python"}\n')})
    observer = Observer()
    result = PodRun(
        engine, _spec(executors=2), tmp_path / "run", observer, executor_java_options=("-Dx=1",)
    ).execute()
    assert result.succeeded, result.containers
    roles = [c.shape.role for c in engine.containers]
    assert roles == [None, Role.DRIVER, Role.EXECUTOR, Role.EXECUTOR]
    master, driver, first, second = engine.containers
    # The engine assigned the addresses; the plan put them where Spark reads them.
    driver_env = dict(driver.shape.env)
    assert driver_env["SPARK_DRIVER_BIND_ADDRESS"] == driver.site.address
    executor_env = dict(second.shape.env)
    assert executor_env["SPARK_EXECUTOR_POD_IP"] == second.site.address != driver.site.address
    assert executor_env["SPARK_DRIVER_POD_IP"] == driver.site.address
    assert executor_env["SPARK_APPLICATION_ID"] == "app-20260101-0001"
    assert executor_env["SPARK_JAVA_OPT_0"] == "-Dx=1"
    # The driver's Service names are the engine's to make resolve.
    driver_pod = engine.opened[1]
    assert driver_pod.dns_names[0].endswith("-driver-svc") and driver_pod.networked
    assert driver_pod.namespace == "default"
    # The master is neither observed nor confined; the application's pods are.
    assert master.shape.seccomp_mode is SecurityMode.UNCONFINED
    assert observer.events[0] == "before_start" and observer.events[-1] == "finished"
    assert [e[1] for e in observer.events[1:-1]] == [Role.DRIVER, Role.EXECUTOR, Role.EXECUTOR]
    assert [c.role for c in result.containers] == [Role.DRIVER, Role.EXECUTOR, Role.EXECUTOR]
    assert result.container_id == "fake-2"
    assert (tmp_path / "run" / "run.json").is_file()
    assert (tmp_path / "run" / "spark.properties").is_file()
    assert (tmp_path / "run" / "master.stderr.txt").read_text().startswith("Starting Spark")
    _everything_removed(engine)


def test_a_local_run_is_one_container_with_no_network() -> None:
    engine = FakePrimitives()
    result = PodRun(engine, _spec(topology=Topology.LOCAL)).execute()
    assert result.succeeded
    (container,) = engine.containers
    assert container.shape.role is Role.ALL and container.site.address is None
    assert container.shape.pod.hostname == "localhost" and not container.shape.pod.networked
    assert engine.networks == []
    _everything_removed(engine)


def test_a_driver_the_oci_runtime_refuses_to_start_is_a_failed_container() -> None:
    engine = FakePrimitives({"driver": Script(refused=True)})
    result = PodRun(engine, _spec(mode=SecurityMode.LOCALHOST, profile_json="{}")).execute()
    assert not result.succeeded
    failed = result.failed_container()
    assert failed is not None and failed.role is Role.DRIVER
    assert failed.start_error == "OCI runtime start failed: fake init died"
    assert "could not start the container under its seccomp profile" in failed.last_error_line()
    assert [c.shape.role for c in engine.containers] == [None, Role.DRIVER]  # no executor
    _everything_removed(engine)


def test_an_executor_the_runtime_refuses_stops_the_driver() -> None:
    engine = FakePrimitives({"driver": Script(polls=None), "executor": Script(refused=True)})
    result = PodRun(engine, _spec(executors=2)).execute()
    driver, executor = result.containers
    assert executor.start_error is not None and not result.succeeded
    assert driver.orphaned and "an executor pod could not start" in driver.notes[0]
    _everything_removed(engine)


def test_a_driver_that_never_ends_times_out_and_is_killed() -> None:
    engine = FakePrimitives({"driver": Script(polls=None), "executor": Script(polls=None)})
    result = PodRun(engine, _spec(timeout_seconds=0.2)).execute()
    assert result.timed_out and result.exit_code is None
    driver = result.containers[0]
    assert driver.timed_out and not driver.succeeded
    # Executors still running after the driver ended are stopped, as the operator does.
    assert all(c.stopped_after_driver for c in result.containers[1:])
    _everything_removed(engine)


def test_executors_that_never_register_leave_the_driver_orphaned(monkeypatch) -> None:
    monkeypatch.setattr(orchestration, "ORPHANED_DRIVER_SECONDS", 0.0)
    # Each executor dies at once (it never reaches the driver); the driver would wait.
    engine = FakePrimitives(
        {"driver": Script(polls=None), "executor": Script(polls=1, exit_code=1)}
    )
    result = PodRun(engine, _spec()).execute()
    driver = result.containers[0]
    assert driver.orphaned and "every executor pod had exited" in driver.notes[0]
    failed = result.failed_container()
    assert failed is not None and not result.succeeded
    _everything_removed(engine)


def test_a_driver_that_never_registers_runs_alone() -> None:
    engine = FakePrimitives(registers=False)
    result = PodRun(engine, _spec()).execute()
    assert result.succeeded and len(result.containers) == 1
    assert any("never registered" in n for n in result.notes)
    _everything_removed(engine)


@pytest.mark.parametrize("interrupt", [KeyboardInterrupt(), SystemExit(143)])
def test_an_interrupt_removes_everything_and_counts_it(interrupt: BaseException) -> None:
    engine = FakePrimitives({"driver": Script(polls=None)})
    counted: list[None] = []
    run = PodRun(engine, _spec(), on_removed_while_unwinding=lambda: counted.append(None))
    original = engine.state

    def state(container):  # the interrupt arrives while the run waits for the driver
        if container.shape.role is Role.EXECUTOR:
            engine.interrupt_on_state = interrupt
        return original(container)

    engine.state = state  # type: ignore[method-assign]
    with pytest.raises(type(interrupt)):
        run.execute()
    _everything_removed(engine)
    if isinstance(interrupt, KeyboardInterrupt):
        assert len(counted) == len(engine.containers)


def test_an_engine_that_went_away_is_waited_for_and_then_everything_goes(capsys) -> None:
    engine = FakePrimitives()
    engine.lost_removals = 1  # the first removal finds the engine gone; it answers again
    with pytest.raises(EnvironmentProblem, match="the Fake engine stopped answering"):
        PodRun(engine, _spec(topology=Topology.LOCAL)).execute()
    assert "waiting up to 180 s for the Fake engine" in capsys.readouterr().err
    _everything_removed(engine)


def test_a_master_that_exits_is_an_environment_problem() -> None:
    engine = FakePrimitives({"master": Script(polls=1, exit_code=1)}, registers=False)
    engine.logs = lambda container: ("", "Error: no jars\n")  # type: ignore[method-assign]
    with pytest.raises(EnvironmentProblem, match="standalone master .* exited: Error: no jars"):
        PodRun(engine, _spec()).execute()
    _everything_removed(engine)


def test_a_one_off_command_answers_125_when_the_runtime_refuses_it() -> None:
    engine = FakePrimitives({"all": Script(refused=True, stderr="futexwakeup failed\n")})
    shape = command_shape("img", ["true"], SecurityMode.LOCALHOST, "{}")
    code, _, stderr = run_one_off(engine, shape, 10.0)
    assert code == RUNTIME_REFUSED_EXIT
    assert stderr.startswith("OCI runtime start failed") and "futexwakeup" in stderr
    assert engine.containers[0].removed


def test_a_one_off_command_that_times_out_is_killed_and_removed() -> None:
    engine = FakePrimitives({"all": Script(polls=None)})
    shape = command_shape("img", ["sleep", "1000"], SecurityMode.UNCONFINED, mounts={"/h": "/m"})
    code, _, _ = run_one_off(engine, shape, 0.1)
    (container,) = engine.containers
    assert code is None and container.exit_code == 137 and container.removed
    assert {(b.source, b.target) for b in shape.binds} >= {("/h", "/m")}
    assert shape.user == 185 and shape.read_only_root and not shape.pod.networked
