"""CPU time of a container from the cgroup hierarchy, read after the container is gone.

cgroup CPU counters are hierarchical: a parent cgroup keeps its descendants' usage after
they are removed. So each run gets a fresh parent (``cgroup_parent``) and we read the
parent once the container has exited and been removed. Works with the cgroupfs driver
(v1 cpuacct and v2); with the systemd driver CPU time is simply not reported.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import EnvironmentProblem

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class CpuAccounting:
    parent: str | None  # the cgroup_parent to give Docker, or None when unsupported
    usage_file: Path | None
    directory: Path | None

    @classmethod
    def create(cls, driver: str, run_id: str) -> CpuAccounting:
        """Accounting for a run's container under an engine with cgroup ``driver``."""
        if driver != "cgroupfs":
            return cls(None, None, None)
        parent = f"/spark-seccomp/{run_id}"
        v1 = CGROUP_ROOT / "cpuacct"
        if (v1 / "cpuacct.usage").exists():
            directory = v1 / "spark-seccomp" / run_id
            return cls(parent, directory / "cpuacct.usage", directory)
        if (CGROUP_ROOT / "cgroup.controllers").exists():
            directory = CGROUP_ROOT / "spark-seccomp" / run_id
            return cls(parent, directory / "cpu.stat", directory)
        return cls(None, None, None)

    def finish(self) -> float | None:
        """CPU seconds used by the run's container, then remove the parent cgroup."""
        if self.usage_file is None or self.directory is None:
            return None
        seconds: float | None = None
        try:
            text = self.usage_file.read_text()
            if self.usage_file.name == "cpuacct.usage":
                seconds = int(text.strip()) / 1e9
            else:
                fields = dict(line.split() for line in text.splitlines() if line.strip())
                seconds = int(fields["usage_usec"]) / 1e6
        except (OSError, ValueError, KeyError):
            seconds = None
        _remove_tree(self.directory)
        return seconds


def _remove_tree(directory: Path) -> None:
    # Docker creates the run's parent in every v1 hierarchy; remove it from each of them.
    run_id = directory.name
    roots = [p for p in CGROUP_ROOT.iterdir() if p.is_dir()] if CGROUP_ROOT.is_dir() else []
    for root in [CGROUP_ROOT, *roots]:
        candidate = root / "spark-seccomp" / run_id
        if not candidate.is_dir():
            continue
        for leftover in sorted(p for p in candidate.iterdir() if p.is_dir()):
            with contextlib.suppress(OSError):
                leftover.rmdir()
        with contextlib.suppress(OSError):
            candidate.rmdir()


@dataclass
class FreezerHold:
    """A frozen cgroup parent: a container started under it stops at its first instruction.

    The OCI runtime moves its init process into the container's cgroup (a child of the
    parent) before that process runs anything of the container's, and a task that joins a
    frozen cgroup is frozen. So a tracer can attach to the init process from the host and
    the parent be thawed: the trace starts before the filter is loaded and the image's
    entrypoint stays PID 1. cgroup v1 (the freezer hierarchy) and v2 (cgroup.freeze).
    """

    directory: Path
    state_file: Path
    frozen: str
    thawed: str

    @classmethod
    def create(cls, parent: str | None) -> FreezerHold:
        if parent is None:
            raise EnvironmentProblem(
                "holding a container for a tracer needs the engine's cgroupfs driver",
                "use --tracer ebpf, or run the engine with the cgroupfs cgroup driver",
            )
        relative = parent.strip("/")
        v1 = CGROUP_ROOT / "freezer"
        if (v1 / "freezer.state").exists() or (v1 / "tasks").exists():
            directory = v1 / relative
            return cls(directory, directory / "freezer.state", "FROZEN", "THAWED")
        directory = CGROUP_ROOT / relative
        return cls(directory, directory / "cgroup.freeze", "1", "0")

    def freeze(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self.state_file.write_text(self.frozen)
        except OSError as exc:
            raise EnvironmentProblem(
                f"cannot freeze {self.directory}: {exc.strerror}",
                "the strace tracer needs root and a writable cgroup freezer",
            ) from exc

    def first_pid(self, timeout: float, alive: Callable[[], bool]) -> int | None:
        """The first process that joined a cgroup under the parent, once one did."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for procs in sorted(self.directory.glob("*/cgroup.procs")):
                with contextlib.suppress(OSError, ValueError):
                    pids = [int(p) for p in procs.read_text().split()]
                    if pids:
                        return min(pids)
            if not alive():
                return None
            time.sleep(0.005)
        return None

    def thaw(self) -> None:
        with contextlib.suppress(OSError):
            self.state_file.write_text(self.thawed)
