"""EngineAdapter: a ContainerEngine made of primitives, here a fake engine's, the way the
Docker, Podman and containerd adapters (and the engines to come) are made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from profiler import workloads
from profiler.errors import EnvironmentProblem
from profiler.runtime import orchestration
from profiler.runtime.adapter import EngineAdapter
from profiler.runtime.interface import RunSpec, SecurityMode, Topology
from profiler.runtime.location import EngineLocation
from tests.fakes import FakePrimitives, Script


class Adapter(EngineAdapter, FakePrimitives):
    """An adapter on FakePrimitives; the executor JVM options come from its one-off
    command, as a real image answers them."""

    name = "fake"

    def __init__(self, *, runs_pods: bool = True, location: EngineLocation | None = None):
        FakePrimitives.__init__(
            self,
            {"all": Script(polls=1, stdout=json.dumps({"options": "-Da=1 -Db=2"}) + "\n")},
        )
        EngineAdapter.__init__(self, oci_runtime="crun", location=location)
        self.runs_pods = runs_pods
        self.images: list[str] = []

    def bundle_configs(self, container_id: str) -> list[Path]:
        return []

    def cleanup(self, session_only: bool = False) -> int:
        return 0

    def make_image_available(self, image: str) -> None:
        self.images.append(image)

    def versions(self) -> dict[str, str]:
        return {"engine": "fake 1", "oci_runtime": "crun 1.28"}

    def image_facts(self, image: str) -> tuple[str, dict[str, Any]]:
        return f"sha256:{image}", {}


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(orchestration, "POLL_SECONDS", 0.0)
    monkeypatch.setattr(orchestration, "EXECUTOR_GRACE_SECONDS", 0.0)
    monkeypatch.setenv("SPARK_SECCOMP_CACHE", str(tmp_path / "cache"))


def _spec(**fields: object) -> RunSpec:
    base: dict[str, object] = dict(
        workload=workloads.resolve("rdd_python"),
        mode=SecurityMode.RUNTIME_DEFAULT,
        image="img",
        timeout_seconds=30.0,
    )
    base.update(fields)
    return RunSpec(**base)  # type: ignore[arg-type]


def test_a_pod_run_asks_the_image_for_the_executor_jvm_options_once() -> None:
    engine = Adapter()
    result = engine.run(_spec())
    assert result.succeeded and engine.images == ["img"]
    executor = next(
        c for c in engine.containers if c.shape.role and c.shape.role.value == "executor"
    )
    env = dict(executor.shape.env)
    assert (env["SPARK_JAVA_OPT_0"], env["SPARK_JAVA_OPT_1"]) == ("-Da=1", "-Db=2")
    asked = len([c for c in engine.containers if c.shape.role and c.shape.role.value == "all"])
    engine.run(_spec())
    again = len([c for c in engine.containers if c.shape.role and c.shape.role.value == "all"])
    assert asked == again == 1  # cached by image id


def test_an_engine_without_pod_networks_runs_the_local_topology_and_says_so() -> None:
    engine = Adapter(runs_pods=False)
    said: list[str] = []
    assert engine.topology_for(Topology.POD, said.append) is Topology.LOCAL
    assert said and "local topology" in said[0]
    result = engine.run(_spec())
    assert result.spec.topology is Topology.LOCAL and engine.networks == []
    assert any("runs the local topology" in n for n in result.notes)


def test_an_engine_that_cannot_hold_a_container_refuses_a_tracer_that_needs_it() -> None:
    engine = Adapter()
    engine.holds_for_tracer = False
    with pytest.raises(EnvironmentProblem, match="cannot hold a container"):
        engine.run(_spec(hold_until_traced=True))
    assert engine.containers == []


def test_an_engine_elsewhere_says_where_in_its_label_and_sees_paths_under_its_rootfs(
    tmp_path: Path,
) -> None:
    engine = Adapter(location=EngineLocation(name="sid", rootfs=tmp_path))
    assert engine.label == "fake/crun@sid"
    assert engine.location.engine_path(tmp_path / "run" / "x") == "/run/x"
    with pytest.raises(EnvironmentProblem, match="outside the rootfs"):
        engine.location.engine_path("/etc/hosts")


def test_run_command_is_a_one_off_container_always_removed() -> None:
    engine = Adapter()
    code, out, _ = engine.run_command("img", ["python3", "-c", "1"], SecurityMode.UNCONFINED)
    assert code == 0 and "options" in out
    (container,) = engine.containers
    assert container.removed and container.shape.args == ("python3", "-c", "1")
    assert engine.images == ["img"]
