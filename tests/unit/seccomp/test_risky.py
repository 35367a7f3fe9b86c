from profiler.seccomp.risky import RISKY, split_risky


def test_every_entry_has_a_reason_and_clone3_is_not_held_back():
    assert "clone3" not in RISKY
    for name, call in RISKY.items():
        assert call.name == name
        assert call.reason and "\n" not in call.reason
        assert call.capability is None or call.capability.startswith("CAP_")
    assert RISKY["mount"].capability == "CAP_SYS_ADMIN"
    assert RISKY["mbind"].capability == "CAP_SYS_NICE"
    assert RISKY["keyctl"].capability is None


def test_split_holds_back_risky_names_with_reasons():
    kept, held = split_risky({"read", "mount", "ptrace", "clone3"})
    assert kept == {"read", "clone3"}
    assert [h.name for h in held] == ["mount", "ptrace"]
    assert "CAP_SYS_ADMIN" in held[0].reason
    assert held[1].capability == "CAP_SYS_PTRACE"


def test_allow_releases_a_held_back_name():
    kept, held = split_risky({"read", "mount", "mbind"}, allow={"mbind", "unrelated"})
    assert kept == {"read", "mbind"}
    assert [h.name for h in held] == ["mount"]
