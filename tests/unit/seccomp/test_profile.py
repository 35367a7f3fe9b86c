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
