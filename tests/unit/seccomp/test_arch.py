"""Names and numbers come from libseccomp; translation adds modern calls and reports gaps."""

import pytest

from profiler.errors import UsageError
from profiler.seccomp import arch


def test_aliases_and_native():
    assert arch.canonical_arch("amd64") == "x86_64"
    assert arch.canonical_arch("ARM64") == "aarch64"
    assert arch.canonical_arch("SCMP_ARCH_X86_64") == "x86_64"
    assert arch.parse_arches("arm64, amd64") == ("aarch64", "x86_64")
    assert arch.native_arch() in arch.known_arch_names()
    with pytest.raises(UsageError, match="unknown architecture"):
        arch.canonical_arch("sparc9000")


def test_numbers_and_names_from_libseccomp():
    assert arch.syscall_number("openat", "x86_64") == 257
    assert arch.syscall_number("openat", "arm64") == 56
    assert arch.syscall_number("open", "aarch64") is None  # pseudo-syscall there
    assert arch.syscall_number("no_such_call", "x86_64") is None
    assert arch.syscall_name(2, "x86_64") == "open"
    assert arch.syscall_name(56, "aarch64") == "openat"
    assert arch.syscall_name(99999, "x86_64") is None
    assert arch.syscall_name(-1, "x86_64") is None


def test_known_syscalls_per_arch():
    x86_64 = arch.known_syscalls("x86_64")
    aarch64 = arch.known_syscalls("aarch64")
    assert {"open", "openat", "clone3", "arch_prctl"} <= x86_64
    assert "openat" in aarch64 and "open" not in aarch64 and "arch_prctl" not in aarch64
    assert len(x86_64) > 300 and len(aarch64) > 250
    # compat ABIs are scanned at their number bases
    assert "set_tls" in arch.known_syscalls("arm")
    assert "read" in arch.known_syscalls("x32")


def test_oci_architectures():
    assert arch.oci_architectures("amd64") == (
        "SCMP_ARCH_X86_64",
        "SCMP_ARCH_X86",
        "SCMP_ARCH_X32",
    )
    assert arch.oci_architectures("arm64") == ("SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM")
    assert arch.oci_sub_arches("arm64") == ("aarch64", "arm")


def test_equivalence_map_is_consistent_with_libseccomp():
    for legacy, moderns in arch.LEGACY_EQUIVALENTS.items():
        assert arch.exists(legacy, "x86_64"), legacy
        assert not arch.exists(legacy, "aarch64") or legacy == "renameat", legacy
        assert any(arch.exists(m, "aarch64") for m in moderns), legacy


def test_translate_for_arm64_adds_modern_and_reports_missing():
    result = arch.translate_names(
        {"open", "stat", "read", "poll", "arch_prctl"}, ["amd64", "arm64"], ["x86_64"]
    )
    assert {"openat", "newfstatat", "ppoll"} <= result.names
    assert {"open", "stat", "poll", "read"} <= result.names  # x86_64 still needs them
    assert result.added["open"] == ("openat",)
    assert result.missing["aarch64"] == ("arch_prctl", "open", "poll", "stat")
    assert "x86_64" not in result.missing


def test_translate_backward_from_an_arm64_recording():
    result = arch.translate_names({"openat", "ppoll"}, ["x86_64"], ["aarch64"])
    assert {"open", "creat", "poll"} <= result.names
    assert result.added["openat"] == ("creat", "open")


def test_translate_same_arch_changes_nothing():
    result = arch.translate_names({"open", "read"}, ["x86_64"], ["x86_64"])
    assert result.names == {"open", "read"}
    assert not result.added and not result.missing
