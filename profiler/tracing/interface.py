"""The tracer seam and its product, a ``Recording`` of one run of one workload.

A recording counts syscalls by name and by *process role* (driver JVM, executor JVM,
python driver, python worker, shell...), so a profile can say who needed what.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.formats import jsonfile
from profiler.formats.recording import RECORDING_HINT, RecordingFile
from profiler.runtime.interface import RunObserver

# Process roles, named as a Spark user knows the processes.
ROLE_DRIVER_JVM = "driver JVM"
ROLE_EXECUTOR_JVM = "executor JVM"
ROLE_WORKER_JVM = "worker JVM"  # local-cluster master/worker daemons
ROLE_PYTHON_DRIVER = "python driver"
ROLE_PYTHON_WORKER = "python worker"
ROLE_SHELL = "shell"
ROLE_RUNTIME = "container runtime"  # runc's own calls after the filter is installed
ROLE_OTHER = "other"


@dataclass(frozen=True)
class Recording:
    """Syscalls one traced run made, after the seccomp filter was in place."""

    workload: str
    run_index: int
    tracer: str  # "ebpf" or "strace"
    arch: str  # libseccomp arch name of the traced machine, e.g. "x86_64"
    pod_security: str
    # syscall name -> process role -> number of calls
    counts: Mapping[str, Mapping[str, int]]
    # Argument values seen, for argument filters (strace only): "socket.domain" -> values
    arg_values: Mapping[str, frozenset[int]] = field(default_factory=dict)
    exit_code: int | None = None
    checksum: str | None = None
    # Syscall numbers the tracer saw that libseccomp has no name for on this arch.
    unknown_numbers: frozenset[int] = frozenset()
    # The script that ran, so a user script can be verified again from its recordings.
    script: str | None = None
    # The container role (pod) the calls were made in: "driver", "executor" (every
    # executor pod of the run together) or "all" (the one container of a local run).
    role: str = "all"
    # Events the tracer's buffer dropped during the run (eBPF: process starts), so the
    # recording may be incomplete; 0 for a tracer that drops nothing.
    lost_events: int = 0

    @property
    def syscalls(self) -> frozenset[str]:
        return frozenset(self.counts)

    def total(self, name: str) -> int:
        return sum(self.counts.get(name, {}).values())

    def to_dict(self) -> dict[str, Any]:
        return {
            "workload": self.workload,
            "run_index": self.run_index,
            "tracer": self.tracer,
            "arch": self.arch,
            "pod_security": self.pod_security,
            "exit_code": self.exit_code,
            "checksum": self.checksum,
            "counts": {n: dict(sorted(r.items())) for n, r in sorted(self.counts.items())},
            "arg_values": {k: sorted(v) for k, v in sorted(self.arg_values.items())},
            "unknown_numbers": sorted(self.unknown_numbers),
            "script": self.script,
            "role": self.role,
            "lost_events": self.lost_events,
        }

    @classmethod
    def from_dict(cls, data: Any, source: str = "recording") -> Recording:
        """A recording from parsed JSON, validated (``formats.recording.RecordingFile``)."""
        model = jsonfile.validate(RecordingFile, data, source, RECORDING_HINT)
        return cls(
            workload=model.workload,
            run_index=model.run_index,
            tracer=model.tracer,
            arch=model.arch,
            pod_security=model.pod_security,
            counts={n: dict(r) for n, r in model.counts.items()},
            arg_values={k: frozenset(v) for k, v in model.arg_values.items()},
            exit_code=model.exit_code,
            checksum=model.checksum,
            unknown_numbers=frozenset(model.unknown_numbers),
            script=model.script,
            role=model.role,
            lost_events=model.lost_events,
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n")

    @classmethod
    def load(cls, path: Path) -> Recording:
        source = f"recording {path}"
        return cls.from_dict(jsonfile.read_json(Path(path), source, RECORDING_HINT), source)


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
