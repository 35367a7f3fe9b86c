"""Whose containers these are: the labels every container and network of the tool carries.

Each process of the tool labels what it starts with its own session, so one process (a test
run, a Ctrl-C handler) never removes the containers of another; and with its pid, so a
container whose process is gone (a crash, an engine that stopped answering) is known to be
left behind and the next engine adapter made removes it. ``spark-seccomp cleanup`` and the
test suite's final check find everything by the owner label.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Mapping
from pathlib import Path

OWNER_LABEL = "io.spark-seccomp.owner"
OWNER = "spark-seccomp"
SESSION_LABEL = "io.spark-seccomp.session"
SESSION = uuid.uuid4().hex[:12]
PID_LABEL = "io.spark-seccomp.pid"
RUN_LABEL = "io.spark-seccomp.run"
WORKLOAD_LABEL = "io.spark-seccomp.workload"
ROLE_LABEL = "io.spark-seccomp.role"
MODE_LABEL = "io.spark-seccomp.mode"


def owner_labels() -> dict[str, str]:
    """The labels that make a container or network this process's."""
    return {OWNER_LABEL: OWNER, SESSION_LABEL: SESSION, PID_LABEL: str(os.getpid())}


def left_behind(labels: Mapping[str, str]) -> bool:
    """Whether the tool process that labelled something no longer exists."""
    pid = str(labels.get(PID_LABEL, ""))
    return pid.isdigit() and not Path(f"/proc/{pid}").exists()
