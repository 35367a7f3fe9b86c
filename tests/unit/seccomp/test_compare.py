import pytest

from profiler.errors import UsageError
from profiler.seccomp.compare import (
    diff_profiles,
    explain,
    merge_profiles,
    merge_summaries,
)
from profiler.seccomp.generate import derive_profile
from profiler.seccomp.profile import ArgCondition, Profile, SyscallRule
from profiler.seccomp.runtime_default import RuntimeDefaultReference

from .conftest import recording


def _profile(*rules, errno=38):
    return Profile("SCMP_ACT_ERRNO", tuple(rules), errno, ("SCMP_ARCH_X86_64",))


def test_merge_is_the_union_and_drops_explicit_errno_for_allowed_names():
    a = _profile(
        SyscallRule(("read", "write"), "SCMP_ACT_ALLOW"),
        SyscallRule(("openat", "mount"), "SCMP_ACT_ERRNO", errno_ret=38),
    )
    b = _profile(
        SyscallRule(("openat",), "SCMP_ACT_ALLOW"),
        SyscallRule(("personality",), "SCMP_ACT_ALLOW", args=(ArgCondition(0, 0, "SCMP_CMP_EQ"),)),
    )
    merged = merge_profiles([a, b])
    assert merged.allowed() == {"read", "write", "openat", "personality"}
    errno_rules = [r for r in merged.rules if r.action == "SCMP_ACT_ERRNO"]
    assert [r.names for r in errno_rules] == [("mount",)]
    assert merged.rules[1].args  # the argument-checked rule survives
    assert merge_profiles([a, b]).to_json() == merged.to_json()


def test_merge_refuses_different_errnos():
    with pytest.raises(UsageError, match="disagree"):
        merge_profiles([_profile(errno=38), _profile(errno=1)])
    with pytest.raises(UsageError):
        merge_profiles([])


def test_merge_summaries_adds_runs_and_exposes_flakiness():
    _, one = derive_profile([recording("w", 0, {"read": {"shell": 1}, "poll": {"shell": 2}})])
    _, two = derive_profile([recording("w", 1, {"read": {"shell": 3}, "mount": {"other": 1}})])
    merged = merge_summaries([one, two])
    assert merged.total_runs == 2
    assert merged.usage["read"].runs == 2 and merged.usage["read"].calls == 4
    assert merged.usage["poll"].runs == 1
    assert merged.flaky == ("mount", "poll")
    assert [h.name for h in merged.held_back] == ["mount"]


def test_diff_profiles_and_references():
    a = _profile(SyscallRule(("read", "openat", "bpf"), "SCMP_ACT_ALLOW"))
    b = _profile(SyscallRule(("read", "write"), "SCMP_ACT_ALLOW"))
    result = diff_profiles(a, b, left="mine", right="theirs")
    assert result.only_left == ("bpf", "openat")
    assert result.only_right == ("write",)
    assert result.common == ("read",)
    assert not result.identical
    reference = RuntimeDefaultReference(
        "rd", "file", frozenset({"read", "openat", "bpf"}), "x86_64"
    )
    assert diff_profiles(a, reference).identical
    assert diff_profiles(a, {"read"}).only_left == ("bpf", "openat")


def test_explain_rows(recordings):
    profile, summary = derive_profile(recordings, arches=["amd64", "arm64"], allow=["ptrace"])
    rows = {r.name: r for r in explain(profile, summary)}
    assert rows["read"].runs == 3 and rows["read"].total_runs == 3
    assert rows["read"].roles == {"executor JVM": 20, "python worker": 17}
    assert rows["read"].workloads == {"rdd_python": 1, "sql_aggregation": 2}
    assert not rows["mount"].allowed and "held back" in rows["mount"].notes[0]
    assert any("equivalent of poll" in n for n in rows["ppoll"].notes)
    assert rows["ppoll"].runs == 0
    assert any("does not exist on aarch64" in n for n in rows["open"].notes)
    assert any(n.startswith("flaky") and "sql_aggregation 1/2" in n for n in rows["poll"].notes)
    assert "allowed by --allow" in rows["ptrace"].notes
    bare = explain(profile)
    assert all(r.runs is None for r in bare)
    assert [r.name for r in bare] == sorted(profile.allowed())
