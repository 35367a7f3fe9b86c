"""Local backend logic: OCI profile -> libseccomp filter, launcher argv, the run's files,
RuntimeDefault without an engine, process-tree tracing scope, backend selection."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import pytest

from profiler.errors import EnvironmentProblem, UsageError
from profiler.runtime import select
from profiler.runtime.interface import ContainerRef, ContainerSecurity, PodSecurity, Role
from profiler.runtime.launcher import (
    LauncherError,
    build_filter,
    capability_numbers,
    launcher_argv,
    seccomp_action,
)
from profiler.runtime.local import (
    LocalBackend,
    load_runtime_default,
    profile_from_reference,
    run_env,
    spark_home_farm,
)
from profiler.seccomp.profile import ArgCondition, Profile, SyscallRule, profile_from_dict
from profiler.tracing.ebpf import (
    SCOPE_MOUNT_NAMESPACE,
    SCOPE_PROCESS_TREE,
    EbpfTracer,
    process_tree,
    program_for,
)
from profiler.tracing.strace import StraceTracer
from profiler.tracing.strace_parser import after_filter_load, parse_strace


def pfc(profile: Profile, **kwargs: bool) -> str:
    built = build_filter(profile, **kwargs)
    with tempfile.TemporaryFile() as handle:
        built.filter.export_pfc(handle)
        handle.seek(0)
        return handle.read().decode()


# -- OCI profile -> libseccomp ----------------------------------------------------------
def test_errno_ret_per_rule_and_default() -> None:
    profile = profile_from_dict(
        {
            "defaultAction": "SCMP_ACT_ERRNO",
            "defaultErrnoRet": 38,
            "syscalls": [
                {"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
                {"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1},
                {"names": ["kexec_load"], "action": "SCMP_ACT_ERRNO"},
            ],
        }
    )
    text = pfc(profile)
    assert 'syscall "clone3"' in text and "action ERRNO(1);" in text
    assert text.rstrip().count("action ERRNO(38);") == 1  # the default only
    # ERRNO without errnoRet means EPERM, as in runc; it differs from the default here.
    assert 'syscall "kexec_load"' in text
    assert 'syscall "read"' in text and 'syscall "write"' in text


def test_arg_conditions_are_anded_in_one_rule() -> None:
    rule = SyscallRule(
        ("socket",),
        "SCMP_ACT_ALLOW",
        args=(ArgCondition(0, 1, "SCMP_CMP_EQ"), ArgCondition(1, 0x80000, "SCMP_CMP_MASKED_EQ", 0)),
    )
    text = pfc(Profile("SCMP_ACT_ERRNO", (rule,), default_errno_ret=1))
    # Both checks nest under one rule: socket(AF_UNIX, type without SOCK_CLOEXEC...).
    nested = text[text.index("$a0.lo32 == 1") :]
    assert "$a1.lo32 & 0x00080000 == 0" in nested
    assert nested.index("action ALLOW") > nested.index("$a1.lo32")
    assert build_filter(Profile("SCMP_ACT_ERRNO", (rule,))).rules == 1


def test_two_conditions_on_one_argument_become_two_rules_as_in_runc() -> None:
    personas = tuple(ArgCondition(0, v, "SCMP_CMP_EQ") for v in (0, 8))
    rule = SyscallRule(("personality",), "SCMP_ACT_ALLOW", args=personas)
    built = build_filter(Profile("SCMP_ACT_ERRNO", (rule,)))
    assert built.rules == 2
    text = pfc(Profile("SCMP_ACT_ERRNO", (rule,)))
    assert "$a0.lo32 == 0" in text and "$a0.lo32 == 8" in text


def test_unknown_names_are_skipped_with_a_note_and_default_repeats_ignored() -> None:
    profile = Profile(
        "SCMP_ACT_ERRNO",
        (
            SyscallRule(("read", "no_such_call"), "SCMP_ACT_ALLOW"),
            SyscallRule(("write",), "SCMP_ACT_ERRNO"),  # same as the default: skipped
        ),
    )
    built = build_filter(profile)
    assert built.skipped == ("no_such_call",)
    assert any("no_such_call" in n for n in built.notes)
    assert built.rules == 1


def test_architectures_are_added() -> None:
    profile = Profile(
        "SCMP_ACT_ERRNO",
        (SyscallRule(("read",), "SCMP_ACT_ALLOW"),),
        architectures=("SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"),
    )
    text = pfc(profile)
    assert text.count("filter for arch") == 3
    with pytest.raises(LauncherError):
        build_filter(Profile("SCMP_ACT_ALLOW", architectures=("SCMP_ARCH_NOPE",)))


def test_actions() -> None:
    import pyseccomp

    assert seccomp_action("SCMP_ACT_ERRNO", None) == pyseccomp.ERRNO(1)
    assert seccomp_action("SCMP_ACT_ERRNO", 38) == pyseccomp.ERRNO(38)
    assert seccomp_action("SCMP_ACT_KILL_PROCESS", None) == pyseccomp.KILL_PROCESS
    assert seccomp_action("SCMP_ACT_LOG", None) == pyseccomp.LOG
    with pytest.raises(LauncherError, match="NOTIFY"):
        seccomp_action("SCMP_ACT_NOTIFY", None)


def test_capability_numbers() -> None:
    assert capability_numbers(["CAP_NET_RAW", "chown"]) == [0, 13]
    assert 21 in capability_numbers(["ALL"])  # CAP_SYS_ADMIN
    with pytest.raises(LauncherError):
        capability_numbers(["CAP_NOPE"])


# -- launcher and the run's files --------------------------------------------------------
def test_launcher_argv() -> None:
    argv = launcher_argv(
        ["/spark/bin/spark-submit", "/job/x.py"],
        python="/venv/bin/python",
        profile=Path("/run/p.json"),
        uid=185,
        gid=185,
        drop_caps=("ALL",),
        no_new_privs=True,
        cwd=Path("/run/tmp"),
    )
    assert argv == [
        "/venv/bin/python",
        "-m",
        "profiler.runtime.launcher",
        "--profile",
        "/run/p.json",
        "--uid",
        "185",
        "--gid",
        "185",
        "--drop-caps",
        "ALL",
        "--no-new-privs",
        "--cwd",
        "/run/tmp",
        "--",
        "/spark/bin/spark-submit",
        "/job/x.py",
    ]
    assert launcher_argv(["true"], python="py") == [
        "py",
        "-m",
        "profiler.runtime.launcher",
        "--",
        "true",
    ]


def test_spark_home_farm(tmp_path: Path) -> None:
    package = tmp_path / "pyspark"
    (package / "bin").mkdir(parents=True)
    (package / "jars").mkdir()
    (package / "__init__.py").write_text("")
    (package / "__pycache__").mkdir()
    home = spark_home_farm(package, tmp_path / "spark-home")
    assert (home / "bin").is_symlink() and (home / "bin").resolve() == package / "bin"
    assert (home / "jars").is_symlink()
    assert (home / "work").is_dir() and not (home / "work").is_symlink()
    assert not (home / "__pycache__").exists()


def test_run_env() -> None:
    env = run_env(
        python="/venv/bin/python",
        home=Path("/r/home"),
        tmp=Path("/r/tmp"),
        spark_home=Path("/r/spark"),
        pythonpath="/venv/lib/site-packages",
        extra=(("FOO", "1"),),
        inherit={"JAVA_HOME": "/jdk", "SECRET": "x"},
    )
    assert env["PATH"].startswith("/venv/bin:")
    assert env["SPARK_LOCAL_IP"] == "127.0.0.1"
    assert env["SPARK_HOME"] == "/r/spark" and env["HOME"] == "/r/home"
    assert env["TMPDIR"] == "/r/tmp" and env["PYSPARK_PYTHON"] == "/venv/bin/python"
    assert "-Duser.home=/r/home" in env["SPARK_SUBMIT_OPTS"]
    assert env["JAVA_HOME"] == "/jdk" and env["FOO"] == "1" and "SECRET" not in env
    assert env["PYTHONPATH"] == "/venv/lib/site-packages"


# -- RuntimeDefault without an engine ------------------------------------------------------
def test_reference_becomes_an_enforcing_profile_like_dockers() -> None:
    profile = profile_from_reference(frozenset({"read", "write", "futex", "not_a_call"}), "x86_64")
    assert profile.default_action == "SCMP_ACT_ERRNO" and profile.default_errno_ret == 1
    assert {"read", "write", "futex"} <= profile.allowed()
    assert "not_a_call" not in profile.allowed()
    by_name = {r.names[0]: r for r in profile.rules if len(r.names) == 1}
    assert by_name["clone3"].errno_ret == 38  # glibc falls back to clone
    assert by_name["clone"].args[0].op == "SCMP_CMP_MASKED_EQ"
    assert sum(1 for r in profile.rules if r.names == ("personality",)) == 5
    build_filter(profile)  # loadable


def test_runtime_default_files(tmp_path: Path) -> None:
    security = ContainerSecurity.preset(PodSecurity.RESTRICTED)
    reference = tmp_path / "ref.json"
    reference.write_text(
        json.dumps({"name": "probe", "source": "x", "arch": "x86_64", "allowed": ["read"]})
    )
    loaded = load_runtime_default(reference, security)
    assert "given with --runtime-default" in loaded.label and "read" in loaded.profile.allowed()
    oci = tmp_path / "oci.json"
    oci.write_text(json.dumps({"defaultAction": "SCMP_ACT_LOG", "syscalls": []}))
    assert load_runtime_default(oci, security).profile.default_action == "SCMP_ACT_LOG"
    committed = load_runtime_default(None, security)
    assert "profiles/" in committed.label


def test_the_committed_reference_is_read_with_its_three_classes() -> None:
    """profiles/runtime-default-docker-*.json: the probe's allowed / blocked / undecidable
    classes and the engine's bundle. Refused for lack of a capability (acct) is
    undecidable, never allowed; what the bundle allows only with argument checks (clone,
    personality) is enforced with them, as Docker does."""
    from profiler.seccomp.runtime_default import RuntimeDefaultReference, bundled_reference_file

    path = bundled_reference_file("x86_64")
    assert path is not None and path.name == "runtime-default-docker-20.10.24-amd64.json"
    reference = RuntimeDefaultReference.from_dict(json.loads(path.read_text()), str(path))
    assert "acct" in reference.undecidable and "acct" not in reference.allowed
    assert "acct" not in reference.probe_allowed
    assert reference.engine_default is not None
    assert set(reference.engine_default["argument_filtered"]) == {"clone", "personality"}
    assert reference.allowed_outright == reference.allowed - {"clone", "personality"}
    assert not reference.disagreements
    profile = load_runtime_default(None, ContainerSecurity.preset(PodSecurity.RESTRICTED)).profile
    clone = [r for r in profile.rules if r.names == ("clone",)]
    assert len(clone) == 1 and clone[0].args[0].op == "SCMP_CMP_MASKED_EQ"
    assert "acct" not in profile.allowed()
    build_filter(profile)  # loadable


def test_unconfined_has_no_profile_and_runtime_default_says_which() -> None:
    from profiler.runtime.interface import RunSpec, SecurityMode
    from profiler.workloads import Workload

    workload = Workload("w", Path("/x/w.py"), "", False)
    backend = LocalBackend()
    assert backend.profile_for(RunSpec(workload, SecurityMode.UNCONFINED, "i"))[0] is None
    profile, label = backend.profile_for(RunSpec(workload, SecurityMode.RUNTIME_DEFAULT, "i"))
    assert profile is not None and label is not None and "runtime-default = " in label


# -- tracers keyed by a process tree --------------------------------------------------------
def test_ebpf_program_per_scope() -> None:
    namespace = program_for(SCOPE_MOUNT_NAMESPACE, 42)
    tree = program_for(SCOPE_PROCESS_TREE, 42)
    assert "ns.inum != 42" in namespace and "== 42" not in namespace
    assert "ns.inum == 42" in tree and "!= 42" not in tree
    assert EbpfTracer(Path(".")).scope == SCOPE_MOUNT_NAMESPACE
    with pytest.raises(ValueError):
        program_for("cluster", 1)


def test_process_tree_follows_forks_from_the_root_only() -> None:
    lines = [
        "FORK 7 100 0 101",
        "FORK 7 101 1 102",
        "FORK 7 555 0 556",  # another tree in the same namespace
        "FORK 8 100 0 900",  # another namespace
        "@sys[7, 102, 1, 0]: 3",
    ]
    assert process_tree(100, 7, lines) == frozenset({100, 101, 102})


def test_ebpf_recording_in_tree_scope_keeps_only_the_tree(tmp_path: Path) -> None:
    tracer = EbpfTracer(tmp_path)
    tracer.scope = SCOPE_PROCESS_TREE
    tracer._containers = {7: ContainerRef(Role.ALL, "local")}  # what started() reads from /proc
    tracer._root_pid = 100
    tracer._lines = [
        "EXEC 7 100 1 /opt/spark/bin/spark-submit",
        "FORK 7 100 1 101",
        "@sys[7, 100, 0, 59]: 1",  # the launcher's execve, after its filter
        "@sys[7, 100, 1, 0]: 5",
        "@sys[7, 101, 1, 1]: 2",
        "@sys[7, 555, 0, 2]: 9",  # a stranger with a filter in the host namespace
    ]
    recording = tracer.recording("w", 1, "restricted")
    assert recording.syscalls == frozenset({"execve", "read", "write"})
    assert tracer.container_pids() == frozenset({100, 101})


def test_strace_from_launch_keeps_post_filter_lines(tmp_path: Path) -> None:
    trace = [
        '10 execve("/venv/bin/python", ["python", "-m", "profiler.runtime.launcher"], 0x0 /* 3 vars */) = 0\n',
        "10 setuid(185)                          = 0\n",
        "10 seccomp(0x2 /* SECCOMP_GET_ACTION_AVAIL */, 0, [0x7fff0000]) = 0\n",
        "10 seccomp(0x1 /* SECCOMP_SET_MODE_FILTER */, 0, {len=20, filter=0x1}) = 0\n",
        '10 execve("/spark/bin/spark-submit", ["spark-submit", "x.py"], 0x0 /* 9 vars */) = 0\n',
        '10 read(3, "", 4)                       = 0\n',
        "10 clone(child_stack=NULL, flags=0x1200011) = 11\n",
        '11 write(1, "x", 1)                     = 1\n',
        "10 +++ exited with 0 +++\n",
    ]
    kept = list(after_filter_load(trace))
    assert kept[0].startswith('10 execve("/spark')
    recording = parse_strace(kept, workload="w").recording
    assert "setuid" not in recording.syscalls and "seccomp" not in recording.syscalls
    assert {"execve", "read", "clone", "write"} <= recording.syscalls
    tracer = StraceTracer(tmp_path)
    argv = tracer.wrap_local_command(["python", "-m", "profiler.runtime.launcher"])
    assert argv[0] == "strace" and argv[-3:] == ["python", "-m", "profiler.runtime.launcher"]
    assert str(tracer.trace_file) in argv


# -- selection --------------------------------------------------------------------------
def test_make_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    import profiler.runtime.engine as engine

    notes: list[str] = []
    with pytest.raises(UsageError):
        select.make_backend("podman", notes.append)
    assert isinstance(select.make_backend("local", notes.append), LocalBackend)

    def no_engine() -> None:
        raise EnvironmentProblem("no Docker engine is reachable")

    monkeypatch.setattr(engine, "connect", no_engine)
    chosen = select.make_backend("AUTO", notes.append)
    assert isinstance(chosen, LocalBackend)
    assert notes and notes[-1].startswith("backend: local") and "no Docker engine" in notes[-1]
