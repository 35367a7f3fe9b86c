"""The record pipeline with a fake backend and a fake tracer: what is recorded in which
shape, the profiles derived per role, the verification that decides whether they are
written, and recording under several OCI runtimes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import record
from profiler.errors import VerificationFailed
from profiler.record import UNION, DeriveOptions, RecordPlan
from profiler.runtime.interface import RunSpec, SecurityMode, Topology
from profiler.runtime.run_shape import RunShape
from profiler.workloads import Workload
from tests.fakes import FakeBackend, FakeEngine, FakeNodeEngine, FakeTracer


def _workload(name: str) -> Workload:
    return Workload(name, Path(f"/jobs/{name}.py"), "", True)


def _plan(**shape: object) -> RecordPlan:
    return RecordPlan(
        workloads=(_workload("a"), _workload("b")),
        shape=RunShape("img", **shape),  # type: ignore[arg-type]
        runs=2,
    )


def _passes(_spec: RunSpec) -> tuple[int | None, bool, str, str]:
    return 0, False, "42", ""


def test_every_workload_is_recorded_under_the_allow_all_filter_in_its_shape(tmp_path) -> None:
    backend = FakeBackend(_passes)
    outcome = record.record_profile(
        [backend], _plan(executors=3), DeriveOptions(), run_root=tmp_path, make_tracer=FakeTracer
    )
    recorded = [s for s in backend.specs if s.profile_label == "recording (allow all)"]
    assert [(s.workload.name, s.executors) for s in recorded] == [("a", 3)] * 2 + [("b", 3)] * 2
    assert all(s.mode is SecurityMode.LOCALHOST and s.topology is Topology.POD for s in recorded)
    assert json.loads(recorded[0].profile_json or "")["defaultAction"] == "SCMP_ACT_ALLOW"
    # A recording per run and pod role, saved in the run's folder.
    assert (tmp_path / "record" / "b" / "run-2" / "recording.executor.json").is_file()
    assert len(outcome.recordings) == 8


def test_pod_recordings_give_a_profile_per_role_and_their_union(tmp_path) -> None:
    outcome = record.record_profile(
        [FakeBackend(_passes)], _plan(), DeriveOptions(), run_root=tmp_path, make_tracer=FakeTracer
    )
    assert set(outcome.profiles) == {UNION, "driver", "executor"}
    assert "sendmmsg" in outcome.profiles["driver"].profile.allowed()
    assert "sendmmsg" not in outcome.profiles["executor"].profile.allowed()
    assert "sendmmsg" in outcome.union.profile.allowed()
    # Each run counts once in the union's summary, whatever its pods.
    assert outcome.union.summary.total_runs == 4


def test_the_profiles_are_verified_in_the_recorded_shape_against_recorded_results(
    tmp_path,
) -> None:
    backend = FakeBackend(_passes)
    outcome = record.record_profile(
        [backend], _plan(), DeriveOptions(), run_root=tmp_path, make_tracer=FakeTracer
    )
    assert outcome.verified and outcome.verification is not None
    verified = [s for s in backend.specs if s.profile_label != "recording (allow all)"]
    assert len(verified) == 2 and all(s.mode is SecurityMode.LOCALHOST for s in verified)
    # Each pod runs under its own role's profile.
    assert verified[0].driver.profile_json != verified[0].executor.profile_json


def test_a_profile_that_changes_a_result_is_not_verified(tmp_path) -> None:
    def mismatch_when_confined(spec: RunSpec) -> tuple[int | None, bool, str, str]:
        recording = spec.profile_label == "recording (allow all)"
        return 0, False, "42" if recording else "other", ""

    outcome = record.record_profile(
        [FakeBackend(mismatch_when_confined)],
        _plan(),
        DeriveOptions(),
        run_root=tmp_path,
        make_tracer=FakeTracer,
    )
    assert not outcome.verified


def test_a_workload_that_fails_while_recorded_stops_the_recording(tmp_path) -> None:
    backend = FakeBackend(lambda _spec: (1, False, "", "Error: no such table"))
    with pytest.raises(VerificationFailed, match="a exited 1 while being recorded"):
        record.record_profile(
            [backend], _plan(), DeriveOptions(), run_root=tmp_path, make_tracer=FakeTracer
        )


def test_recording_under_two_oci_runtimes_names_the_calls_only_one_made(tmp_path) -> None:
    runc, crun = FakeBackend(_passes), FakeBackend(_passes)
    runc.name, crun.name = "docker/runc", "docker/crun"

    def tracer(run_dir: Path) -> FakeTracer:
        extra = ("readlinkat",) if "docker-runc" in str(run_dir) else ()
        return FakeTracer(run_dir, ("read", "futex", *extra))

    outcome = record.record_profile(
        [runc, crun], _plan(), DeriveOptions(), run_root=tmp_path, make_tracer=tracer
    )
    assert outcome.union.summary.oci_runtime_only == {
        "docker/crun": (),
        "docker/runc": ("readlinkat",),
    }
    assert len(outcome.verifications) == 2 and outcome.verified
    # Each runtime's runs are numbered on, so every run counts once, in the files too:
    # derived again from them (--from-recordings), they are as many runs.
    assert sorted({r.run_index for r in outcome.recordings}) == [1, 2, 3, 4]
    saved = record.load_recordings([tmp_path])
    assert sorted({r.run_index for r in saved}) == [1, 2, 3, 4]
    again = record.record_profile(
        [], _plan(), DeriveOptions(), run_root=tmp_path / "again", recordings=saved, verify=False
    )
    assert again.union.summary.total_runs == outcome.union.summary.total_runs == 8


def test_the_runtime_role_is_named_with_the_oci_runtime_and_its_version(tmp_path) -> None:
    """What a runtime's init calls after the filter changes with its version: recordings
    on an engine name the role after the runtime it ran (FakeEngine says runc 1.1.5)."""
    engine = FakeEngine(_passes)

    def tracer(run_dir: Path) -> FakeTracer:
        return FakeTracer(run_dir, ("read",), runtime_calls=("openat2",))

    outcome = record.record_profile(
        [engine], _plan(), DeriveOptions(), run_root=tmp_path, make_tracer=tracer, verify=False
    )
    roles = outcome.union.summary.usage["openat2"].roles
    assert set(roles) == {"driver JVM", "container runtime (runc 1.1.5)"}
    assert "container runtime" not in outcome.union.summary.usage["read"].roles
    # A backend without an OCI runtime (the local one) keeps the plain role.
    local = record.record_profile(
        [FakeBackend(_passes)],
        _plan(),
        DeriveOptions(),
        run_root=tmp_path / "l",
        make_tracer=tracer,
        verify=False,
    )
    assert "container runtime" in local.union.summary.usage["openat2"].roles


def test_a_debian_runtime_version_is_named_as_upstream_names_it() -> None:
    class Sid(FakeEngine):
        def versions(self) -> dict[str, str]:
            return {"engine": "podman 5.8.6", "oci_runtime": "runc 1.3.6+ds1"}

    assert record.oci_runtime_of(Sid(_passes)) == "runc 1.3.6"
    assert record.oci_runtime_of(FakeBackend(_passes)) is None


def test_a_verification_engine_nothing_was_recorded_on_is_probed_for_its_runtimes_calls(
    tmp_path,
) -> None:
    """The probe's container runs there; only what its runtime called after the filter is
    kept, it joins every role's profile, and the summary names the engine that needed it."""
    host, node = FakeEngine(_passes), FakeNodeEngine()

    def tracer(run_dir: Path) -> FakeTracer:
        if run_dir.name == "runtime-probe":
            # The tracer sees the probe's sleep too; only the runtime's calls count.
            return FakeTracer(
                run_dir, ("nanosleep",), driver_only=(), runtime_calls=("close_range",)
            )
        return FakeTracer(run_dir, ("read", "write"))

    outcome = record.record_profile(
        [host],
        _plan(),
        DeriveOptions(),
        run_root=tmp_path,
        make_tracer=tracer,
        verify_on=[host, node],
        probe_on=[host, node],
    )
    assert outcome.verified
    started = [c for c in node.primitives.containers if c.started]
    assert len(started) == 1 and started[0].removed  # one probe container, removed
    assert started[0].shape.seccomp_mode is SecurityMode.LOCALHOST
    for key in (UNION, "driver", "executor"):
        allowed = outcome.profiles[key].profile.allowed()
        assert "close_range" in allowed and "nanosleep" not in allowed, key
    usage = outcome.union.summary.usage["close_range"]
    assert set(usage.roles) == {"container runtime (crun 1.28)"}
    assert outcome.union.summary.oci_runtime_only == {"podman/crun@sid": ("close_range",)}
    assert (tmp_path / "podman-crun-sid" / "runtime-probe" / "recording.executor.json").is_file()
    # The host's engine, recorded on, is not probed; without the option nothing is.
    plain = record.record_profile(
        [host],
        _plan(),
        DeriveOptions(),
        run_root=tmp_path / "plain",
        make_tracer=tracer,
        verify_on=[host, FakeNodeEngine()],
    )
    assert "close_range" not in plain.union.profile.allowed()
