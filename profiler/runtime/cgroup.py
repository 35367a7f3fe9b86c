"""CPU time of a container from the cgroup hierarchy, read after the container is gone.

cgroup CPU counters are hierarchical: a parent cgroup keeps its descendants' usage after
they are removed. So each run gets a fresh parent (``cgroup_parent``) and we read the
parent once the container has exited and been removed. Works with the cgroupfs driver
(v1 cpuacct and v2); with the systemd driver CPU time is simply not reported.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")


@dataclass
class CpuAccounting:
    parent: str | None  # the cgroup_parent to give Docker, or None when unsupported
    usage_file: Path | None
    directory: Path | None

    @classmethod
    def create(cls, client: Any, run_id: str) -> CpuAccounting:
        try:
            driver = client.info().get("CgroupDriver", "")
        except Exception:
            driver = ""
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
