"""Shared by the catalogue workloads: a small local session and the one JSON result line.

Not a workload itself (the leading underscore keeps it out of the catalogue).
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from collections.abc import Iterable
from typing import Any

from pyspark.sql import SparkSession


def session(app: str, master: str = "local[2]", **conf: str) -> SparkSession:
    builder = SparkSession.builder.appName(app).master(master)
    settings = {
        # The UI opens a port and starts Jetty threads no cluster job needs for this test.
        "spark.ui.enabled": "false",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
        "spark.driver.host": "127.0.0.1",
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.sql.session.timeZone": "UTC",
    }
    settings.update(conf)
    for key, value in settings.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def checksum(rows: Iterable[Any]) -> str:
    """Order-independent digest of result rows (floats rounded so runs compare equal)."""
    normalised = sorted(json.dumps(_round(r), sort_keys=True, default=str) for r in rows)
    return hashlib.sha256("\n".join(normalised).encode()).hexdigest()[:16]


def expect(condition: bool, message: str) -> None:
    """A workload checks its own answer; a wrong answer is a failed job, not a result."""
    if not condition:
        print(f"workload check failed: {message}", file=sys.stderr, flush=True)
        sys.exit(1)


def report(workload: str, digest: str, started: float, **extra: Any) -> None:
    line = {
        "workload": workload,
        "checksum": digest,
        "job_seconds": round(time.time() - started, 3),
    }
    line.update(extra)
    print(json.dumps(line, sort_keys=True), flush=True)


def scratch_dir(name: str) -> str:
    """A fresh writable directory under /tmp (the only writable place in restricted mode)."""
    base = os.environ.get("TMPDIR", "/tmp")
    path = os.path.join(base, f"spark-seccomp-{name}-{os.getpid()}")
    os.makedirs(path, exist_ok=True)
    return path


def _round(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, dict):
        return {k: _round(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_round(v) for v in value]
    if hasattr(value, "asDict"):
        return _round(value.asDict(recursive=True))
    return value
