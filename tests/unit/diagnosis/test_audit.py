"""The kernel's seccomp audit records, parsed from a captured kernel log."""

from __future__ import annotations

from pathlib import Path

import pytest

from profiler.diagnosis.audit import parse_audit_line, records_lost

FIXTURES = Path(__file__).parents[2] / "fixtures" / "diagnose"


def test_parse_audit_lines_from_a_real_kernel_log():
    lines = (FIXTURES / "kmsg.txt").read_text().splitlines()
    records = [r for line in lines if (r := parse_audit_line(line))]
    assert [(r.pid, r.comm, r.name) for r in records] == [
        (4242, "java", "mbind"),
        (4242, "java", "mbind"),
        (4300, "python3 -m", "getdents64"),
        (4301, "sh", "getdents64"),
    ]
    assert records_lost(lines)
    assert not records_lost(lines[:2])


@pytest.mark.parametrize(
    "line",
    [
        "audit: type=1400 audit(1.0:2): apparmor=DENIED pid=1 syscall=3",
        "type=1326 comm=java",
        "docker0: port 1(veth) entered disabled state",
    ],
)
def test_parse_audit_line_ignores_other_lines(line):
    assert parse_audit_line(line) is None
