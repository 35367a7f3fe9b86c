"""`spark-seccomp report RUN_DIR`."""

from __future__ import annotations

from pathlib import Path

import typer

from profiler.cli.common import stdout
from profiler.report.build import build_report, check_report_paths


def report(
    run_dir: Path = typer.Argument(
        ..., help="Directory holding check.json, bench.json, profile.json ... (any of them)."
    ),
) -> None:
    """Write report.md, a self-contained report.html with plots, and report.json.

    Each section appears when its data is in RUN_DIR: compatibility (check.json),
    performance impact (bench.json), cost per syscall (microbench.json), profile size
    (profile.json, runtime_default.json), syscalls by workload (profile.summary.json).
    Exit 2 when RUN_DIR holds none of these.
    """
    check_report_paths(run_dir)
    files = build_report(run_dir)
    for path in files.paths():
        stdout.print(str(path), highlight=False)
