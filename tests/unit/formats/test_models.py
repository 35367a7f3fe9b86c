"""The models accept everything this tool writes, and what runtimes accept, and no more."""

import json
from pathlib import Path

import pytest

from profiler.errors import UsageError
from profiler.formats import jsonfile
from profiler.formats.seccomp import OciProfile, unknown_names
from profiler.report.check_formats import check_to_json
from profiler.report.inputs import check_from_dict, summary_from_dict
from profiler.seccomp.generate import Summary, derive_profile, load_summary
from profiler.seccomp.profile import load_profile, profile_from_dict, read_profile
from profiler.seccomp.runtime_default import load_runtime_default
from profiler.tracing.interface import Recording

ROOT = Path(__file__).parents[3]
FIXTURES = ROOT / "tests" / "fixtures"


@pytest.mark.parametrize("path", sorted((ROOT / "profiles").glob("spark-*[0-9].json")), ids=str)
def test_the_committed_profiles_and_summaries_validate(path: Path) -> None:
    profile = load_profile(path)
    assert profile.allowed()
    summary = load_summary(path.with_name(path.stem + ".summary.json"))
    assert summary.allowed == profile.allowed()


def test_the_committed_runtime_default_reference_validates() -> None:
    [path] = (ROOT / "profiles").glob("runtime-default-*.json")
    assert "read" in load_runtime_default(path, arch="x86_64").allowed


def test_a_derived_profile_and_summary_read_back_identically(recordings) -> None:
    profile, summary = derive_profile(recordings, arches=["amd64", "arm64"], explicit_errno=True)
    assert profile_from_dict(json.loads(profile.to_json())) == profile
    model = jsonfile.validate(OciProfile, json.loads(profile.to_json()), "p", "h")
    assert unknown_names(model) == []
    assert Summary.from_dict(json.loads(summary.to_json())).to_json() == summary.to_json()
    assert summary_from_dict(json.loads(summary.to_json())).syscalls


def test_a_recording_reads_back_identically(recordings) -> None:
    for recording in recordings:
        assert Recording.from_dict(json.loads(json.dumps(recording.to_dict()))) == recording


def test_check_json_written_by_check_reads_back() -> None:
    from profiler.check import Cell, CheckReport, RunOutcome, Verdict
    from profiler.runtime.interface import PodSecurity, SecurityMode

    run = RunOutcome(Verdict.FAIL, 1, 3.5, None, None, None, "NotADirectoryError: x", "runs/x")
    report = CheckReport(
        "img",
        PodSecurity.RESTRICTED,
        (SecurityMode.UNCONFINED,),
        ("rdd_python",),
        (Cell("rdd_python", SecurityMode.UNCONFINED, (run,), ("denied: socket",)),),
        None,
        1,
    )
    matrix = check_from_dict(json.loads(check_to_json(report)))
    assert matrix.cells[0].error_line == "NotADirectoryError: x"
    assert matrix.cells[0].diagnosis == ("denied: socket",)


def test_every_oci_action_op_and_flag_is_accepted() -> None:
    from profiler.formats.seccomp import ACTIONS, ARG_OPS

    rules = [
        {
            "names": ["read"],
            "action": action,
            "errnoRet": 4294967295,
            "args": [
                {"index": i % 6, "value": 2**64 - 1, "valueTwo": 0, "op": op}
                for i, op in enumerate(ARG_OPS)
            ],
        }
        for action in ACTIONS
    ]
    data = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": 0,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_AARCH64", "SCMP_ARCH_RISCV64"],
        "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"],
        "syscalls": rules,
    }
    profile = profile_from_dict(data)
    assert len(profile.rules) == len(ACTIONS)
    assert profile.rules[0].args[0].value == 2**64 - 1


def test_names_are_looked_up_on_the_listed_architectures(tmp_path: Path) -> None:
    path = tmp_path / "p.json"
    data = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["arch_prctl"], "action": "SCMP_ACT_ALLOW"}],
    }
    for architectures, known in (
        (["SCMP_ARCH_X86_64"], True),
        (["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"], False),
    ):
        path.write_text(json.dumps({**data, "architectures": architectures}))
        if known:
            read_profile(path)
        else:
            with pytest.raises(
                UsageError, match="not a syscall libseccomp knows on SCMP_ARCH_AARCH64"
            ):
                read_profile(path)
            kept = read_profile(path, allow_unknown=True)
            assert kept.unknown == ("arch_prctl",)
            assert "arch_prctl" in kept.profile.allowed()
            assert "--allow-unknown" in (kept.warning() or "")


def test_profile_from_dict_checks_structure_but_not_existence() -> None:
    # Re-reading a profile the user chose to keep unknown names in must not fail.
    data = {
        "defaultAction": "SCMP_ACT_ERRNO",
        "syscalls": [{"names": ["mseal_v2"], "action": "SCMP_ACT_ALLOW"}],
    }
    assert profile_from_dict(data).allowed() == {"mseal_v2"}
    with pytest.raises(UsageError, match="expected a syscall name"):
        profile_from_dict(
            {**data, "syscalls": [{"names": ["read write"], "action": "SCMP_ACT_ALLOW"}]}
        )


def test_the_report_reads_both_summary_shapes() -> None:
    short = summary_from_dict(
        {
            "syscalls": {"read": {"runs": 1, "of_runs": 2, "workloads": ["a"]}},
            "held_back": {"mbind": "numa"},
        }
    )
    long = summary_from_dict(
        {
            "syscalls": {"read": {"runs": 1, "total_runs": 2, "workloads": {"a": 1}}},
            "held_back": [{"name": "mbind", "reason": "numa", "capability": "CAP_SYS_NICE"}],
        }
    )
    assert short == long


def test_docker_default_json_conditions_are_still_understood() -> None:
    reference = load_runtime_default(
        FIXTURES / "seccomp" / "docker_default_small.json", arch="x86_64"
    )
    assert reference.allowed
