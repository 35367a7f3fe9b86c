"""The adversarial corpus: malformed and hostile inputs and outputs, through the CLI.

Every error case runs one command in-process and asserts the exit code, that stderr is
exactly one line starting with ``error:`` and containing the expected words, that no
traceback appears, and that no file in the working directory changed: nothing replaced,
nothing created, no mode changed (a snapshot of the directory before and after).
Fixtures are in tests/fixtures/adversarial (see its README). No case may reach a backend:
``make_backend`` is replaced by one that fails the case, and DOCKER_HOST points nowhere.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import stat
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from profiler.cli import main
from profiler.errors import EXIT_ENVIRONMENT, EXIT_OK, EXIT_USAGE

FX = Path(__file__).parents[1] / "fixtures" / "adversarial"
K8S = Path(__file__).parents[1] / "fixtures" / "k8s"
SPO = K8S / "spo" / "recorded.yaml"
RUNTIME_DEFAULT_FILE = ("--runtime-default", str(FX / "valid" / "docker_default.json"))
VALID = FX / "valid" / "profile.json"
OTHER = FX / "valid" / "other.json"

Prepare = Callable[[Path], None]


def nothing(_tmp: Path) -> None:
    pass


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    message: str  # words the one error line must contain
    code: int = EXIT_USAGE
    prepare: Prepare = nothing
    file: str = ""  # the input file the error line must name
    exact: bool = False  # ``message`` is the whole line after "error: "


@dataclass(frozen=True)
class Success:
    id: str
    args: tuple[str, ...]
    check: Callable[[Path, str, str], None]
    prepare: Prepare = nothing
    code: int = EXIT_OK
    files: dict[str, str] = field(default_factory=dict)


# -- the working directory -------------------------------------------------------------------
OLD_PROFILE = '{"defaultAction": "SCMP_ACT_ALLOW"}\n'


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A directory holding out.json, an old profile the user made private (0600)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARK_SECCOMP_RUNS", str(tmp_path / "runs"))
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    # No engine answers: Podman's services and containerd's sockets point nowhere too.
    monkeypatch.setattr("profiler.runtime.engine.PODMAN_SOCKET_DIR", tmp_path / "no-podman")
    monkeypatch.setattr(
        "profiler.runtime.engine.CONTAINERD_SOCKETS", (tmp_path / "no-containerd.sock",)
    )

    def no_backend(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("an adversarial case reached make_backend")

    monkeypatch.setattr("profiler.runtime.select.make_backend", no_backend)
    out = tmp_path / "out.json"
    out.write_text(OLD_PROFILE)
    out.chmod(0o600)
    yield tmp_path


def snapshot(root: Path) -> dict[str, tuple[str, int, str]]:
    """Every entry under ``root``: its type, permission bits and content (or link target)."""
    state = {}
    for path in sorted(root.rglob("*")):
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            content = os.readlink(path)
        elif stat.S_ISREG(info.st_mode):
            content = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            content = ""
        state[str(path.relative_to(root))] = (
            stat.filemode(info.st_mode)[0],
            stat.S_IMODE(info.st_mode),
            content,
        )
    return state


def expand(args: tuple[str, ...], tmp: Path) -> list[str]:
    return [a.format(tmp=tmp, fx=FX, valid=VALID, other=OTHER) for a in args]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    code = info.value.code
    return (code if isinstance(code, int) else 0), captured.out, captured.err


def assert_one_error_line(err: str, message: str) -> None:
    lines = err.splitlines()
    assert len(lines) == 1, f"expected one line of stderr, got {len(lines)}:\n{err}"
    assert lines[0].startswith("error: "), lines[0]
    assert message in lines[0], f"{message!r} not in {lines[0]!r}"


# -- profiles: every malformed profile through one of the commands that read profiles -------
PROFILES = [
    ("syscalls_is_a_number", "syscalls: expected a list, got 5"),
    ("syscalls_entry_not_an_object", "syscalls[0]: expected an object, got 5"),
    ("args_not_a_list", "syscalls[1].args: expected a list, got an object"),
    ("args_without_index", "syscalls[1].args[0].index: required key is missing"),
    ("args_without_value", "syscalls[1].args[0].value: required key is missing"),
    ("args_without_op", "syscalls[1].args[0].op: required key is missing"),
    ("value_hex_string", "value: expected an integer from 0 to 18446744073709551615"),
    ("value_negative", "syscalls[1].args[0].value: expected an integer from 0 to"),
    ("value_above_64_bits", "got 18446744073709551616"),
    ("value_two_string", "valueTwo: expected an integer from 0 to 18446744073709551615"),
    ("value_float", "got 1.5"),
    ("value_5000_digits", "got a 5000-digit number"),
    ("infinite_value", "got 1e999, beyond the range of a number"),
    ("arg_index_6", "expected an argument index from 0 to 5, got 6"),
    ("arg_index_negative", "expected an argument index from 0 to 5, got -1"),
    ("arg_index_bool", "expected an argument index from 0 to 5, got false"),
    ("op_unknown", "op: expected one of 'SCMP_CMP_NE'"),
    ("op_lower_case", 'got "scmp_cmp_eq"'),
    ("architectures_a_string", 'architectures: expected a list, got "SCMP_ARCH_X86_64"'),
    ("architecture_bogus", "architectures[1]: expected one of libseccomp's architectures"),
    ("architecture_lower_case", 'got "scmp_arch_x86_64"'),
    ("architecture_go_alias", 'got "SCMP_ARCH_AMD64"'),
    ("architecture_number", "architectures[0]: expected one of libseccomp's architectures"),
    ("default_errno_string", "defaultErrnoRet: expected an errno number from 0 to 4294967295"),
    ("default_errno_negative", "got -38"),
    ("errno_negative", "syscalls[2].errnoRet: expected an errno number"),
    (
        "errno_true",
        "syscalls[2].errnoRet: expected an errno number from 0 to 4294967295 (unsigned 32-bit), got true",
    ),
    ("errno_above_32_bits", "got 4294967296"),
    ("errno_float", "got 38.0"),
    ("errno_name", 'got "ENOSYS"'),
    ("errno_5000_digits", "defaultErrnoRet: expected an errno number"),
    ("nan_errno", "got NaN, which is not a JSON number"),
    (
        "name_empty",
        'syscalls[0].names[5]: expected a syscall name (lower-case letters, digits and _), got ""',
    ),
    ("name_unknown", '"not_a_syscall" is not a syscall libseccomp knows on SCMP_ARCH_X86_64'),
    ("name_shell_injection", 'got "read; rm -rf /"'),
    ("name_upper_case", 'got "READ"'),
    ("name_number", "syscalls[0].names[5]: expected a syscall name"),
    ("name_other_arch_only", '"arm_fadvise64_64" is not a syscall libseccomp knows'),
    ("names_a_string", 'syscalls[0].names: expected a list, got "read"'),
    ("names_missing", "syscalls[0].names: required key is missing"),
    ("action_unknown", "syscalls[0].action: expected one of 'SCMP_ACT_KILL'"),
    ("action_lower_case", 'got "scmp_act_allow"'),
    ("action_missing", "syscalls[0].action: required key is missing"),
    ("default_action_missing", "defaultAction: required key is missing"),
    ("default_action_number", "defaultAction: expected one of"),
    (
        "docker_arch_map",
        "archMap: unknown key (a Docker-only key, which containerd and CRI-O ignore",
    ),
    ("docker_name_key", 'syscalls[3].name: unknown key (the old Docker spelling; write "names"'),
    ("docker_includes", "syscalls[0].includes: unknown key (a Docker-only key"),
    ("docker_comment", "syscalls[0].comment: unknown key"),
    ("misspelt_key", "defaultErrnoret: unknown key, not part of this format"),
    ("listener_path", "listenerPath: unknown key (a seccomp agent setting"),
    ("flags_unknown", "flags[0]: expected one of 'SECCOMP_FILTER_FLAG_TSYNC'"),
    ("flags_a_string", "flags: expected a list"),
    ("top_level_list", "the top level: expected an object, got a list of 3"),
    ("top_level_string", 'the top level: expected an object, got "SCMP_ACT_ALLOW"'),
    ("top_level_null", "the top level: expected an object, got null"),
    ("truncated", "is not valid JSON (line 2 column 1"),
    ("empty", "is not valid JSON (line 1 column 1: Expecting value)"),
    ("trailing_comma", "is not valid JSON (line 1 column 36"),
    ("yaml_not_json", "is not valid JSON"),
    ("duplicate_default_action", 'key "defaultAction" appears twice in one object'),
    ("nested_5000_deep", "nests arrays or objects more than 64 levels deep"),
    ("lone_surrogate", "unpaired \\u surrogate escape"),
    ("latin1_bytes", "is not UTF-8 text (byte 0xe9 at offset 62)"),
    (
        "names_empty",
        "syscalls[3].names: expected at least one syscall name, got an empty list (a rule "
        "without names matches no call; the OCI runtime spec requires one)",
    ),
]

# Each profile goes through one command; together they cover every command that reads one.
PROFILE_COMMANDS = [
    ("explain", ("profile", "explain", "{file}")),
    ("merge", ("profile", "merge", "{valid}", "{file}", "--out", "{tmp}/out.json")),
    ("diff", ("profile", "diff", "{file}", "{valid}", "--json")),
    (
        "check",
        ("check", "rdd_python", "--modes", "localhost", "--profile", "{file}")
        + ("--run-dir", "{tmp}/run", "--json", "{tmp}/check.json"),
    ),
    ("bench", ("bench", "rdd_python", "--profile", "{file}", "--run-dir", "{tmp}/bench")),
    ("merge-second", ("profile", "merge", "{file}", "{other}", "-o", "{tmp}/out.json")),
    # The file is read before runtime-default would probe an engine.
    ("diff-runtime-default", ("profile", "diff", "runtime-default", "{file}")),
]


def _profile_cases() -> list[Case]:
    cases = []
    for index, (name, message) in enumerate(PROFILES):
        command, args = PROFILE_COMMANDS[index % len(PROFILE_COMMANDS)]
        file = str(FX / "profiles" / f"{name}.json")
        cases.append(
            Case(
                f"profile-{name}-{command}",
                tuple(a.replace("{file}", file) for a in args),
                message,
                file=file,
            )
        )
    return cases


# -- recordings: record --from-recordings, which must fail before it needs an engine --------
RECORDINGS = [
    ("workload_missing", "workload: required key is missing"),
    ("counts_missing", "counts: required key is missing"),
    ("counts_a_list", "counts: expected an object, got a list of 1"),
    ("count_negative", "counts.read.shell: expected a whole number of 0 or more, got -1"),
    ("count_string", 'counts.read.shell: expected a whole number of 0 or more, got "5"'),
    (
        "count_5000_digits",
        'counts.read["python worker"]: expected a whole number of 0 or more, got a 5000-digit number',
    ),
    ("name_unknown", "counts.not_a_syscall: not a syscall libseccomp knows on x86_64"),
    (
        "name_shell_injection",
        'counts["read; rm -rf /"]: the key is not valid: expected a syscall name',
    ),
    ("name_empty", 'counts[""]: the key is not valid'),
    ("run_index_bool", "run_index: expected a whole number of 0 or more, got true"),
    ("run_index_negative", "run_index: expected a whole number of 0 or more, got -1"),
    ("arch_bogus", "arch: expected an architecture libseccomp knows"),
    (
        "pod_security_bogus",
        "pod_security: expected one of 'restricted' or 'none', got \"privileged\"",
    ),
    ("arg_values_not_a_list", 'arg_values["socket.domain"]: expected a list, got 1'),
    ("exit_code_string", 'exit_code: expected an exit code, got "0"'),
    (
        "unknown_numbers_negative",
        "unknown_numbers[0]: expected a whole number of 0 or more, got -5",
    ),
    ("truncated", "is not valid JSON"),
    ("nested_5000_deep", "nests arrays or objects more than 64 levels deep"),
    ("top_level_list", "the top level: expected an object, got an empty list"),
]


def _recording_cases() -> list[Case]:
    cases = []
    for name, message in RECORDINGS:
        file = str(FX / "recordings" / f"{name}.json")
        args = ("record", "--from-recordings", file, "--no-verify", "--out", "{tmp}/out.json")
        cases.append(
            Case(f"recording-{name}", (*args, "--run-dir", "{tmp}/run"), message, file=file)
        )
    return cases + [
        Case(
            "recording-folder-without-any",
            ("record", "--from-recordings", "{tmp}", "--no-verify", "--out", "{tmp}/out.json"),
            "no recording.json found",
        ),
        Case(
            "recording-missing-path",
            ("record", "--from-recordings", "{tmp}/gone", "--no-verify", "--out", "{tmp}/out.json"),
            "does not exist",
        ),
        Case(
            "recording-and-workloads",
            (
                "record",
                "rdd_python",
                "--from-recordings",
                str(FX / "valid"),
                "-o",
                "{tmp}/out.json",
            ),
            "give workloads or --from-recordings, not both",
        ),
    ]


# -- summaries: beside a profile given to merge, or given to explain --summary ---------------
SUMMARIES = [
    ("format_missing", "is not a profile summary (format 1)"),
    ("format_99", "is not a profile summary (format 1)"),
    ("total_runs_string", 'total_runs: expected a whole number of 0 or more, got "2"'),
    ("total_runs_missing", "total_runs: required key is missing"),
    ("syscalls_a_list", "syscalls: expected an object, got a list of 1"),
    ("runs_above_total", "syscalls.read.runs: expected at most total_runs (2), got 7"),
    ("runs_missing", "syscalls.read.runs: required key is missing"),
    (
        "role_count_float",
        'syscalls.read.roles["python worker"]: expected a whole number of 0 or more, got 1.5',
    ),
    (
        "workload_count_negative",
        "workloads.rdd_python: expected a whole number of 0 or more, got -2",
    ),
    ("held_back_without_reason", "held_back[0].reason: required key is missing"),
    ("errno_bogus", "errno: expected one of 'enosys' or 'eperm', got \"eacces\""),
    ("arch_bogus", "arches[0]: expected an architecture libseccomp knows"),
    ("syscall_key_not_a_name", 'syscalls["read; rm -rf /"]: the key is not valid'),
    ("truncated", "is not valid JSON"),
]


def _summary_beside(name: str) -> Prepare:
    def prepare(tmp: Path) -> None:
        shutil.copy(VALID, tmp / "a.json")
        shutil.copy(FX / "summaries" / f"{name}.json", tmp / "a.summary.json")
        shutil.copy(OTHER, tmp / "b.json")
        shutil.copy(FX / "valid" / "profile.summary.json", tmp / "b.summary.json")

    return prepare


def _summary_cases() -> list[Case]:
    cases = []
    for index, (name, message) in enumerate(SUMMARIES):
        if index % 2:
            file = str(FX / "summaries" / f"{name}.json")
            args: tuple[str, ...] = ("profile", "explain", "{valid}", "--summary", file)
            cases.append(Case(f"summary-{name}-explain", args, message, file=file))
        else:
            args = ("profile", "merge", "{tmp}/a.json", "{tmp}/b.json", "--out", "{tmp}/out.json")
            cases.append(
                Case(
                    f"summary-{name}-merge",
                    args,
                    message,
                    prepare=_summary_beside(name),
                    file="{tmp}/a.summary.json",
                )
            )
    return cases


# -- result files a run directory holds, read by report -------------------------------------
RESULTS = [
    ("check", "cells_a_number", "check.json: cells: expected a list, got 3"),
    ("check", "verdict_missing", "check.json: cells[0].verdict: required key is missing"),
    (
        "check",
        "median_negative",
        "cells[0].median_wall_seconds: expected a number of seconds, 0 or more, got -1",
    ),
    (
        "check",
        "median_string",
        'cells[0].median_wall_seconds: expected a number of seconds, 0 or more, got "10.5"',
    ),
    ("check", "diagnosis_not_strings", "cells[0].diagnosis[0]: expected a string, got 1"),
    ("check", "runs_an_object", "cells[0].runs: expected a list, got an object"),
    ("check", "passes_bool", "cells[0].passes: expected a whole number of 0 or more, got true"),
    ("check", "not_json", "check.json is not valid JSON (line 1 column 2"),
    ("bench", "kind_wrong", "bench.json: kind: expected 'bench', got \"check\""),
    (
        "bench",
        "wall_seconds_string",
        'samples[0].wall_seconds: expected a number of seconds, 0 or more, got "10.0"',
    ),
    ("bench", "wall_seconds_missing", "samples[0].wall_seconds: required key is missing"),
    ("bench", "round_negative", "samples[0].round: expected a whole number of 0 or more, got -1"),
    ("bench", "resamples_too_few", "bench.json: resamples: expected at least 2000, got 10"),
    (
        "bench",
        "resamples_a_billion",
        "resamples: expected a resample count from 1 to 1000000, got 1000000000",
    ),
    (
        "bench",
        "confidence_above_1",
        "confidence: expected a fraction between 0 and 1, e.g. 0.95, got 2",
    ),
    ("bench", "metric_bogus", "metric: expected one of 'wall', 'job' or 'cpu', got \"latency\""),
    ("bench", "stats_spread_without_n", "stats[0].wall.n: required key is missing"),
    (
        "bench",
        "environment_5000_digits",
        "environment.cpu_count: expected a JSON value, got a 5000-digit number",
    ),
    ("bench", "environment_nan", "environment.load: expected a JSON value, got NaN"),
    ("bench", "top_level_list", "bench.json: the top level: expected an object, got an empty list"),
    (
        "microbench",
        "samples_strings",
        'samples.generated[0]: expected a number of nanoseconds, got "159.9"',
    ),
    (
        "microbench",
        "iterations_float",
        "iterations: expected a whole number of 0 or more, got 1000000.0",
    ),
    ("microbench", "kind_wrong", "kind: expected 'microbench', got \"bench\""),
    (
        "runtime_default",
        "allowed_bad_name",
        'allowed[1]: expected a syscall name (lower-case letters, digits and _), got "read write"',
    ),
    (
        "runtime_default",
        "allowed_missing",
        "runtime_default.json: allowed: required key is missing",
    ),
    ("profile", "errno_true", "profile.json: syscalls[2].errnoRet: expected an errno number"),
    (
        "profile.summary",
        "runs_string",
        'profile.summary.json: syscalls.read.runs: expected a whole number of 0 or more, got "many"',
    ),
    (
        "profile.summary",
        "roles_float",
        'syscalls.read.roles["python worker"]: expected a whole number of 0 or more, got 1.5',
    ),
    (
        "profile.summary",
        "held_back_bad_entry",
        'held_back: expected a list of {"name": ..., "reason": ...} or an object of name: reason',
    ),
    (
        "profile.summary",
        "workloads_numbers",
        "syscalls.read.workloads: expected a list of workload names or an object of workload: runs, got a list of 2",
    ),
]


def _result_in_run_dir(kind: str, name: str) -> Prepare:
    def prepare(tmp: Path) -> None:
        (tmp / "run").mkdir()
        shutil.copy(FX / "results" / f"{kind}--{name}.json", tmp / "run" / f"{kind}.json")
        # A valid file beside it: the bad one must stop the report all the same.
        if kind != "check":
            shutil.copy(FX / "valid" / "check.json", tmp / "run" / "check.json")

    return prepare


def _result_cases() -> list[Case]:
    return [
        Case(
            f"report-{kind}-{name}",
            ("report", "{tmp}/run"),
            message,
            prepare=_result_in_run_dir(kind, name),
        )
        for kind, name, message in RESULTS
    ]


# -- RuntimeDefault files (--runtime-default FILE) --------------------------------------------
RUNTIME_DEFAULTS = [
    ("syscalls_a_number", "syscalls: expected a list, got 5"),
    ("includes_caps_a_string", 'syscalls[1].includes.caps: expected a list, got "CAP_SYS_ADMIN"'),
    ("arch_map_bogus", "archMap[0].architecture: expected one of libseccomp's architectures"),
    ("action_bogus", "syscalls[0].action: expected one of"),
    ("probed_reference_without_arch", "arch: required key is missing"),
]
RUNTIME_DEFAULT_COMMANDS = [
    ("diff", ("profile", "diff", "{valid}", "runtime-default", "--runtime-default", "{file}")),
    ("check", ("check", "rdd_python", "--runtime-default", "{file}", "--run-dir", "{tmp}/run")),
    ("bench", ("bench", "rdd_python", "--runtime-default", "{file}", "--run-dir", "{tmp}/b")),
]


def _runtime_default_cases() -> list[Case]:
    cases = []
    for index, (name, message) in enumerate(RUNTIME_DEFAULTS):
        for command, args in RUNTIME_DEFAULT_COMMANDS[index % 2 : index % 2 + 2]:
            file = str(FX / "runtime_default" / f"{name}.json")
            cases.append(
                Case(
                    f"runtime-default-{name}-{command}",
                    tuple(a.replace("{file}", file) for a in args),
                    f"RuntimeDefault profile {file}: {message}",
                )
            )
    return cases


# -- bad options and arguments ---------------------------------------------------------------
OPTIONS = [
    Case("check-mode-bogus", ("check", "--modes", "bogus"), "unknown mode 'bogus' (choose from"),
    Case("check-modes-empty", ("check", "--modes", ","), "no modes given"),
    Case("check-mode-twice", ("check", "--modes", "unconfined,unconfined"), "given twice"),
    Case("check-repeat-zero", ("check", "--repeat", "0"), "Invalid value for '--repeat'"),
    Case("check-timeout-negative", ("check", "--timeout", "-5"), "Invalid value for '--timeout'"),
    Case(
        "check-pod-security-bogus",
        ("check", "--pod-security", "privileged"),
        "unknown pod security 'privileged'",
    ),
    Case(
        "check-complain-and-no-diagnose",
        ("check", "--complain", "--no-diagnose"),
        "contradict each other",
    ),
    Case(
        "check-profile-without-localhost",
        ("check", "--profile", "{valid}"),
        "only used in localhost mode",
    ),
    Case(
        "check-localhost-without-profile",
        ("check", "--modes", "localhost"),
        "localhost mode needs a profile",
    ),
    Case("check-unknown-workload", ("check", "no_such_job"), "unknown workload"),
    Case("check-missing-script", ("check", "{tmp}/gone.py"), "does not exist"),
    Case(
        "check-missing-runtime-default",
        ("check", "--runtime-default", "{tmp}/none.json"),
        "does not exist",
    ),
    Case(
        "check-unknown-option",
        ("check", "--bogus"),
        "No such option: --bogus (see `spark-seccomp check --help`)",
    ),
    Case(
        "record-errno-bogus",
        ("record", "-o", "{tmp}/p.json", "--errno", "eacces"),
        "unknown errno 'eacces'",
    ),
    Case(
        "record-arch-bogus",
        ("record", "-o", "{tmp}/p.json", "--arch", "vax"),
        "unknown architecture 'vax'",
    ),
    Case(
        "record-tracer-bogus",
        ("record", "rdd_python", "-o", "{tmp}/p.json", "--tracer", "dtrace"),
        "unknown tracer 'dtrace'",
    ),
    Case(
        "record-runs-zero",
        ("record", "-o", "{tmp}/p.json", "--runs", "0"),
        "Invalid value for '--runs'",
    ),
    Case("record-out-missing", ("record", "rdd_python"), "Missing option '--out'"),
    Case(
        "record-allow-unknown-name",
        (
            "record",
            "--from-recordings",
            str(FX / "valid"),
            "--no-verify",
            "--allow",
            "not_a_syscall",
            "-o",
            "{tmp}/p.json",
            "--run-dir",
            "{tmp}/run",
        ),
        "--allow names calls libseccomp does not know",
    ),
    Case(
        "bench-precision-bogus",
        ("bench", "--precision", "2", "--run-dir", "{tmp}/b"),
        "precision 2.0 is not a fraction",
    ),
    Case("bench-repeat-zero", ("bench", "--repeat", "0"), "Invalid value for '--repeat'"),
    Case(
        "bench-localhost-without-profile",
        ("bench", "--modes", "localhost", "--run-dir", "{tmp}/b"),
        "localhost mode needs a profile",
    ),
    Case(
        "bench-missing-profile",
        ("bench", "--profile", "{tmp}/none.json", "--run-dir", "{tmp}/b"),
        "does not exist",
    ),
    Case("merge-one-profile", ("profile", "merge", "{valid}"), "merge needs at least two profiles"),
    Case(
        "merge-missing-profile",
        ("profile", "merge", "{valid}", "{tmp}/gone.json"),
        "profile {tmp}/gone.json does not exist",
    ),
    Case(
        "merge-directory-as-profile",
        ("profile", "merge", "{valid}", "{tmp}"),
        "is a directory, not a file",
    ),
    Case(
        "explain-fifo-as-profile",
        ("profile", "explain", "{tmp}/fifo"),
        "is not a regular file",
        prepare=lambda t: os.mkfifo(t / "fifo"),
    ),
    Case(
        "explain-huge-profile",
        ("profile", "explain", "{tmp}/huge.json"),
        "more than the 16 MiB",
        prepare=lambda t: os.truncate(_touch(t / "huge.json"), 16 * 1024 * 1024 + 1),
    ),
    Case(
        "diff-arch-bogus",
        ("profile", "diff", "{valid}", "runtime-default", "--arch", "vax"),
        "unknown architecture 'vax'",
    ),
    Case(
        "explain-summary-missing",
        ("profile", "explain", "{valid}", "--summary", "{tmp}/none.json"),
        "summary {tmp}/none.json does not exist",
    ),
    Case(
        "explain-rule-without-names",
        ("profile", "explain", str(FX / "profiles" / "names_empty.json")),
        f"profile {FX}/profiles/names_empty.json: syscalls[3].names: expected at least one "
        "syscall name, got an empty list (a rule without names matches no call; the OCI "
        "runtime spec requires one) (fix the file, or record a new one with "
        "`spark-seccomp record`)",
        exact=True,
    ),
    *(
        Case(
            f"diff-cap-{name}",
            ("profile", "diff", "{valid}", "runtime-default", *RUNTIME_DEFAULT_FILE, "--cap", cap),
            message,
            exact=True,
        )
        for name, cap, message in (
            (
                "unknown",
                "NOT_A_CAPABILITY",
                "'NOT_A_CAPABILITY' is not a Linux capability (see capabilities(7) for the names)",
            ),
            ("empty", "", "a capability name is empty (name one, e.g. NET_ADMIN or CAP_SYS_NICE)"),
            (
                "misspelt",
                "sys_admn",
                "'sys_admn' is not a Linux capability (did you mean CAP_SYS_ADMIN?)",
            ),
            ("number", "21", "'21' is not a Linux capability (see capabilities(7) for the names)"),
        )
    ),
    *(
        Case(
            f"diff-{option[2:]}-without-runtime-default",
            ("profile", "diff", "{valid}", "{other}", option, value),
            f"{option} only applies to {where}, and neither side is one (compare with "
            f"runtime-default, or drop {option})",
            exact=True,
        )
        for option, value, where in (
            ("--cap", "NET_ADMIN", "the runtime-default side"),
            (
                "--runtime-default",
                str(FX / "valid" / "docker_default.json"),
                "the runtime-default side",
            ),
            ("--arch", "arm64", "a runtime-default side"),
        )
    ),
    Case(
        "diff-cap-with-engine-runtime-default-only",
        ("profile", "diff", "{valid}", "runtime-default:podman", "--cap", "NET_ADMIN"),
        "--cap only applies to the runtime-default side, and neither side is one "
        "(compare with runtime-default, or drop --cap)",
        exact=True,
    ),
    *(
        Case(
            f"diff-engine-runtime-default-{name}",
            ("profile", "diff", "{valid}", f"runtime-default:{engine}"),
            f"runtime-default:{engine} does not name one engine and OCI runtime (write e.g. "
            "runtime-default:podman or runtime-default:containerd/crun)",
            exact=True,
        )
        for name, engine in (
            ("two", "docker,podman"),
            ("none", ""),
            ("oci-only", "/runc"),
            ("empty-oci", "docker/"),
        )
    ),
    Case(
        "merge-same-profile-twice",
        ("profile", "merge", "{valid}", "{valid}"),
        f"{VALID} is given twice: its runs would count twice (name each file once)",
        exact=True,
    ),
    Case(
        "import-same-file-twice",
        ("profile", "import", str(SPO), "--with", "{valid}", "--with", "{valid}"),
        f"{VALID} is given twice: its runs would count twice (name each file once)",
        exact=True,
    ),
    Case(
        "import-a-directory",
        ("profile", "import", "{tmp}/dir"),
        "{tmp}/dir is a directory, not a file (pass a path to a YAML manifest)",
        prepare=lambda t: (t / "dir").mkdir(),
        exact=True,
    ),
    Case(
        "install-empty-path",
        ("k8s", "install", ""),
        "profile . must be named *.json (the node file keeps the profile's file name; "
        "rename it, e.g. driver.json)",
        exact=True,
    ),
    *(
        Case(
            f"install-spo-with-{option[2:]}",
            ("k8s", "install", "{valid}", "--spo", option, value),
            f"{option} is for the DaemonSet installer; with --spo the Security Profiles "
            f"Operator places the profiles (drop {option}, or drop --spo)",
            exact=True,
        )
        for option, value in (("--namespace", "jobs"), ("--kubelet-root", "/var/lib/k"))
    ),
    Case(
        "install-spo-api-version-without-spo",
        ("k8s", "install", "{valid}", "--spo-api-version", "v1beta1"),
        "--spo-api-version only applies with --spo (add --spo, or drop --spo-api-version)",
        exact=True,
    ),
    Case("report-missing-dir", ("report", "{tmp}/gone"), "is not a directory"),
    Case(
        "report-empty-dir",
        ("report", "{tmp}/empty"),
        "holds none of",
        prepare=lambda t: (t / "empty").mkdir(),
    ),
    Case("demo-unknown-workload", ("demo", "no_such_job"), "unknown workload"),
    Case("unknown-command", ("frobnicate",), "No such command 'frobnicate'"),
    Case(
        "cleanup-without-engine",
        ("cleanup",),
        "no Docker engine is reachable",
        code=EXIT_ENVIRONMENT,
    ),
]


def _touch(path: Path) -> Path:
    path.write_text("")
    return path


# -- hostile output paths -------------------------------------------------------------------
def device_node(tmp: Path) -> Path:
    """A character device to aim --out at: our own copy of /dev/null when root (so a
    regression cannot replace the system's), the system's when not (it cannot)."""
    if os.geteuid() == 0:
        node = tmp / "null"
        os.mknod(node, stat.S_IFCHR | 0o666, os.makedev(1, 3))
        return node
    return Path("/dev/null")


def _device(tmp: Path) -> None:
    device_node(tmp)


def _fifo(tmp: Path) -> None:
    os.mkfifo(tmp / "fifo")


def _socket(tmp: Path) -> None:
    server = socket.socket(socket.AF_UNIX)
    server.bind(str(tmp / "sock"))
    server.close()  # the socket file stays


def _stdout_link(tmp: Path) -> None:
    (tmp / "link.json").symlink_to("/proc/self/fd/1")


def _file_link(tmp: Path) -> None:
    (tmp / "target.json").write_text(OLD_PROFILE)
    (tmp / "link.json").symlink_to(tmp / "target.json")


def _directory(tmp: Path) -> None:
    (tmp / "dir").mkdir()


def _plain_file(tmp: Path) -> None:
    (tmp / "file").write_text("not a directory\n")


def _summary_dir(tmp: Path) -> None:
    for name, source in (("a", VALID), ("b", OTHER)):
        shutil.copy(source, tmp / f"{name}.json")
        shutil.copy(FX / "valid" / "profile.summary.json", tmp / f"{name}.summary.json")
    (tmp / "out.summary.json").mkdir()


def _run_dir_with(name: str, kind: Prepare) -> Prepare:
    def prepare(tmp: Path) -> None:
        (tmp / "run").mkdir()
        if name != "check.json":  # something for report to read
            shutil.copy(FX / "valid" / "check.json", tmp / "run" / "check.json")
        if kind is _stdout_link:
            (tmp / "run" / name).symlink_to("/proc/self/fd/1")
        elif kind is _directory:
            (tmp / "run" / name).mkdir()
        elif kind is _fifo:
            os.mkfifo(tmp / "run" / name)

    return prepare


DEV = "{tmp}/null" if os.geteuid() == 0 else "/dev/null"
MERGE = ("profile", "merge", "{valid}", "{other}")
FROM_RECORDINGS = ("record", "--from-recordings", str(FX / "valid"), "--no-verify")
EMPTY = "the output path is empty (give a file path)"
MISSING_DIRECTORY = (
    "missing-dir/ ends in /, so it names a directory, and missing-dir does not exist "
    "(give a file path, e.g. missing-dir/NAME after mkdir -p missing-dir)"
)
# Every option that names one file to write, on each command that has one.
SPELLING_COMMANDS = [
    ("merge", MERGE, "--out"),
    ("import", ("profile", "import", "{valid}"), "--out"),
    ("runtime-default", ("profile", "runtime-default"), "--out"),
    ("record", FROM_RECORDINGS, "--out"),
    ("check-json", ("check", "rdd_python"), "--json"),
    ("check-junit", ("check", "rdd_python"), "--junit"),
    ("sparkapp", ("k8s", "sparkapp", "--main", "local:///opt/app/job.py"), "--out"),
    ("install", ("k8s", "install", "{valid}"), "--out"),
    ("lint", ("k8s", "lint", str(K8S / "clean.yaml")), "--out"),
    ("k8s-record", ("k8s", "record", str(K8S / "clean.yaml")), "--out"),
    ("k8s-record-app-out", ("k8s", "record", str(K8S / "clean.yaml")), "--app-out"),
    ("dry-run-json", ("k8s", "dry-run", str(K8S / "clean.yaml"), "--plan"), "--json"),
    ("dry-run-junit", ("k8s", "dry-run", str(K8S / "clean.yaml"), "--plan"), "--junit"),
]
COMMAND_PATHS = {
    "profile": 2,
    "k8s": 2,
}


def _bad_value(option: str, problem: str, args: tuple[str, ...]) -> str:
    """Typer's words for a value the option's parser refused, as the CLI prints them."""
    shown = f"'{option}' / '-o'" if option == "--out" else f"'{option}'"
    command = " ".join(args[: COMMAND_PATHS.get(args[0], 1)])
    return f"Invalid value for {shown}: {problem} (see `spark-seccomp {command} --help`)"


OUTPUTS = [
    Case(
        "merge-out-device",
        (*MERGE, "-o", DEV),
        "it is a character device, and only regular files are replaced",
        prepare=_device,
    ),
    Case("merge-out-fifo", (*MERGE, "-o", "{tmp}/fifo"), "it is a FIFO", prepare=_fifo),
    Case("merge-out-socket", (*MERGE, "-o", "{tmp}/sock"), "it is a socket", prepare=_socket),
    Case(
        "merge-out-stdout-link",
        (*MERGE, "-o", "{tmp}/link.json"),
        "it is a symbolic link",
        prepare=_stdout_link,
    ),
    Case(
        "merge-out-file-link",
        (*MERGE, "-o", "{tmp}/link.json"),
        "it is a symbolic link",
        prepare=_file_link,
    ),
    Case(
        "merge-out-directory", (*MERGE, "-o", "{tmp}/dir"), "it is a directory", prepare=_directory
    ),
    Case(
        "merge-out-missing-parent",
        (*MERGE, "-o", "{tmp}/nodir/x.json"),
        "directory {tmp}/nodir does not exist (create it first",
    ),
    Case(
        "merge-out-parent-is-a-file",
        (*MERGE, "-o", "{tmp}/file/x.json"),
        "Not a directory",
        prepare=_plain_file,
    ),
    Case(
        "merge-summary-out-directory",
        ("profile", "merge", "{tmp}/a.json", "{tmp}/b.json", "-o", "{tmp}/out.json"),
        "refusing to write summary to {tmp}/out.summary.json: it is a directory",
        prepare=_summary_dir,
    ),
    Case(
        "record-out-directory",
        (*FROM_RECORDINGS, "--out", "{tmp}/dir"),
        "refusing to write profile to {tmp}/dir: it is a directory",
        prepare=_directory,
    ),
    Case(
        "record-out-stdout",
        (*FROM_RECORDINGS, "--out", "-"),
        "profile cannot go to stdout (-) here",
    ),
    Case(
        "record-out-stdout-link",
        (*FROM_RECORDINGS, "--out", "{tmp}/link.json"),
        "it is a symbolic link",
        prepare=_stdout_link,
    ),
    Case(
        "record-out-device",
        (*FROM_RECORDINGS, "--out", DEV),
        "it is a character device",
        prepare=_device,
    ),
    Case(
        "record-out-missing-parent",
        ("record", "rdd_python", "--out", "{tmp}/nodir/p.json"),
        "directory {tmp}/nodir does not exist",
    ),
    Case(
        "record-run-dir-a-file",
        (*FROM_RECORDINGS, "-o", "{tmp}/p.json", "--run-dir", "{tmp}/file"),
        "cannot use run directory {tmp}/file: it is a file, not a directory",
        prepare=_plain_file,
    ),
    Case(
        "record-run-dir-profile-link",
        (*FROM_RECORDINGS, "-o", "{tmp}/p.json", "--run-dir", "{tmp}/run"),
        "refusing to write output to {tmp}/run/profile.json: it is a symbolic link",
        prepare=lambda t: (
            (t / "run").mkdir(),
            (t / "run" / "profile.json").symlink_to("/proc/self/fd/1"),
        ),
    ),
    Case(
        "check-json-missing-parent",
        ("check", "--json", "/nodir/x"),
        "cannot write --json output /nodir/x: directory /nodir does not exist",
    ),
    Case(
        "check-junit-directory",
        ("check", "--junit", "{tmp}/dir"),
        "refusing to write --junit output to {tmp}/dir: it is a directory",
        prepare=_directory,
    ),
    Case(
        "check-json-stdout", ("check", "--json", "-"), "--json output cannot go to stdout (-) here"
    ),
    Case("check-json-fifo", ("check", "--json", "{tmp}/fifo"), "it is a FIFO", prepare=_fifo),
    Case(
        "check-json-device", ("check", "--json", DEV), "it is a character device", prepare=_device
    ),
    Case(
        "check-run-dir-a-fifo",
        ("check", "--run-dir", "{tmp}/fifo"),
        "it is a FIFO, not a directory",
        prepare=_fifo,
    ),
    Case(
        "check-run-dir-under-a-file",
        ("check", "--run-dir", "{tmp}/file/run"),
        "{tmp}/file is a file, not a directory",
        prepare=_plain_file,
    ),
    Case(
        "check-run-dir-check-json-link",
        ("check", "--run-dir", "{tmp}/run"),
        "{tmp}/run/check.json: it is a symbolic link",
        prepare=_run_dir_with("check.json", _stdout_link),
    ),
    Case(
        "bench-run-dir-a-file",
        ("bench", "--run-dir", "{tmp}/file"),
        "it is a file, not a directory",
        prepare=_plain_file,
    ),
    Case(
        "bench-report-html-link",
        ("bench", "--run-dir", "{tmp}/run"),
        "{tmp}/run/report.html: it is a symbolic link",
        prepare=_run_dir_with("report.html", _stdout_link),
    ),
    Case(
        "bench-bench-json-directory",
        ("bench", "--run-dir", "{tmp}/run"),
        "{tmp}/run/bench.json: it is a directory",
        prepare=_run_dir_with("bench.json", _directory),
    ),
    Case(
        "report-html-directory",
        ("report", "{tmp}/run"),
        "refusing to write report file to {tmp}/run/report.html: it is a directory",
        prepare=_run_dir_with("report.html", _directory),
    ),
    Case(
        "report-json-stdout-link",
        ("report", "{tmp}/run"),
        "{tmp}/run/report.json: it is a symbolic link",
        prepare=_run_dir_with("report.json", _stdout_link),
    ),
    Case(
        "report-md-fifo",
        ("report", "{tmp}/run"),
        "{tmp}/run/report.md: it is a FIFO",
        prepare=_run_dir_with("report.md", _fifo),
    ),
    Case(
        "runtime-default-out-missing-parent",
        ("profile", "runtime-default", "--out", "{tmp}/nodir/x"),
        "directory {tmp}/nodir does not exist",
    ),
    Case(
        "runtime-default-out-device",
        ("profile", "runtime-default", "--out", DEV),
        "it is a character device",
        prepare=_device,
    ),
    Case(
        "demo-report-html-link",
        ("demo", "rdd_python", "--run-dir", "{tmp}/run"),
        "{tmp}/run/report.html: it is a symbolic link",
        prepare=_run_dir_with("report.html", _stdout_link),
    ),
    Case(
        "demo-run-dir-a-file",
        ("demo", "rdd_python", "--run-dir", "{tmp}/file"),
        "it is a file, not a directory",
        prepare=_plain_file,
    ),
    # Output paths as typed: Path() would turn "" into "." and drop a trailing slash.
    *(
        Case(f"{name}-out-empty", (*args, option, ""), _bad_value(option, EMPTY, args), exact=True)
        for name, args, option in SPELLING_COMMANDS
    ),
    *(
        Case(
            f"{name}-out-missing-directory",
            (*args, option, "missing-dir/"),
            _bad_value(option, MISSING_DIRECTORY, args),
            exact=True,
        )
        for name, args, option in SPELLING_COMMANDS
    ),
    Case(
        "merge-out-existing-directory-with-slash",
        (*MERGE, "--out", "dir/"),
        _bad_value(
            "--out",
            "dir/ is a directory, not a file (give a file path inside it, e.g. dir/NAME)",
            MERGE,
        ),
        prepare=_directory,
        exact=True,
    ),
    Case(
        "merge-out-file-with-slash",
        (*MERGE, "--out", "out.json/"),
        _bad_value(
            "--out",
            "out.json/ ends in /, but out.json is not a directory (drop the trailing /)",
            MERGE,
        ),
        exact=True,
    ),
    Case(
        "k8s-record-bad-out-writes-no-app-out",
        ("k8s", "record", str(K8S / "adversarial" / "app-ok.yaml"), "--spo")
        + ("--app-out", "{tmp}/app.yaml", "--out", "{tmp}/dir"),
        "refusing to write output to {tmp}/dir: it is a directory, and only regular files are "
        "replaced (give a file path inside it)",
        prepare=_directory,
        exact=True,
    ),
    Case(
        "import-from-a-device",
        ("profile", "import", DEV),
        f"{DEV} is not a regular file (pass a path to a YAML manifest)",
        prepare=_device,
        exact=True,
    ),
    *(
        Case(
            f"{name}-json-and-junit-the-same-file",
            (*args, "--json", "{tmp}/r.json", "--junit", "{tmp}/r.json"),
            "--json and --junit name the same file ({tmp}/r.json) (give two different files)",
            exact=True,
        )
        for name, args in (
            ("check", ("check", "rdd_python")),
            ("dry-run", ("k8s", "dry-run", str(K8S / "adversarial" / "app-ok.yaml"), "--plan")),
        )
    ),
    *(
        Case(
            f"dry-run-plan-with-{option[2:]}",
            ("k8s", "dry-run", str(K8S / "adversarial" / "app-ok.yaml"), "--plan", option, *value),
            f"{option} only applies to the run, and --plan runs nothing "
            f"(drop {option}, or drop --plan)",
            exact=True,
        )
        for option, value in (
            ("--workload", ("no_such_job",)),
            ("--runtime", ("bogus",)),
            ("--run-dir", ("{tmp}/run",)),
            ("--no-diagnose", ()),
        )
    ),
    Case(
        "merge-out-dot",
        (*MERGE, "--out", "."),
        "refusing to write profile to .: it is a directory, and only regular files are replaced "
        "(give a file path inside it)",
        exact=True,
    ),
    Case(
        "record-out-dot",
        (*FROM_RECORDINGS, "--out", "."),
        "refusing to write profile to .: it is a directory, and only regular files are replaced "
        "(give a file path inside it)",
        exact=True,
    ),
]

CASES = (
    _profile_cases()
    + _recording_cases()
    + _summary_cases()
    + _result_cases()
    + _runtime_default_cases()
    + OPTIONS
    + OUTPUTS
)


def test_the_corpus_is_large_and_its_names_unique() -> None:
    assert len(CASES) >= 100
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_gets_one_line_and_changes_nothing(
    case: Case, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case.prepare(workdir)
    before = snapshot(workdir)
    code, out, err = run(expand(case.args, workdir), capsys)
    assert code == case.code, err
    assert "Traceback" not in out + err
    message = case.message.replace("{tmp}", str(workdir))
    assert_one_error_line(err, message)
    if case.exact:
        assert err.strip() == f"error: {message}"
    assert case.file.replace("{tmp}", str(workdir)) in err, "the error must name the input file"
    assert snapshot(workdir) == before


# -- what must work: the positive side of the same rules -------------------------------------
def _mode_kept(tmp: Path, out: str, err: str) -> None:
    written = tmp / "out.json"
    assert stat.S_IMODE(written.stat().st_mode) == 0o600
    assert '"defaultAction": "SCMP_ACT_ERRNO"' in written.read_text()
    assert not list(tmp.glob(".out.json.*")), "a temporary file was left behind"


def _stdout_only(tmp: Path, out: str, err: str) -> None:
    assert out.startswith("{") and '"getpid"' in out
    assert (tmp / "out.json").read_text() == OLD_PROFILE
    assert not (tmp / "-").exists()


def _stale_summary_removed(tmp: Path, out: str, err: str) -> None:
    assert not (tmp / "out.summary.json").exists()
    assert f"removed {tmp}/out.summary.json" in err
    _mode_kept(tmp, out, err)


def _pair_written(tmp: Path, out: str, err: str) -> None:
    _mode_kept(tmp, out, err)
    assert '"format": 1' in (tmp / "out.summary.json").read_text()


def _report_written(tmp: Path, out: str, err: str) -> None:
    for name in ("report.md", "report.html", "report.json"):
        assert (tmp / "run" / name).is_file()
    assert not list((tmp / "run").glob(".report*"))


def _unknown_kept_with_a_warning(tmp: Path, out: str, err: str) -> None:
    assert "warning:" in err and "not_a_syscall" in err and "--allow-unknown" in err
    assert "not_a_syscall" in out


def _stale_summary(tmp: Path) -> None:
    (tmp / "out.summary.json").write_text('{"format": 1}\n')


def _valid_run_dir(tmp: Path) -> None:
    (tmp / "run").mkdir()
    for name in ("check.json", "bench.json", "microbench.json", "profile.json"):
        shutil.copy(FX / "valid" / name, tmp / "run" / name)


def _capabilities_named(tmp: Path, out: str, err: str) -> None:
    assert "(CAP_NET_ADMIN, CAP_SYS_NICE)" in out, out


SUCCESSES = [
    Success(
        "diff-cap-in-any-spelling",
        ("profile", "diff", "{valid}", "runtime-default", *RUNTIME_DEFAULT_FILE)
        + ("--cap", "net_admin", "--cap", "CAP_SYS_NICE"),
        _capabilities_named,
    ),
    Success(
        "merge-keeps-the-mode-of-what-it-replaces", (*MERGE, "-o", "{tmp}/out.json"), _mode_kept
    ),
    Success("merge-to-stdout-with-dash", (*MERGE, "-o", "-"), _stdout_only),
    Success(
        "merge-removes-a-stale-summary",
        (*MERGE, "-o", "{tmp}/out.json"),
        _stale_summary_removed,
        _stale_summary,
    ),
    Success(
        "record-writes-profile-and-summary-together",
        (*FROM_RECORDINGS, "-o", "{tmp}/out.json", "--run-dir", "{tmp}/run"),
        _pair_written,
    ),
    Success(
        "report-writes-its-three-files", ("report", "{tmp}/run"), _report_written, _valid_run_dir
    ),
    Success(
        "allow-unknown-keeps-names-with-a-warning",
        (
            "profile",
            "explain",
            str(FX / "valid" / "unknown_name.json"),
            "--allow-unknown",
            "--json",
        ),
        _unknown_kept_with_a_warning,
    ),
]


@pytest.mark.parametrize("case", SUCCESSES, ids=[c.id for c in SUCCESSES])
def test_good_input_is_written_safely(
    case: Success, workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    case.prepare(workdir)
    code, out, err = run(expand(case.args, workdir), capsys)
    assert code == case.code, err
    assert "Traceback" not in out + err
    case.check(workdir, out, err)
