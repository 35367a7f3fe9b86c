"""The diagnosis lines a user reads under a cell."""

from __future__ import annotations

from profiler.diagnosis.findings import DeniedSyscall, Findings
from profiler.diagnosis.wording import describe
from profiler.runtime.interface import SecurityMode

R, L = SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST


def _findings(**kwargs):
    denied = tuple(DeniedSyscall(n, c, r) for n, c, r in kwargs.pop("denied", ()))
    return Findings(denied=denied, **kwargs)


def test_wording_of_a_risky_call_with_a_workaround():
    lines = describe(_findings(denied=[("mbind", 212, {"executor JVM": 212})]), L, failed=True)
    assert lines[0] == (
        "denied: mbind (executor JVM), 212 times; RuntimeDefault blocks it too without "
        "CAP_SYS_NICE; add it with `--allow mbind` or set -XX:-UseNUMA"
    )


def test_wording_puts_held_back_risky_calls_after_the_culprit():
    lines = describe(
        _findings(
            denied=[
                ("mbind", 300, {"driver JVM": 300}),
                ("getdents64", 97, {"python driver": 60, "driver JVM": 37}),
            ]
        ),
        L,
        failed=True,
    )
    assert lines[0] == (
        "denied: getdents64 (python driver, driver JVM), 97 times; add it with `--allow getdents64`"
    )
    assert lines[1].startswith("also denied, risky calls") and "mbind (300 times)" in lines[1]


def test_wording_lists_a_few_names_most_called_first():
    denied = [(f"call{i}", 100 - i, {"shell": 100 - i}) for i in range(6)]
    lines = describe(_findings(denied=denied), L, failed=True)
    assert [line.split(":")[1].split()[0] for line in lines[:3]] == ["call0", "call1", "call2"]
    assert lines[3] == "and 3 more denied: call3, call4, call5"


def test_wording_when_nothing_was_denied():
    assert describe(_findings(), L, failed=True)[0] == (
        "no denials seen: the failure is not seccomp"
    )
    complain = describe(_findings(), L, failed=False)
    assert complain[0].startswith("no would-be denials")


def test_wording_for_runtime_default_and_lost_records():
    lines = describe(
        _findings(denied=[("mbind", 2, {"executor JVM": 2})], audit_lost=True, audit_records=1),
        R,
        failed=False,
    )
    assert lines[0].startswith("would be denied: mbind (executor JVM), 2 times; ")
    assert "RuntimeDefault allows it only with CAP_SYS_NICE" in lines[0]
    assert "use a Localhost profile" in lines[0]
    assert any("lost seccomp audit records" in line for line in lines)
