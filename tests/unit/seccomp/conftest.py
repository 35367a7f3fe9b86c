from __future__ import annotations

from pathlib import Path

import pytest

from profiler.tracing.interface import Recording

FIXTURES = Path(__file__).parents[2] / "fixtures"


def recording(workload: str, run_index: int, counts: dict, **extra) -> Recording:
    return Recording(
        workload=workload,
        run_index=run_index,
        tracer="strace",
        arch=extra.pop("arch", "x86_64"),
        pod_security="restricted",
        counts=counts,
        **extra,
    )


@pytest.fixture
def recordings() -> list[Recording]:
    base = {
        "read": {"executor JVM": 10, "python worker": 5},
        "openat": {"driver JVM": 3},
        "open": {"shell": 1},
        "clone3": {"driver JVM": 4},
        "futex": {"driver JVM": 40},
        "mount": {"other": 1},
        "mbind": {"executor JVM": 2},
    }
    return [
        recording("sql_aggregation", 0, base, arg_values={"socket.domain": frozenset({1})}),
        recording(
            "sql_aggregation",
            1,
            {**base, "poll": {"python worker": 2}},
            arg_values={"socket.domain": frozenset({2})},
        ),
        recording("rdd_python", 0, {"read": {"python worker": 7}, "pipe2": {"python worker": 1}}),
    ]
