"""Denial diagnosis on the real engine: take one syscall a job needs out of its recorded
profile, and the failing cell's verdict must name exactly that syscall.

One workload (the user script tiny_job, in the local topology) and three removals of
different kinds keep this within CI's time: a file call, a thread call and a socket call.
The pod topology's diagnosis by role has its own test in test_pod.py. Each is one that really
breaks the job when denied with EPERM (Docker 20.10 ignores defaultErrnoRet, so EPERM is
what a call left out of a profile gets): not, say, clone3 with ENOSYS, where glibc would
quietly fall back to clone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler import record as record_lib
from profiler import workloads
from profiler.check import CheckOptions, CheckPlan, Verdict, run_check
from profiler.runtime.interface import ProfileSet, SecurityMode, Topology
from profiler.runtime.run_shape import RunShape
from profiler.seccomp import generate
from profiler.tracing.ebpf import EbpfTracer

FIXTURES = Path(__file__).parents[1] / "fixtures"
TINY_JOB = FIXTURES / "scripts" / "tiny_job.py"

REMOVALS = [
    pytest.param("getdents64", id="file-getdents64"),
    pytest.param("clone3", id="thread-clone3"),
    pytest.param("socket", id="socket-socket"),
]


@pytest.fixture(scope="module")
def recorded(docker_backend, spark_image, tmp_path_factory):
    """tiny_job's profile, recorded here (no committed reference profile to trust)."""
    import os
    import shutil

    if os.geteuid() != 0 or shutil.which("bpftrace") is None:
        from tests.conftest import missing

        missing("denial diagnosis needs root and bpftrace")
    root = tmp_path_factory.mktemp("diagnosis")
    workload = workloads.resolve(str(TINY_JOB))
    plan = record_lib.RecordPlan(
        workloads=(workload,),
        shape=RunShape(spark_image, topology=Topology.LOCAL),
        timeout_seconds=300,
    )
    (recording,) = record_lib.record_workloads(docker_backend, plan, EbpfTracer, run_root=root)
    explicit = record_lib.needs_explicit_errno(docker_backend, spark_image)
    profile, _ = generate.derive_profile([recording], explicit_errno=explicit)
    return workload, recording, profile, root


@pytest.mark.parametrize("removed", REMOVALS)
def test_removing_a_needed_syscall_names_exactly_it(recorded, docker_backend, spark_image, removed):
    workload, recording, profile, root = recorded
    assert removed in recording.counts, f"tiny_job no longer calls {removed}"
    plan = CheckPlan(
        workloads=(workload,),
        modes=(SecurityMode.LOCALHOST,),
        profiles=ProfileSet.single(
            profile.without_allowed(removed).to_json(), f"recorded profile without {removed}"
        ),
        shape=RunShape(spark_image, topology=Topology.LOCAL),
        reference_checksums={workload.name: recording.checksum},
    )
    options = CheckOptions(timeout_seconds=300, run_root=root / f"without-{removed}")
    report = run_check(docker_backend, plan, options)
    cell = report.cell(workload.name, SecurityMode.LOCALHOST)
    assert cell.verdict is Verdict.FAIL, cell.runs[0].error_line
    diagnosis = "\n".join(cell.diagnosis)
    assert cell.diagnosis, "no diagnosis"
    assert cell.diagnosis[0].startswith(f"denied: {removed} ("), diagnosis
    named = {line.split()[1] for line in cell.diagnosis if line.startswith("denied: ")}
    assert named == {removed}, diagnosis
    assert not any(line.startswith("and ") for line in cell.diagnosis), diagnosis
    assert "no diagnosis" not in diagnosis
