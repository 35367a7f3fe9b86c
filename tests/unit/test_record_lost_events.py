"""A recording whose eBPF tracer lost events says so: in record's warnings (with what the
verification makes of it), in the profile's summary, and in `profile explain`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import record as record_lib
from profiler import workloads
from profiler.cli import main
from profiler.runtime.run_shape import RunShape
from profiler.tracing.interface import Recording
from tests.fakes import FakeBackend

LOST = (
    "the eBPF tracer lost 12 events in rdd_python run 1: processes it did not see start may "
    "be credited to the wrong process in the summary or, on the local backend, left out of "
    "the profile"
)
AGAIN = "record again with BPFTRACE_PERF_RB_PAGES=1024 set for a larger bpftrace buffer"


def recordings(lost: int = 12) -> list[Recording]:
    """One pod run, its two roles each carrying the run's count."""
    return [
        Recording(
            workload="rdd_python",
            run_index=1,
            tracer="ebpf",
            arch="x86_64",
            pod_security="restricted",
            counts={"read": {"executor JVM": 3}, "futex": {"driver JVM": 2}},
            role=role,
            lost_events=lost,
        )
        for role in ("driver", "executor")
    ]


def outcome(tmp_path: Path, backend: FakeBackend | None, lost: int = 12):
    plan = record_lib.RecordPlan((workloads.resolve("rdd_python"),), RunShape("img"))
    return record_lib.record_profile(
        [backend] if backend is not None else [],
        plan,
        record_lib.DeriveOptions(),
        run_root=tmp_path,
        recordings=recordings(lost),
        verify=backend is not None,
    )


def test_unverified_profiles_are_not_vouched_for(tmp_path: Path) -> None:
    assert outcome(tmp_path, None).warnings == (
        f"{LOST}; the profile was not verified, so a job may need a call it denies; {AGAIN}",
    )


@pytest.mark.parametrize(
    ("exit_code", "verdict"),
    [
        (0, "verification passed under the profile, so the recorded jobs have what they need"),
        (1, "verification failed, and the lost events may be why"),
    ],
)
def test_verification_says_whether_the_profile_still_holds(
    tmp_path: Path, exit_code: int, verdict: str
) -> None:
    backend = FakeBackend(lambda spec: (exit_code, False, "x", "boom"))
    assert outcome(tmp_path, backend).warnings == (f"{LOST}; {verdict}; {AGAIN}",)


def test_no_loss_no_warning(tmp_path: Path) -> None:
    result = outcome(tmp_path, None, lost=0)
    assert result.warnings == ()
    assert "lost_events" not in result.union.summary.to_dict()


def test_the_summary_keeps_the_count_and_merging_keeps_it(tmp_path: Path) -> None:
    from profiler.seccomp.compare import merge_summaries
    from profiler.seccomp.generate import Summary

    summary = outcome(tmp_path, None).union.summary
    assert summary.to_dict()["lost_events"] == {"rdd_python run 1": 12}
    again = Summary.from_dict(json.loads(summary.to_json()))
    assert again.lost_events == {"rdd_python run 1": 12}
    assert merge_summaries([again, again]).lost_events == {"rdd_python run 1": 12}


def test_record_and_explain_print_the_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for recording in recordings():
        recording.save(runs / f"recording.{recording.role}.json")
    out = tmp_path / "p.json"
    args = ["record", "--from-recordings", str(runs), "--no-verify", "-o", str(out)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--run-dir", str(tmp_path / "run")])
    assert info.value.code in (0, None)
    err = capsys.readouterr().err
    expected = f"{LOST}; the profile was not verified, so a job may need a call it denies; {AGAIN}"
    assert f"warning: {expected}" in err.splitlines()
    with pytest.raises(SystemExit) as info:
        main(["profile", "explain", str(out)])
    assert info.value.code in (0, None)
    assert f"warning: {LOST}" in capsys.readouterr().err.splitlines()
