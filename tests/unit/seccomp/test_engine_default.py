"""RuntimeDefault read from a bundle, the probe's three classes, and their cross-check."""

import errno

import pytest

from profiler.errors import UsageError
from profiler.seccomp.engine_default import (
    EngineDefault,
    classify_probe,
    cross_check,
    engine_default_from_oci,
)
from profiler.seccomp.runtime_default import RuntimeDefaultReference

# The shape of linux.seccomp in a Docker 20.10 bundle: resolved, no includes left.
BUNDLE = {
    "defaultAction": "SCMP_ACT_ERRNO",
    "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
    "syscalls": [
        {"names": ["read", "write", "getppid", "acct"], "action": "SCMP_ACT_ALLOW"},
        {
            "names": ["personality"],
            "action": "SCMP_ACT_ALLOW",
            "args": [{"index": 0, "value": 0, "op": "SCMP_CMP_EQ"}],
        },
        {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
        {"names": ["not_a_call_here"], "action": "SCMP_ACT_ALLOW"},
    ],
}


def _engine() -> EngineDefault:
    return engine_default_from_oci(BUNDLE, arch="x86_64", source="bundle")


def test_the_bundle_filter_is_read_with_its_errno_and_argument_rules() -> None:
    engine = _engine()
    assert engine.default_errno == errno.EPERM and engine.default_errno_name == "EPERM"
    assert engine.allowed == {"read", "write", "getppid", "acct"}
    assert engine.argument_filtered == {"personality"}
    assert engine.errno_rules == {"clone3": errno.ENOSYS}
    assert EngineDefault.from_dict(engine.to_dict()) == engine


def test_a_bundle_without_seccomp_fields_is_a_clear_error() -> None:
    with pytest.raises(UsageError):
        engine_default_from_oci({"syscalls": []}, arch="x86_64", source="bundle")


def test_three_classes_and_an_eperm_both_ways_is_never_allowed() -> None:
    numbers = {"getppid": 110, "ptrace": 101, "acct": 163, "map_shadow_stack": 453, "x": None}
    confined = {"110": 0, "101": errno.EPERM, "163": errno.EPERM, "453": errno.ENOSYS}
    free = {"110": 0, "101": errno.ESRCH, "163": errno.EPERM, "453": errno.ENOSYS}
    classes = classify_probe(numbers, confined, free)
    assert classes.allowed == {"getppid"}
    assert classes.blocked == {"ptrace"}
    # CAP_SYS_PACCT: refused either way; a call this kernel lacks: ENOSYS either way.
    assert classes.undecidable == {"acct", "map_shadow_stack"}


def test_the_cross_check_names_each_call_decided_differently() -> None:
    numbers = {"read": 0, "getppid": 110, "ptrace": 101, "personality": 135, "clone3": 435}
    confined = {"0": errno.EBADF, "110": errno.EPERM, "101": 3, "135": 0, "435": errno.ENOSYS}
    free = {"0": errno.EBADF, "110": 0, "101": 3, "135": errno.EINVAL, "435": errno.EINVAL}
    found = cross_check(_engine(), classify_probe(numbers, confined, free))
    assert [d.describe() for d in found] == [
        "getppid: allowed by the bundle's filter, blocked by the probe",
        "ptrace: not allowed by the bundle's filter, allowed by the probe",
    ]  # personality (argument-filtered) and clone3 (blocked, as the bundle says) agree


def test_a_probed_reference_keeps_its_classes_and_the_bundle_through_json() -> None:
    import json

    reference = RuntimeDefaultReference(
        name="docker runtime-default",
        source="probe",
        allowed=frozenset({"read"}),
        arch="x86_64",
        blocked=frozenset({"ptrace"}),
        undecidable=frozenset({"acct"}),
        probe_allowed=frozenset({"read"}),
        engine_default=_engine().to_dict(),
        disagreements=("x: y",),
    )
    again = RuntimeDefaultReference.from_dict(json.loads(reference.to_json()), "file")
    assert again == reference
    assert reference.to_json() == again.to_json()
