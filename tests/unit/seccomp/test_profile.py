from profiler.seccomp.profile import Profile, SyscallRule


def test_without_allowed_takes_a_name_out_of_allow_rules_only():
    profile = Profile(
        "SCMP_ACT_ERRNO",
        (
            SyscallRule(("read", "socket", "write"), "SCMP_ACT_ALLOW"),
            SyscallRule(("socket",), "SCMP_ACT_ERRNO", errno_ret=38),
        ),
        default_errno_ret=38,
    )
    smaller = profile.without_allowed("socket")
    assert smaller.allowed() == {"read", "write"}
    assert smaller.rules[1] == profile.rules[1]
    assert smaller.default_errno_ret == 38
    assert profile.allowed() == {"read", "socket", "write"}  # the original is unchanged


def test_with_allowed_moves_a_name_from_a_refusal_into_the_allow_rule():
    profile = Profile(
        "SCMP_ACT_ERRNO",
        (
            SyscallRule(("read", "write"), "SCMP_ACT_ALLOW"),
            SyscallRule(("clock_gettime", "socket"), "SCMP_ACT_ERRNO", errno_ret=1),
        ),
    )
    grown = profile.with_allowed(["clock_gettime"])
    assert grown.allowed() == {"read", "write", "clock_gettime"}
    assert grown.rules[1] == SyscallRule(("socket",), "SCMP_ACT_ERRNO", errno_ret=1)
    assert profile.with_allowed([]) is profile
    # No unconditional allow rule: one is added.
    only_denials = Profile("SCMP_ACT_ALLOW", (SyscallRule(("clock_gettime",), "SCMP_ACT_ERRNO"),))
    assert only_denials.with_allowed(["clock_gettime"]).rules == (
        SyscallRule(("clock_gettime",), "SCMP_ACT_ALLOW"),
    )
