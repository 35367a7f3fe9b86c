"""The eBPF tracer's reading of bpftrace's output, with a fake bpftrace on PATH: the same
process handling, READY handshake and SIGINT stop as the real one, known output."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from profiler.runtime.interface import ContainerRef, Role
from profiler.seccomp.arch import syscall_number
from profiler.tracing.ebpf import EbpfTracer

# What bpftrace prints: its banner, an exec, a full perf buffer, the READY tick, and on
# SIGINT its maps and a second loss. The trap is set first, so the tracer's SIGINT cannot
# come too early; the mount namespace comes from the test.
FAKE_BPFTRACE = """#!/bin/sh
trap 'echo "@sys[$FAKE_NS, 100, 1, $READ]: 5"; echo "Lost 5 events"; exit 0' INT
echo "Attaching 5 probes..."
echo "EXEC $FAKE_NS 100 1 /usr/bin/python3"
echo "Lost 7 events"
echo "READY"
while :; do sleep 0.05; done
"""


@pytest.fixture
def fake_bpftrace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    """A bpftrace on PATH that reports lost events; returns the namespace it reports."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "bpftrace"
    script.write_text(FAKE_BPFTRACE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    namespace = int(os.readlink("/proc/self/ns/mnt")[len("mnt:[") : -1])
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("FAKE_NS", str(namespace))
    monkeypatch.setenv("READ", str(syscall_number("read", "x86_64")))
    return namespace


@pytest.mark.usefixtures("fake_bpftrace")
def test_lost_events_reach_the_recording(tmp_path: Path) -> None:
    tracer = EbpfTracer(tmp_path / "trace")
    tracer.before_start()
    tracer.started(os.getpid(), ContainerRef(Role.ALL, "job"))
    tracer.finished()
    (recording,) = tracer.recordings("rdd_python", 2, "restricted")
    assert recording.counts == {"read": {"python driver": 5}}
    assert recording.lost_events == 12
    assert tracer.lost_events() == 12
    assert "Lost 7 events" in (tmp_path / "trace" / "bpftrace.out").read_text()


def test_a_run_without_losses_says_zero(tmp_path: Path) -> None:
    tracer = EbpfTracer(tmp_path)
    tracer._containers = {7: ContainerRef(Role.ALL, "job")}
    tracer._lines = ["READY", "@sys[7, 100, 0, 0]: 1"]
    (recording,) = tracer.recordings("w", 1, "restricted")
    assert recording.lost_events == 0


def test_a_namespace_number_taken_over_by_another_container_is_not_counted(tmp_path: Path) -> None:
    """The executor (init 10) ended; a container of someone else's got its mount namespace
    number, and its init (50) and child (51) made calls there. Forks may come out of order."""
    tracer = EbpfTracer(tmp_path)
    tracer._containers = {7: ContainerRef(Role.EXECUTOR, "exec-1")}
    tracer._roots = {7: 10}
    read, write = syscall_number("read", "x86_64"), syscall_number("write", "x86_64")
    tracer._lines = [
        "READY",
        "FORK 7 11 1 12",  # the grandchild's fork first
        "FORK 7 10 1 11",
        "FORK 7 50 0 51",
        f"@sys[7, 10, 0, {read}]: 1",
        f"@sys[7, 12, 0, {read}]: 2",
        f"@sys[7, 50, 0, {write}]: 4",
        f"@sys[7, 51, 0, {write}]: 8",
    ]
    (recording,) = tracer.recordings("w", 1, "restricted")
    assert set(recording.counts) == {"read"}
    assert sum(recording.counts["read"].values()) == 3
    assert tracer.container_pids() == frozenset({10, 11, 12})


def test_with_lost_events_the_namespace_alone_decides(tmp_path: Path) -> None:
    tracer = EbpfTracer(tmp_path)
    tracer._containers = {7: ContainerRef(Role.EXECUTOR, "exec-1")}
    tracer._roots = {7: 10}
    write = syscall_number("write", "x86_64")
    tracer._lines = ["READY", "Lost 3 events", f"@sys[7, 50, 0, {write}]: 4"]
    (recording,) = tracer.recordings("w", 1, "restricted")
    assert set(recording.counts) == {"write"}
