"""`k8s harden`'s pipeline on fakes: what is recorded, written and dry-run, and that the
same recordings give the same bytes."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.k8s.harden import HardenOptions
from profiler.k8s.harden_run import HardenRequest, harden_apps, output_files, plan_hardening
from profiler.k8s.lint import lint_files
from profiler.k8s.sparkapp import Seccomp
from profiler.runtime.interface import ContainerResult, Role, RunResult
from profiler.seccomp.profile import load_profile
from tests.fakes import FakeBackend, FakeNodeEngine, FakeTracer

APPS = Path(__file__).parents[2] / "fixtures" / "k8s" / "apps"


class PodBackend(FakeBackend):
    """Every run passes, with a driver and an executor container, as a pod run reports."""

    def __init__(self) -> None:
        super().__init__(lambda _spec: (0, False, "abc", ""))

    def run(self, spec, run_dir=None, observer=None) -> RunResult:
        result = super().run(spec, run_dir, observer)
        containers = tuple(
            ContainerResult(role, f"pod-{role.value}", 0, False, 1.0, None, "", "")
            for role in (Role.DRIVER, Role.EXECUTOR)
        )
        return replace(result, containers=containers)


def _request(out: Path, **changes: object) -> HardenRequest:
    request = HardenRequest(files=(APPS / "orders-java.yaml",), out_dir=out, executors=1)
    return replace(request, **changes)  # type: ignore[arg-type]


def _harden(tmp_path: Path, out: Path, request: HardenRequest | None = None):
    backend = PodBackend()
    report = harden_apps(
        request or _request(out),
        lambda: backend,
        make_tracer=FakeTracer,
        run_root=tmp_path / f"runs-{out.name}",
    )
    return report, backend


def test_records_the_hardened_application_writes_everything_and_dry_runs_it(tmp_path) -> None:
    report, backend = _harden(tmp_path, tmp_path / "out")
    assert report.passed
    (outcome,) = report.outcomes
    assert outcome.profile_sizes == {"driver": 5, "executor": 4}
    names = sorted(str(p.relative_to(tmp_path / "out")) for p in report.written)
    assert names == [
        "install.yaml",
        "orders.yaml",
        "seccomp/spark-seccomp/orders-driver.json",
        "seccomp/spark-seccomp/orders-executor.json",
    ]
    recorded, dry = backend.specs  # one recording, then the dry-run of the written manifest
    # recorded as it will be enforced: the hardened settings, the manifest's own run
    assert recorded.app_args == ("100000",) and recorded.workload.name == "analytics/orders"
    assert recorded.driver.security.read_only_root and recorded.driver.security.user == 185
    assert "/opt/spark/work-dir" in recorded.driver.security.writable_paths
    # the dry-run reads the profiles through the manifest's localhostProfile paths
    assert dry.driver.profile_label.endswith("seccomp/spark-seccomp/orders-driver.json")
    assert not lint_files([tmp_path / "out" / "orders.yaml"], tmp_path / "out" / "seccomp").findings


def test_the_same_recordings_give_the_same_bytes(tmp_path) -> None:
    first, _ = _harden(tmp_path, tmp_path / "first")
    second, _ = _harden(tmp_path, tmp_path / "second")
    for a, b in zip(first.written, second.written, strict=True):
        assert a.name == b.name and a.read_bytes() == b.read_bytes()


def test_runtime_default_records_nothing_and_writes_the_manifest_only(tmp_path) -> None:
    out = tmp_path / "out"
    request = _request(out, options=HardenOptions(seccomp=Seccomp.RUNTIME_DEFAULT))
    backend = PodBackend()
    report = harden_apps(request, lambda: backend, make_tracer=None, run_root=tmp_path / "r")
    assert report.passed and [p.name for p in report.written] == ["orders.yaml"]
    assert len(backend.specs) == 1  # the dry-run only
    assert output_files(request, plan_hardening(request)) == ["orders.yaml"]


def test_two_applications_of_one_name_cannot_share_a_folder(tmp_path) -> None:
    other = tmp_path / "other.yaml"
    other.write_text((APPS / "orders-java.yaml").read_text().replace("analytics", "sales"))
    request = _request(tmp_path / "out", files=(APPS / "orders-java.yaml", other))
    with pytest.raises(UsageError, match="would both be written as orders.yaml"):
        plan_hardening(request)


def test_what_the_newest_nodes_runtime_calls_after_the_filter_joins_the_profiles(
    tmp_path,
) -> None:
    """Recorded on the host's engine, the profiles must start under the newest node's
    runtimes too: one probe container there, and its runtime's calls in both roles."""
    node = FakeNodeEngine()

    def tracer(run_dir: Path) -> FakeTracer:
        if run_dir.name == "runtime-probe":
            return FakeTracer(run_dir, ("nanosleep",), driver_only=(), runtime_calls=("openat2",))
        return FakeTracer(run_dir)

    out = tmp_path / "out"
    report = harden_apps(
        _request(out),
        PodBackend,
        make_tracer=tracer,
        run_root=tmp_path / "runs",
        probe_engines=lambda: [node],
    )
    assert report.passed
    assert len([c for c in node.primitives.containers if c.started]) == 1
    tree = out / "seccomp" / "spark-seccomp"
    for role in ("driver", "executor"):
        allowed = load_profile(tree / f"orders-{role}.json").allowed()
        assert "openat2" in allowed and "nanosleep" not in allowed, role
