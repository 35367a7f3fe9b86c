"""The run folder: what one run leaves for reports and for people debugging it.

``stdout.txt`` and ``stderr.txt`` are the driver's (or the local container's); each
executor pod's are in ``<pod name>.stdout.txt`` / ``.stderr.txt``; the profiles the run was
given beside them, and ``run.json`` summarises it. Every backend writes it the same way.
"""

from __future__ import annotations

import json
from pathlib import Path

from profiler.runtime.interface import RunResult


def write_run_dir(result: RunResult, run_dir: Path) -> None:
    """stdout, stderr, profiles and a summary of one run, in ``run_dir``."""
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "stdout.txt").write_text(result.stdout)
    (run_dir / "stderr.txt").write_text(result.stderr)
    for container in result.containers[1:]:
        (run_dir / f"{container.name}.stdout.txt").write_text(container.stdout)
        (run_dir / f"{container.name}.stderr.txt").write_text(container.stderr)
    if result.spec.profile_json is not None:
        (run_dir / "profile.json").write_text(result.spec.profile_json)
    for role_name, role in (("driver", result.spec.driver), ("executor", result.spec.executor)):
        if role.profile_json is not None:
            (run_dir / f"profile.{role_name}.json").write_text(role.profile_json)
    (run_dir / "run.json").write_text(
        json.dumps(run_summary(result), indent=2, sort_keys=True) + "\n"
    )


def run_summary(result: RunResult) -> dict[str, object]:
    """``run.json``: the run's shape, outcome and each container's."""
    return {
        "workload": result.spec.workload.name,
        "mode": result.spec.mode.value,
        "pod_security": result.spec.pod_security.value,
        "topology": result.spec.topology.value,
        "image": result.spec.image,
        "exit_code": result.exit_code,
        "timed_out": result.timed_out,
        "wall_seconds": round(result.wall_seconds, 3),
        "cpu_seconds": round(result.cpu_seconds, 3) if result.cpu_seconds is not None else None,
        "checksum": result.result.checksum if result.result else None,
        "job_seconds": result.result.job_seconds if result.result else None,
        "containers": [
            {
                "role": c.role.value,
                "name": c.name,
                "exit_code": c.exit_code,
                "timed_out": c.timed_out,
                "oom_killed": c.oom_killed,
                "stopped_after_driver": c.stopped_after_driver,
                "wall_seconds": round(c.wall_seconds, 3),
                "cpu_seconds": round(c.cpu_seconds, 3) if c.cpu_seconds is not None else None,
                "notes": list(c.notes),
            }
            for c in result.containers
        ],
        "notes": list(result.notes),
    }
