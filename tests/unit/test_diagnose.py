"""Denial diagnosis logic: complain profiles, would-be denials, audit lines, wording."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler import workloads
from profiler.check import CheckOptions, Verdict, run_check
from profiler.diagnose import (
    ComplainDiagnoser,
    ComplainOutcome,
    Decision,
    Diagnoser,
    Findings,
    KernelLogWatcher,
    allow_list_decider,
    complain_profile,
    decide,
    describe,
    find_denials,
    parse_audit_line,
    records_lost,
    runtime_default_complain_profile,
)
from profiler.runtime.interface import RunSpec, SecurityMode
from profiler.seccomp.arch import syscall_number
from profiler.seccomp.profile import ArgCondition, Profile, SyscallRule, profile_from_dict
from tests.fakes import FakeBackend, check_plan

FIXTURES = Path(__file__).parents[1] / "fixtures" / "diagnose"
U, R, L = SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT, SecurityMode.LOCALHOST

SOCKET_AF_UNIX_ONLY = SyscallRule(
    ("socket",), "SCMP_ACT_ALLOW", args=(ArgCondition(0, 1, "SCMP_CMP_EQ"),)
)
PROFILE = Profile(
    "SCMP_ACT_ERRNO",
    (
        SyscallRule(("read", "write", "futex"), "SCMP_ACT_ALLOW"),
        SOCKET_AF_UNIX_ONLY,
        SyscallRule(("clone3", "statx", "mount"), "SCMP_ACT_ERRNO", errno_ret=38),
        SyscallRule(("ptrace",), "SCMP_ACT_KILL_PROCESS"),
        SyscallRule(("kexec_load",), "SCMP_ACT_ERRNO", errno_ret=1),
    ),
    default_errno_ret=38,
    architectures=("SCMP_ARCH_X86_64",),
)


# -- complain profile ---------------------------------------------------------------------


def test_complain_profile_logs_every_deny_and_keeps_allows_with_their_args():
    complain = complain_profile(PROFILE)
    assert complain.default_action == "SCMP_ACT_LOG"
    assert complain.default_errno_ret is None
    assert complain.architectures == PROFILE.architectures
    by_action: dict[str, set[str]] = {}
    for rule in complain.rules:
        by_action.setdefault(rule.action, set()).update(rule.names)
    assert by_action["SCMP_ACT_ALLOW"] == {"read", "write", "futex", "socket"}
    assert SOCKET_AF_UNIX_ONLY in complain.rules  # arg conditions kept
    # ENOSYS fallbacks stay ENOSYS so the run takes the same fallback path...
    assert by_action["SCMP_ACT_ERRNO"] == {"clone3", "statx"}
    # ...while an ENOSYS answer for any other call (explicit-errno profiles) is a deny.
    assert by_action["SCMP_ACT_LOG"] == {"mount", "ptrace", "kexec_load"}
    assert not {"SCMP_ACT_KILL_PROCESS"} & set(by_action)
    # Still a loadable OCI profile.
    assert profile_from_dict(json.loads(complain.to_json())).to_json() == complain.to_json()


def test_complain_form_of_a_fixture_profile_round_trips():
    profile = profile_from_dict(json.loads((FIXTURES / "explicit_errno.json").read_text()))
    complain = complain_profile(profile)
    assert complain.allowed() == profile.allowed()
    assert all(r.action != "SCMP_ACT_ERRNO" or r.errno_ret == 38 for r in complain.rules)


def test_runtime_default_complain_profile_allows_the_reference_list():
    complain = runtime_default_complain_profile({"read", "write"})
    assert complain.default_action == "SCMP_ACT_LOG"
    assert complain.allowed() == {"read", "write"}
    enosys = [r for r in complain.rules if r.action == "SCMP_ACT_ERRNO"]
    assert enosys and "clone3" in enosys[0].names and enosys[0].errno_ret == 38


# -- decisions and denials ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "decision"),
    [
        ("read", Decision.ALLOWED),
        ("socket", Decision.CONDITIONAL),
        ("clone3", Decision.FALLBACK),
        ("mount", Decision.DENIED),  # ENOSYS but no fallback exists: a real deny
        ("ptrace", Decision.DENIED),
        ("kexec_load", Decision.DENIED),
        ("getdents64", Decision.DENIED),  # default action; defaultErrnoRet not trusted
    ],
)
def test_decide(name, decision):
    assert decide(PROFILE, name) is decision


def test_allow_default_profile_allows_unlisted_names():
    assert decide(Profile("SCMP_ACT_ALLOW"), "anything") is Decision.ALLOWED
    assert decide(Profile("SCMP_ACT_LOG"), "anything") is Decision.ALLOWED


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


def test_runtime_default_decider():
    decider = allow_list_decider(frozenset({"read"}))
    assert decider("read") is Decision.ALLOWED
    assert decider("clone3") is Decision.FALLBACK
    assert decider("mbind") is Decision.DENIED


# -- audit lines ----------------------------------------------------------------------------


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


def test_kernel_log_watcher_restores_the_rate_limit(tmp_path):
    ratelimit = tmp_path / "printk_ratelimit"
    ratelimit.write_text("5\n")
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    watcher = KernelLogWatcher(kmsg=kmsg, ratelimit=ratelimit)
    watcher.before_start()
    assert ratelimit.read_text() == "0\n"
    watcher.close()
    assert ratelimit.read_text() == "5\n"
    watcher.close()  # idempotent
    assert ratelimit.read_text() == "5\n"


# -- wording --------------------------------------------------------------------------------


def _findings(**kwargs):
    from profiler.diagnose import DeniedSyscall

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


# -- run_check wiring -----------------------------------------------------------------------


class RecordingDiagnoser(Diagnoser):
    def __init__(self):
        self.asked: list[tuple[SecurityMode, bool]] = []

    def complain_run(self, spec: RunSpec, run_dir, *, failed):
        self.asked.append((spec.mode, failed))
        return ComplainOutcome(None, (f"denied: clone3 ({spec.mode.value})",))


def _fail_confined(spec):
    if spec.mode is U:
        return 0, False, "x", ""
    return 1, False, "", "pthread_create failed (EPERM)"


def test_failing_cells_get_a_diagnosis_when_unconfined_passes():
    diagnoser = RecordingDiagnoser()
    report = run_check(
        FakeBackend(_fail_confined),
        check_plan([workloads.resolve("rdd_python")], [U, R, L], profile_json="{}"),
        diagnoser=diagnoser,
    )
    assert report.cell("rdd_python", U).diagnosis == ()
    assert report.cell("rdd_python", L).diagnosis == ("denied: clone3 (localhost)",)
    assert set(diagnoser.asked) == {(R, True), (L, True)}


def test_no_diagnosis_when_unconfined_fails_too_or_when_switched_off():
    diagnoser = RecordingDiagnoser()
    report = run_check(
        FakeBackend(lambda spec: (1, False, "", "boom")),
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        diagnoser=diagnoser,
    )
    assert report.cell("rdd_python", R).diagnosis == ()
    run_check(
        FakeBackend(_fail_confined),
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        CheckOptions(diagnose=False),
        diagnoser=diagnoser,
    )
    assert diagnoser.asked == []


def test_complain_mode_runs_confined_cells_through_the_diagnoser():
    class PassingComplain(RecordingDiagnoser):
        def __init__(self, backend):
            super().__init__()
            self.backend = backend

        def complain_run(self, spec, run_dir, *, failed):
            super().complain_run(spec, run_dir, failed=failed)
            result = self.backend.run(RunSpec(spec.workload, U, spec.image), run_dir)
            return ComplainOutcome(result, ("would be denied: mbind",))

    backend = FakeBackend(_fail_confined)
    diagnoser = PassingComplain(backend)
    report = run_check(
        backend,
        check_plan([workloads.resolve("rdd_python")], [U, R]),
        CheckOptions(complain=True),
        diagnoser=diagnoser,
    )
    cell = report.cell("rdd_python", R)
    assert cell.verdict is Verdict.PASS
    assert cell.diagnosis == ("would be denied: mbind",)
    assert diagnoser.asked == [(R, False)]


def test_default_diagnoser_says_when_runtime_default_is_unknown(monkeypatch, tmp_path):
    monkeypatch.setattr("profiler.paths.data_dir", lambda name: tmp_path)
    monkeypatch.setattr("profiler.diagnose.TRACEABLE_BACKENDS", ("fake",))
    report = run_check(
        FakeBackend(_fail_confined), check_plan([workloads.resolve("rdd_python")], [U, R])
    )
    (line,) = report.cell("rdd_python", R).diagnosis
    assert line.startswith("no diagnosis: RuntimeDefault's allow list is not known here")
    assert "--runtime-default" in line


def test_diagnoser_reports_what_is_missing(monkeypatch):
    monkeypatch.setattr(ComplainDiagnoser, "unavailable", lambda self: "needs root")
    diagnoser = ComplainDiagnoser(FakeBackend(_fail_confined))
    spec = RunSpec(
        workloads.resolve("rdd_python"),
        L,
        "img",
        profile_json=PROFILE.to_json(),
    )
    assert diagnoser.diagnose(spec, None) == ("no diagnosis: needs root",)


def test_backends_that_cannot_be_traced_are_not_rerun():
    backend = FakeBackend(_fail_confined)
    report = run_check(backend, check_plan([workloads.resolve("rdd_python")], [U, R]))
    assert len(backend.specs) == 2
    (line,) = report.cell("rdd_python", R).diagnosis
    assert line.startswith("no diagnosis: the fake backend does not report")
