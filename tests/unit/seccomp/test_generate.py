import json

import pytest

from profiler.errors import UsageError
from profiler.seccomp import arch
from profiler.seccomp.generate import (
    Summary,
    derive_profile,
    load_summary,
    recording_profile,
    summary_path_for,
)
from profiler.seccomp.profile import profile_from_dict

from .conftest import recording


def test_default_profile_shape(recordings):
    profile, summary = derive_profile(recordings)
    data = profile.to_dict()
    assert data["defaultAction"] == "SCMP_ACT_ERRNO"
    assert data["defaultErrnoRet"] == 38
    assert data["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    allow = data["syscalls"][0]
    assert allow["action"] == "SCMP_ACT_ALLOW"
    assert allow["names"] == sorted(allow["names"])
    assert {"read", "openat", "open", "clone3", "futex", "poll", "pipe2"} <= set(allow["names"])
    # only plain OCI keys
    keys = {k for rule in data["syscalls"] for k in rule}
    assert keys <= {"names", "action", "errnoRet", "args"}
    assert set(data) <= {"defaultAction", "defaultErrnoRet", "architectures", "flags", "syscalls"}
    assert profile_from_dict(json.loads(profile.to_json())) == profile
    assert summary.total_runs == 3


def test_same_recordings_give_the_same_bytes_in_any_order(recordings):
    first, first_summary = derive_profile(recordings, arches=["amd64", "arm64"])
    second, second_summary = derive_profile(list(reversed(recordings)), arches=["arm64", "amd64"])
    assert first.to_json() == second.to_json()
    assert first_summary.to_json() == second_summary.to_json()
    assert first.to_json().endswith("}\n")


def test_eperm_default_keeps_enosys_for_fallback_calls():
    profile, _ = derive_profile([recording("w", 0, {"read": {"shell": 1}})], errno="eperm")
    data = profile.to_dict()
    assert data["defaultErrnoRet"] == 1
    enosys = [r for r in data["syscalls"] if r.get("errnoRet") == 38]
    assert len(enosys) == 1 and "clone3" in enosys[0]["names"]


def test_clone3_recorded_is_allowed_not_errno(recordings):
    profile, summary = derive_profile(recordings, errno="eperm")
    assert "clone3" in profile.allowed()
    assert all("clone3" not in r.names for r in profile.rules if r.action != "SCMP_ACT_ALLOW")
    assert "clone3" not in {h.name for h in summary.held_back}


def test_explicit_errno_covers_every_known_name_not_allowed(recordings):
    profile, summary = derive_profile(recordings, errno="eperm", explicit_errno=True)
    errno_rules = [r for r in profile.rules if r.action == "SCMP_ACT_ERRNO"]
    assert [r.errno_ret for r in errno_rules] == [38, 1]
    explicit = set(errno_rules[1].names)
    known = set()
    for sub in arch.oci_sub_arches("x86_64"):
        known |= arch.known_syscalls(sub)
    allowed = profile.allowed()
    assert explicit == known - allowed - set(errno_rules[0].names)
    assert "mount" in explicit and "read" not in explicit
    assert summary.explicit_errno
    without, _ = derive_profile(recordings, errno="eperm")
    assert len(without.rules) == 2


def test_risky_calls_are_held_back_unless_allowed(recordings):
    profile, summary = derive_profile(recordings)
    assert "mount" not in profile.allowed() and "mbind" not in profile.allowed()
    held = {h.name: h for h in summary.held_back}
    assert set(held) == {"mount", "mbind"}
    assert "CAP_SYS_NICE" in held["mbind"].reason
    profile, summary = derive_profile(recordings, allow=["mbind", "ptrace"])
    assert {"mbind", "ptrace"} <= profile.allowed()
    assert [h.name for h in summary.held_back] == ["mount"]
    assert summary.user_allowed == {"mbind", "ptrace"}


def test_allow_with_an_unknown_name_is_a_usage_error(recordings):
    with pytest.raises(UsageError, match="opne"):
        derive_profile(recordings, allow=["opne"])


def test_bad_options_are_usage_errors(recordings):
    with pytest.raises(UsageError, match="unknown errno"):
        derive_profile(recordings, errno="eacces")
    with pytest.raises(UsageError, match="no recordings"):
        derive_profile([])
    with pytest.raises(UsageError, match="unknown architecture"):
        derive_profile(recordings, arches=["vax"])


def test_arm64_translation_and_missing_report(recordings):
    profile, summary = derive_profile(recordings, arches=["amd64", "arm64"])
    allowed = profile.allowed()
    assert {"open", "openat", "poll", "ppoll"} <= allowed
    assert profile.architectures == (
        "SCMP_ARCH_AARCH64",
        "SCMP_ARCH_ARM",
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
    )
    assert "open" in summary.missing["aarch64"]
    assert "poll" in summary.missing["aarch64"]
    assert "openat" not in summary.missing["aarch64"]
    assert summary.added["poll"] == ("ppoll",)
    assert "x86_64" not in summary.missing


def test_arm64_only_target(recordings):
    profile, summary = derive_profile(recordings, arches=["arm64"])
    assert profile.architectures == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")
    assert "openat" in profile.allowed() and "ppoll" in profile.allowed()
    assert summary.missing == {"aarch64": ("open", "poll")}


def test_a_name_no_target_has_is_reported_not_allowed(recordings):
    x86_only = [*recordings, recording("rdd_python", 1, {"arch_prctl": {"driver JVM": 2}})]
    profile, summary = derive_profile(x86_only, arches=["arm64"])
    assert "arch_prctl" not in profile.allowed()
    assert "arch_prctl" not in summary.allowed
    assert "arch_prctl" in summary.missing["aarch64"]
    assert "arch_prctl" in summary.usage


def test_summary_counts_runs_roles_workloads_and_flaky(recordings):
    _, summary = derive_profile(recordings)
    read = summary.usage["read"]
    assert read.runs == 3
    assert read.workloads == {"rdd_python": 1, "sql_aggregation": 2}
    assert read.roles == {"executor JVM": 20, "python worker": 17}
    assert read.calls == 37
    # poll appeared in one of two sql_aggregation runs: flaky; pipe2 only in rdd_python's
    # single run: workload-specific, not flaky
    assert summary.flaky == ("poll",)
    assert summary.arg_values == {"socket.domain": frozenset({1, 2})}
    data = json.loads(summary.to_json())
    assert data["syscalls"]["poll"]["flaky"] is True
    assert data["syscalls"]["poll"]["total_runs"] == 3
    assert data["syscalls"]["mount"]["allowed"] is False
    assert data["flaky"] == ["poll"]


def test_summary_round_trips(tmp_path, recordings):
    _, summary = derive_profile(recordings, arches=["amd64", "arm64"])
    path = tmp_path / "p.summary.json"
    path.write_text(summary.to_json())
    loaded = load_summary(path)
    assert loaded.to_json() == summary.to_json()
    with pytest.raises(UsageError, match="not a profile summary"):
        Summary.from_dict({"format": 99})


def test_summary_path_and_recording_profile(tmp_path):
    assert summary_path_for(tmp_path / "job.json") == tmp_path / "job.summary.json"
    assert summary_path_for(tmp_path / "job") == tmp_path / "job.summary.json"
    profile = recording_profile()
    assert profile.default_action == "SCMP_ACT_ALLOW"
    assert profile.rules  # a rule makes every runtime install a filter


def test_unknown_numbers_are_reported():
    rec = recording("w", 0, {"read": {"shell": 1}}, unknown_numbers=frozenset({999}))
    _, summary = derive_profile([rec])
    assert summary.unknown_numbers == {999}


def test_the_spark_versions_recorded_are_kept_in_the_summary_and_read_back(recordings):
    _, summary = derive_profile(recordings, spark_versions=["4.3.0", "3.5.9", "4.3.0"])
    assert summary.spark_versions == ("3.5.9", "4.3.0")
    data = json.loads(summary.to_json())
    assert data["spark_versions"] == ["3.5.9", "4.3.0"]
    assert Summary.from_dict(data).spark_versions == ("3.5.9", "4.3.0")


def test_a_summary_that_does_not_know_the_spark_version_says_nothing(recordings):
    _, summary = derive_profile(recordings)
    assert "spark_versions" not in json.loads(summary.to_json())


def test_merged_summaries_hold_every_spark_version(recordings):
    from profiler.seccomp.compare import merge_summaries

    _, a = derive_profile(recordings, spark_versions=["3.5.9"])
    _, b = derive_profile(recordings, spark_versions=["4.3.0"])
    _, unknown = derive_profile(recordings)
    assert merge_summaries([a, b, unknown]).spark_versions == ("3.5.9", "4.3.0")
