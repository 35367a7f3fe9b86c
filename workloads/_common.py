"""Shared by the catalogue workloads: the session, the one JSON result line, scratch space.

Not a workload itself (the leading underscore keeps it out of the catalogue). A workload
leaves the master, the driver's addresses and the UI to whoever submits it, as a job
submitted to a cluster does: the tool's pod runs give it a cluster master and the pod's
addresses, its local runs a local master.
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


def session(app: str, master: str | None = None, **conf: str) -> SparkSession:
    """The job's session; ``master`` only for a job that insists on its own (local-cluster)."""
    builder = SparkSession.builder.appName(app)
    if master is not None:
        builder = builder.master(master)
    settings = {
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.shuffle.partitions": "4",
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
    """A fresh directory for files Spark reads and writes.

    Executors write their partitions where the driver names them, so in a pod run this is
    the storage every pod mounts (``SPARK_SECCOMP_SHARED_DIR``, as a ReadWriteMany volume
    would be in a cluster); alone in one container, /tmp (writable when hardened).
    """
    base = os.environ.get("SPARK_SECCOMP_SHARED_DIR") or os.environ.get("TMPDIR", "/tmp")
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
