"""record -> derive -> verify on the real engine, with both tracers and real Spark jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.cli import main
from profiler.image import DEFAULT_SPARK_VERSION
from profiler.tracing.interface import ROLE_DRIVER_JVM, ROLE_PYTHON_DRIVER, ROLE_RUNTIME, Recording

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_JOB = str(FIXTURES / "scripts" / "tiny_job.py")
# Calls runc makes inside the container before the filter is installed; none may land.
RUNTIME_SETUP = {"mount", "pivot_root", "sethostname", "keyctl", "umount2", "setns", "unshare"}


def cli(*args: str) -> int:
    with pytest.raises(SystemExit) as info:
        main(list(args))
    return int(info.value.code or 0)


@pytest.fixture(scope="module")
def ebpf_recording(tmp_path_factory, spark_image) -> Path:
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        from tests.conftest import missing

        missing("the eBPF tracer needs root and bpftrace")
    root = tmp_path_factory.mktemp("ebpf")
    code = cli(
        "record",
        TINY_JOB,
        "--tracer",
        "ebpf",
        "--out",
        str(root / "p.json"),
        "--run-dir",
        str(root / "run"),
        "--timeout",
        "300",
        # The host's engine alone: verification on the newest node is tested with nodes.
        "--verify-node",
        "host",
    )
    assert code == 0
    return root


def _driver_recording(run_dir: Path) -> Recording:
    """A pod run saves one recording per role; the tiny job's work happens in its driver."""
    (path,) = sorted((run_dir / "record").rglob("recording.driver.json"))
    return Recording.load(path)


def _recording(root: Path) -> Recording:
    return _driver_recording(root / "run")


def test_ebpf_record_writes_a_verified_minimal_profile(ebpf_recording):
    profile = json.loads((ebpf_recording / "p.json").read_text())
    allowed = {
        n for r in profile["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]
    }
    assert {"read", "write", "openat", "mmap", "futex", "execve", "socket"} <= allowed
    assert not allowed & RUNTIME_SETUP
    assert profile["defaultAction"] == "SCMP_ACT_ERRNO"
    assert 40 < len(allowed) < 140
    summary = json.loads((ebpf_recording / "p.summary.json").read_text())
    assert summary["total_runs"] == 1
    # The tool's image says which Spark it runs; `k8s sparkapp` compares it.
    assert summary["spark_versions"] == [DEFAULT_SPARK_VERSION]
    recording = _recording(ebpf_recording)
    roles = {role for per_role in recording.counts.values() for role in per_role}
    assert {ROLE_DRIVER_JVM, ROLE_PYTHON_DRIVER} <= roles
    # Verification ran under the new profile and passed (record wrote the file only then).
    verify = list((ebpf_recording / "run" / "verify").rglob("run.json"))
    assert verify and all(json.loads(p.read_text())["exit_code"] == 0 for p in verify)


def test_deriving_twice_from_the_same_recordings_gives_identical_bytes(ebpf_recording):
    outs = []
    for name in ("a.json", "b.json"):
        out = ebpf_recording / name
        code = cli(
            "record",
            "--from-recordings",
            str(ebpf_recording / "run" / "record"),
            "--no-verify",
            "--out",
            str(out),
            "--run-dir",
            str(ebpf_recording / f"re-{name}"),
        )
        assert code == 0
        outs.append(
            out.read_bytes()
            + (ebpf_recording / name.replace(".json", ".summary.json")).read_bytes()
        )
    assert outs[0] == outs[1]


def test_a_profile_missing_a_needed_syscall_is_caught_by_verification(ebpf_recording, tmp_path):
    recording = _recording(ebpf_recording)
    data = recording.to_dict()
    del data["counts"]["socket"]  # py4j talks to the JVM over a local TCP socket
    broken = tmp_path / "recording.json"
    Recording.from_dict(data).save(broken)
    out = tmp_path / "broken.json"
    code = cli(
        "record",
        "--from-recordings",
        str(broken),
        "--out",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "300",
        "--verify-node",
        "host",
    )
    assert code == 1
    assert not out.exists(), "a profile that breaks its workload must not be written"
    assert (tmp_path / "run" / "profile.json").exists()  # the candidate stays for inspection


def test_strace_and_ebpf_agree_apart_from_runtime_calls(
    ebpf_recording, tmp_path, need_strace, need_root
):
    code = cli(
        "record",
        TINY_JOB,
        "--tracer",
        "strace",
        "--out",
        str(tmp_path / "s.json"),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "600",
        "--no-verify",
    )
    assert code == 0
    strace = _driver_recording(tmp_path / "run")
    ebpf = _recording(ebpf_recording)
    # What only eBPF sees: runc's own calls after the filter is in place.
    runtime_only = {n for n, roles in ebpf.counts.items() if set(roles) == {ROLE_RUNTIME}}
    # Two separate runs of a JVM differ in a few timing-dependent calls; the bulk must match.
    common = ebpf.syscalls & strace.syscalls
    only_ebpf = ebpf.syscalls - strace.syscalls - runtime_only
    only_strace = strace.syscalls - ebpf.syscalls
    assert len(common) >= 0.9 * len(ebpf.syscalls - runtime_only), (only_ebpf, only_strace)
    assert len(only_ebpf) <= 4 and len(only_strace) <= 4, (only_ebpf, only_strace)
    assert strace.arg_values.get("socket.domain"), "strace records socket families"
