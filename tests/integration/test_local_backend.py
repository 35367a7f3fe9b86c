"""The local backend on this machine's kernel: a user script recorded with eBPF keyed by its
process tree, checked under the derived profile, and the kernel really enforcing it.

Needs root (uid switch, capability drop, bpftrace); no Docker engine. About 2-3 minutes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.check import CheckOptions, CheckPlan, Verdict, run_check
from profiler.paths import data_dir
from profiler.record import RecordPlan, record_workloads
from profiler.runtime.interface import (
    PodSecurity,
    ProfileSet,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.local import LocalBackend
from profiler.runtime.run_shape import RunShape
from profiler.seccomp import generate
from profiler.seccomp.profile import Profile, SyscallRule, profile_from_dict
from profiler.tracing.ebpf import EbpfTracer
from profiler.workloads import Workload, resolve
from tests.conftest import FIXTURES, missing

TIMEOUT = 240.0


@pytest.fixture(scope="module")
def backend() -> LocalBackend:
    return LocalBackend()


@pytest.fixture(scope="module")
def tiny_job() -> Workload:
    return resolve(str(FIXTURES / "scripts" / "tiny_job.py"))


@pytest.fixture(scope="module")
def recorded(
    backend: LocalBackend, tiny_job: Workload, tmp_path_factory: pytest.TempPathFactory
) -> Profile:
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        missing("recording on the local backend needs root and bpftrace")
    root = tmp_path_factory.mktemp("local-record")
    plan = RecordPlan(
        workloads=(tiny_job,),
        shape=RunShape("unused-by-local", PodSecurity.RESTRICTED, Topology.LOCAL),
        timeout_seconds=TIMEOUT,
    )
    recordings = record_workloads(backend, plan, EbpfTracer, run_root=root)
    profile, _summary = generate.derive_profile(recordings, errno="enosys")
    return profile


def run(backend: LocalBackend, workload: Workload, profile: Profile, tmp: Path) -> RunResult:
    spec = RunSpec(
        workload=workload,
        mode=SecurityMode.LOCALHOST,
        profile_json=profile.to_json(),
        image="unused-by-local",
        profile_label="test profile",
        timeout_seconds=TIMEOUT,
        topology=Topology.LOCAL,
    )
    return backend.run(spec, tmp)


def without(profile: Profile, *names: str, errno: int | None = None) -> Profile:
    rules = tuple(
        SyscallRule(tuple(n for n in r.names if n not in names), r.action, r.errno_ret, r.args)
        for r in profile.rules
    )
    if errno is not None:
        rules += (SyscallRule(names, "SCMP_ACT_ERRNO", errno_ret=errno),)
    return Profile(
        profile.default_action,
        tuple(r for r in rules if r.names),
        profile.default_errno_ret,
        profile.architectures,
        profile.flags,
    )


def test_record_and_check(
    need_bpftrace: None,
    backend: LocalBackend,
    tiny_job: Workload,
    recorded: Profile,
    tmp_path: Path,
) -> None:
    """Unconfined, RuntimeDefault (the measured reference) and the recorded profile pass,
    with the same result; the launcher's own pre-filter calls are not in the profile."""
    allowed = recorded.allowed()
    assert {"execve", "clone", "futex", "bind"} <= allowed
    assert not {"setuid", "setgid", "setgroups", "capset", "seccomp"} & allowed
    plan = CheckPlan(
        workloads=(tiny_job,),
        modes=(SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST),
        profiles=ProfileSet.single(recorded.to_json(), "recorded locally"),
        shape=RunShape("unused-by-local", topology=Topology.LOCAL),
    )
    report = run_check(backend, plan, CheckOptions(timeout_seconds=TIMEOUT, run_root=tmp_path))
    for cell in report.cells:
        assert cell.verdict is Verdict.PASS, (cell.mode, cell.runs[0].error_line)
    notes = (tmp_path / "tiny_job" / "runtime-default-1" / "notes.txt").read_text()
    assert "runtime-default = " in notes and "network is not isolated" in notes


def test_the_kernel_enforces_the_profile(
    need_root: None, backend: LocalBackend, tiny_job: Workload, recorded: Profile, tmp_path: Path
) -> None:
    """Denying thread and process creation with EPERM breaks the job: the filter is real."""
    result = run(backend, tiny_job, without(recorded, "clone", "clone3", errno=1), tmp_path)
    assert not result.succeeded
    assert "fork: Operation not permitted" in result.stderr


def test_a_profile_missing_a_needed_syscall_fails(
    need_root: None, backend: LocalBackend, tiny_job: Workload, recorded: Profile, tmp_path: Path
) -> None:
    result = run(backend, tiny_job, without(recorded, "bind"), tmp_path)
    assert not result.succeeded
    assert result.result is None
    # Denied with the profile's default errno (ENOSYS): py4j's gateway cannot bind.
    assert "Function not implemented" in result.stderr


def _reference_for_host_pyspark() -> Path:
    """The committed reference of the host's Spark line: the local backend runs the host's
    pyspark, which pip may have made a 4.x (the dependency admits both lines)."""
    import pyspark

    major, minor = pyspark.__version__.split(".")[:2]
    found = sorted(data_dir("profiles").glob(f"spark-{major}.{minor}.*-amd64.json"))
    found = [p for p in found if p.name.count(".") == 3]  # the union, not a role file
    if not found:
        pytest.fail(f"no reference profile in profiles/ for the host's pyspark {major}.{minor}")
    return found[-1]


def test_committed_reference_profile_on_the_local_backend(
    need_root: None, backend: LocalBackend, tmp_path: Path
) -> None:
    """The catalogue profile recorded on Docker also holds for a job run on the host."""
    reference = _reference_for_host_pyspark()
    profile = profile_from_dict(json.loads(reference.read_text()), str(reference))
    result = run(backend, resolve("sql_aggregation"), profile, tmp_path)
    assert result.succeeded, result.last_error_line()
