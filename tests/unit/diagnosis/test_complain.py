"""The complain transform and what a profile decides for one name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from profiler.diagnosis.complain import (
    Decision,
    allow_list_decider,
    complain_profile,
    decide,
    runtime_default_complain_profile,
)
from profiler.seccomp.profile import Profile, profile_from_dict
from tests.unit.diagnosis.sample import PROFILE, SOCKET_AF_UNIX_ONLY

FIXTURES = Path(__file__).parents[2] / "fixtures" / "diagnose"


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


def test_runtime_default_decider():
    decider = allow_list_decider(frozenset({"read"}))
    assert decider("read") is Decision.ALLOWED
    assert decider("clone3") is Decision.FALLBACK
    assert decider("mbind") is Decision.DENIED
