"""What one traced run made: the ``Recording`` that profiles are derived from.

A tracer (``profiler.tracing``) observes a run and yields recordings; ``generate`` derives
profiles from them; ``recording.json`` keeps them between the two (validated by
``formats.recording``). Syscalls are counted by name and by process role (driver JVM,
executor JVM, python worker...), and each recording belongs to one pod role of the run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from profiler.formats import jsonfile
from profiler.formats.recording import RECORDING_HINT, RecordingFile


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

    @property
    def file_name(self) -> str:
        """``recording.json`` for a one-container run, ``recording.<role>.json`` for a pod
        role: one file per role in a run's folder, all found by ``recording*.json``."""
        return "recording.json" if self.role == "all" else f"recording.{self.role}.json"

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
