"""Would-be denials from a complain run's per-role counts and audit records."""

from __future__ import annotations

from profiler.diagnosis.audit import parse_audit_line
from profiler.diagnosis.complain import decide
from profiler.diagnosis.findings import find_denials
from profiler.seccomp.arch import syscall_number
from tests.unit.diagnosis.sample import PROFILE


def test_denials_per_role_most_called_first():
    counts = {
        "read": {"driver JVM": 5000},
        "getdents64": {"python driver": 60, "driver JVM": 37},
        "mbind": {"executor JVM": 212},
        "clone3": {"driver JVM": 40},
        "socket": {"python driver": 3},
    }
    findings = find_denials(counts, lambda n: decide(PROFILE, n))
    assert [d.name for d in findings.denied] == ["mbind", "getdents64"]
    assert findings.denied[1].count == 97
    assert findings.denied[1].roles == {"python driver": 60, "driver JVM": 37}
    assert [d.name for d in findings.conditional] == ["socket"]
    assert [d.name for d in findings.fallbacks] == ["clone3"]


def test_audit_records_settle_argument_conditional_rules():
    number = syscall_number("socket", "x86_64")
    line = (
        f"audit: type=1326 audit(1.0:2): auid=4294967295 uid=185 gid=185 ses=4294967295 "
        f'pid=42 comm="java" exe="/usr/bin/java" sig=0 arch=c000003e syscall={number} '
        f"compat=0 ip=0x7f code=0x7ffc0000"
    )
    record = parse_audit_line(line)
    assert record is not None
    findings = find_denials({"socket": {"driver JVM": 3}}, lambda n: decide(PROFILE, n), [record])
    assert [(d.name, d.source, d.count) for d in findings.denied] == [("socket", "args", 1)]
    assert not findings.conditional


def test_audit_only_names_are_reported():
    number = syscall_number("getdents64", "x86_64")
    record = parse_audit_line(f'type=1326 pid=7 comm="sh" arch=c000003e syscall={number}')
    assert record is not None
    findings = find_denials({}, lambda n: decide(PROFILE, n), [record])
    assert [(d.name, d.source, dict(d.roles)) for d in findings.denied] == [
        ("getdents64", "audit", {"sh": 1})
    ]
