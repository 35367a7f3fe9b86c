import json

import pytest

from profiler.errors import UsageError
from profiler.seccomp.runtime_default import (
    DOCKER_DEFAULT_CAPABILITIES,
    allowed_by_profile_data,
    load_runtime_default,
)

from .conftest import FIXTURES

DOCKER = FIXTURES / "seccomp" / "docker_default_small.json"


def test_all_capabilities_dropped_on_x86_64():
    ref = load_runtime_default(DOCKER, arch="amd64")
    assert ref.arch == "x86_64"
    assert ref.source == str(DOCKER)
    assert "no capabilities" in ref.name
    # chown32/mmap2 do not exist on x86_64; arm-only and cap-gated calls drop out;
    # clone stays (argument-filtered); clone3 gets ENOSYS, i.e. is not allowed
    assert ref.allowed == {
        "read",
        "write",
        "open",
        "openat",
        "close",
        "futex",
        "mmap",
        "exit_group",
        "rt_sigreturn",
        "ptrace",
        "personality",
        "arch_prctl",
        "clone",
    }


def test_capabilities_bring_back_gated_calls():
    ref = load_runtime_default(DOCKER, arch="x86_64", capabilities=["SYS_ADMIN", "cap_sys_nice"])
    assert {"mount", "unshare", "clone3", "mbind", "get_mempolicy"} <= ref.allowed
    docker = load_runtime_default(DOCKER, arch="x86_64", capabilities=DOCKER_DEFAULT_CAPABILITIES)
    assert "mount" not in docker.allowed and "clone3" not in docker.allowed


def test_arch_and_kernel_conditions():
    ref = load_runtime_default(DOCKER, arch="arm64")
    assert "arch_prctl" not in ref.allowed and "open" not in ref.allowed
    assert "openat" in ref.allowed
    data = json.loads(DOCKER.read_text())
    old = allowed_by_profile_data(data, arch="x86_64", kernel="4.4.0-210-generic")
    assert "ptrace" not in old
    new = allowed_by_profile_data(data, arch="x86_64", kernel="6.1.0")
    assert "ptrace" in new


def test_plain_oci_and_allow_default_profiles():
    oci = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ALLOW"}],
    }
    assert allowed_by_profile_data(oci, arch="x86_64") == {"read"}
    permissive = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"}],
    }
    allowed = allowed_by_profile_data(permissive, arch="x86_64")
    assert "kexec_load" not in allowed and "read" in allowed and len(allowed) > 300


def test_bad_inputs_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="does not exist"):
        load_runtime_default(tmp_path / "none.json", arch="x86_64")
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(UsageError, match="not valid JSON"):
        load_runtime_default(bad, arch="x86_64")
    with pytest.raises(UsageError, match="defaultAction: required key is missing"):
        allowed_by_profile_data({"syscalls": []}, arch="x86_64")
    riscv_only = {"defaultAction": "SCMP_ACT_ERRNO", "architectures": ["SCMP_ARCH_RISCV64"]}
    with pytest.raises(UsageError, match="no entry for architecture"):
        allowed_by_profile_data(riscv_only, arch="x86_64")
