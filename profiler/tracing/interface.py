"""The tracer seam: a ``Tracer`` observes a run and yields ``Recording``s of it.

A recording counts syscalls by name and by *process role* (driver JVM, executor JVM,
python driver, python worker, shell...), so a profile can say who needed what. The
``Recording`` value itself is ``profiler.seccomp.recording``'s (what profiles are derived
from); it is re-exported here, where tracers and their callers have always found it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from profiler.runtime.interface import RunObserver
from profiler.seccomp.recording import Recording

__all__ = [
    "ROLE_DRIVER_JVM",
    "ROLE_EXECUTOR_JVM",
    "ROLE_OTHER",
    "ROLE_PYTHON_DRIVER",
    "ROLE_PYTHON_WORKER",
    "ROLE_RUNTIME",
    "ROLE_SHELL",
    "ROLE_WORKER_JVM",
    "Recording",
    "Tracer",
    "merge_roles",
]

# Process roles, named as a Spark user knows the processes.
ROLE_DRIVER_JVM = "driver JVM"
ROLE_EXECUTOR_JVM = "executor JVM"
ROLE_WORKER_JVM = "worker JVM"  # local-cluster master/worker daemons
ROLE_PYTHON_DRIVER = "python driver"
ROLE_PYTHON_WORKER = "python worker"
ROLE_SHELL = "shell"
ROLE_RUNTIME = "container runtime"  # runc's own calls after the filter is installed
ROLE_OTHER = "other"


class Tracer(RunObserver, ABC):
    """A tracer observes one container run (see ``RunObserver``) and yields a recording."""

    name: str
    # True when the container's first process must wait until the tracer has attached
    # (ptrace attaches to a running process; eBPF is in place before the start).
    holds_first_process: bool = False

    @abstractmethod
    def check_available(self) -> None:
        """Raise ``EnvironmentProblem`` naming what is missing (root, bpftrace, BTF...)."""

    @abstractmethod
    def recordings(self, workload: str, run_index: int, pod_security: str) -> tuple[Recording, ...]:
        """The run just observed, one recording per container role it had (the executor
        pods together), sorted by role."""

    def recording(self, workload: str, run_index: int, pod_security: str) -> Recording:
        """The run just observed as one recording: every container's calls together."""
        return merge_roles(self.recordings(workload, run_index, pod_security))


def merge_roles(recordings: tuple[Recording, ...]) -> Recording:
    """One recording of a run from its per-role recordings (role "all")."""
    if not recordings:
        raise ValueError("no recordings to merge")
    if len(recordings) == 1:
        return recordings[0]
    counts: dict[str, dict[str, int]] = {}
    arg_values: dict[str, set[int]] = {}
    for recording in recordings:
        for name, roles in recording.counts.items():
            merged = counts.setdefault(name, {})
            for role, count in roles.items():
                merged[role] = merged.get(role, 0) + count
        for key, values in recording.arg_values.items():
            arg_values.setdefault(key, set()).update(values)
    first = recordings[0]
    return Recording(
        workload=first.workload,
        run_index=first.run_index,
        tracer=first.tracer,
        arch=first.arch,
        pod_security=first.pod_security,
        counts=counts,
        arg_values={k: frozenset(v) for k, v in arg_values.items()},
        exit_code=first.exit_code,
        checksum=first.checksum,
        unknown_numbers=frozenset().union(*(r.unknown_numbers for r in recordings)),
        script=first.script,
        role="all",
        # Each role's recording of a run carries the run's count: it is not added up.
        lost_events=max(r.lost_events for r in recordings),
    )
