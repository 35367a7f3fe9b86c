"""Which calls each real filter lets the kernel cache: libseccomp's programs, known answers."""

from __future__ import annotations

import json
from pathlib import Path

from profiler.bench.filter_programs import compile_profile
from profiler.bench.microbench_run import arg_checked_profile
from profiler.seccomp.cache import (
    CallPath,
    argument_checked_names,
    classify_calls,
    describe_action,
)
from profiler.seccomp.profile import allow_all_profile

FIXTURES = Path(__file__).parents[2] / "fixtures"
REPO = Path(__file__).parents[3]
DOCKER_BUNDLE = FIXTURES / "seccomp" / "runtime_default_docker_20.10.24_bundle.json"


def small_profile() -> str:
    return json.dumps(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86"],
            "syscalls": [
                {"names": ["getppid", "read", "futex"], "action": "SCMP_ACT_ALLOW"},
                {
                    "names": ["write"],
                    "action": "SCMP_ACT_ALLOW",
                    "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQ"}],
                },
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
            ],
        }
    )


def test_number_only_allows_are_cached_the_rest_runs_the_program() -> None:
    names = ["getppid", "read", "futex", "write", "clone3", "openat", "no_such_call"]
    cache = classify_calls("small", [compile_profile(small_profile())], names, "x86_64")
    assert set(cache.names(CallPath.CACHED)) == {"getppid", "read", "futex"}
    assert cache.names(CallPath.ARGUMENT_CHECKED) == ("write",)
    assert set(cache.names(CallPath.DENIED)) == {"clone3", "openat"}
    assert cache.names(CallPath.ABSENT) == ("no_such_call",)
    clone3 = cache.call("clone3")
    assert clone3 is not None and clone3.denied_errno == 38
    assert clone3.actions == ("errno 38 (ENOSYS)",)
    openat = cache.call("openat")
    assert openat is not None and openat.denied_errno == 1  # a bare ERRNO is EPERM
    write = cache.call("write")
    assert write is not None and set(write.actions) == {"allow", "errno 1 (EPERM)"}
    assert write.instructions[0] > 0 and write.zero_argument_instructions > 0
    getppid = cache.call("getppid")
    assert getppid is not None and getppid.instructions == (0, 0)


def test_the_32_bit_abi_is_classified_on_its_own_numbers() -> None:
    cache = classify_calls("small", [compile_profile(small_profile())], ["getppid"], "x86")
    assert cache.names(CallPath.CACHED) == ("getppid",)


def test_docker_runtime_default_checks_clone_and_personality_and_refuses_clone3() -> None:
    profile = json.dumps(json.loads(DOCKER_BUNDLE.read_text()))
    names = ["clone", "clone3", "personality", "socket", "getppid", "futex", "mount"]
    cache = classify_calls("runtime-default", [compile_profile(profile)], names, "x86_64")
    assert set(cache.names(CallPath.ARGUMENT_CHECKED)) == {"clone", "personality"}
    # Docker 20.10.24 does not check socket's arguments (later versions refuse AF_VSOCK).
    assert set(cache.names(CallPath.CACHED)) == {"socket", "getppid", "futex"}
    assert set(cache.names(CallPath.DENIED)) == {"clone3", "mount"}
    clone3 = cache.call("clone3")
    assert clone3 is not None and clone3.denied_errno == 38
    clone = cache.call("clone")
    # The masked flag check passes for zero flags, as for a thread's or a fork's flags.
    assert clone is not None and "allow" in clone.actions
    assert clone.instructions[0] <= clone.zero_argument_instructions <= clone.instructions[1]


def test_argument_checked_names_scans_every_call_of_the_arch() -> None:
    profile = json.dumps(json.loads(DOCKER_BUNDLE.read_text()))
    assert argument_checked_names([compile_profile(profile)], "x86_64") == {"clone", "personality"}
    assert argument_checked_names([compile_profile(small_profile())], "x86_64") == {"write"}


def test_the_reference_profile_caches_every_call_it_allows() -> None:
    text = (REPO / "profiles" / "spark-3.5.9-amd64.json").read_text()
    data = json.loads(text)
    allowed = {n for r in data["syscalls"] if r["action"] == "SCMP_ACT_ALLOW" for n in r["names"]}
    cache = classify_calls("generated", [compile_profile(text)], allowed, "x86_64")
    assert not cache.uncached
    assert set(cache.names(CallPath.CACHED)) | set(cache.names(CallPath.ABSENT)) == allowed


def test_one_argument_checked_rule_uncaches_that_call_only() -> None:
    text = (REPO / "profiles" / "spark-3.5.9-amd64.json").read_text()
    checked = arg_checked_profile(text, "getppid")
    cache = classify_calls(
        "one-arg-rule", [compile_profile(checked)], ["getppid", "getpid", "read"], "x86_64"
    )
    assert cache.names(CallPath.ARGUMENT_CHECKED) == ("getppid",)
    assert set(cache.names(CallPath.CACHED)) == {"getpid", "read"}


def test_allow_everything_recording_filter_caches_all_but_its_one_rule() -> None:
    program = compile_profile(allow_all_profile().to_json())
    cache = classify_calls("recording", [program], ["read", "clone3", "kexec_load"], "x86_64")
    assert set(cache.names(CallPath.CACHED)) == {"read", "clone3"}
    assert cache.names(CallPath.DENIED) == ("kexec_load",)


def test_a_stack_with_a_later_refusal_uncaches_that_number() -> None:
    everything = compile_profile(allow_all_profile().to_json())
    small = compile_profile(small_profile())
    cache = classify_calls("stack", [everything, small], ["read", "openat"], "x86_64")
    assert cache.names(CallPath.CACHED) == ("read",)
    openat = cache.call("openat")
    assert openat is not None and openat.path is CallPath.DENIED
    assert cache.program_instructions == (len(everything), len(small))


def test_describe_action() -> None:
    assert describe_action(0x7FFF0000) == "allow"
    assert describe_action(0x00050026) == "errno 38 (ENOSYS)"
    assert describe_action(0x80000000) == "kill process"
