"""The strace parser on a realistic Spark process tree and on each line form strace writes."""

from pathlib import Path

import pytest

from profiler.tracing.interface import (
    ROLE_DRIVER_JVM,
    ROLE_EXECUTOR_JVM,
    ROLE_OTHER,
    ROLE_POD_INIT,
    ROLE_PYTHON_DRIVER,
    ROLE_PYTHON_WORKER,
    ROLE_SHELL,
    ROLE_WORKER_JVM,
)
from profiler.tracing.strace_parser import (
    STRACE_ARGS,
    StraceParser,
    classify_process,
    decode_constant,
    parse_exec_argv,
    parse_strace,
)

TRACE = Path(__file__).parents[2] / "fixtures" / "strace" / "spark_driver_executor.trace"


def parse(text: str):
    return parse_strace(text.splitlines(keepends=True), workload="t", arch="x86_64")


@pytest.mark.parametrize(
    ("argv", "role"),
    [
        (
            ["/usr/bin/java", "-cp", "x", "org.apache.spark.deploy.SparkSubmit", "job.py"],
            ROLE_DRIVER_JVM,
        ),
        (["java", "org.apache.spark.deploy.SparkSub..."], ROLE_DRIVER_JVM),
        (
            ["java", "-Xmx1g", "org.apache.spark.executor.CoarseGrainedExecutorBackend"],
            ROLE_EXECUTOR_JVM,
        ),
        (["java", "org.apache.spark.executor.KubernetesExecutorBackend"], ROLE_EXECUTOR_JVM),
        (["java", "org.apache.spark.executor.Coarse..."], ROLE_EXECUTOR_JVM),
        (["java", "org.apache.spark.deploy.worker.Worker", "spark://x"], ROLE_WORKER_JVM),
        (["java", "org.apache.spark.deploy.master.Master"], ROLE_WORKER_JVM),
        (["java", "org.apache.spark.launcher.Main"], ROLE_OTHER),
        (["java", "org.apache..."], ROLE_OTHER),  # too little left to tell
        (["/opt/venv/bin/python3", "-m", "pyspark.daemon"], ROLE_PYTHON_WORKER),
        (["python3.11", "-m", "pyspark.worker"], ROLE_PYTHON_WORKER),
        (["/usr/bin/python3", "/opt/job.py"], ROLE_PYTHON_DRIVER),
        (["python"], ROLE_PYTHON_DRIVER),
        (["/bin/bash", "-c", "x"], ROLE_SHELL),
        (["-sh"], ROLE_SHELL),
        (["dash"], ROLE_SHELL),
        (["/opt/entrypoint.sh", "driver"], ROLE_SHELL),
        (["/usr/bin/tini", "-s", "--"], ROLE_POD_INIT),
        ([], ROLE_OTHER),
    ],
)
def test_classify_process(argv, role):
    assert classify_process(argv) == role


def test_recommended_flags_are_documented():
    assert STRACE_ARGS[:1] == ("-f",)
    assert "verbose" in STRACE_ARGS and "signal=none" in STRACE_ARGS


def test_fixture_roles_and_counts():
    result = parse_strace(TRACE, workload="sql", run_index=2, arch="x86_64")
    rec = result.recording
    assert (rec.workload, rec.run_index, rec.tracer, rec.arch) == ("sql", 2, "strace", "x86_64")
    assert result.lines == sum(1 for _ in TRACE.open())
    assert result.unparsed == 0
    # threads (clone3) and vfork children before exec inherit the JVM's role
    assert rec.counts["set_robust_list"] == {ROLE_DRIVER_JVM: 1}
    assert rec.counts["futex"] == {ROLE_DRIVER_JVM: 2}  # unfinished + resumed: once each
    assert rec.counts["bind"] == {ROLE_DRIVER_JVM: 1}
    assert rec.counts["connect"] == {ROLE_PYTHON_DRIVER: 1}
    assert rec.counts["newfstatat"] == {ROLE_PYTHON_DRIVER: 1}
    # the forked daemon child made calls before its parent's clone returned
    assert rec.counts["getpid"] == {ROLE_PYTHON_WORKER: 1}
    assert rec.counts["write"] == {ROLE_PYTHON_WORKER: 1}
    assert rec.counts["rt_sigaction"] == {ROLE_SHELL: 1}
    # a failed exec is counted for the image that made it
    assert rec.counts["execve"][ROLE_EXECUTOR_JVM] == 1
    assert sum(rec.counts["execve"].values()) == 6
    assert result.execs == {
        ROLE_DRIVER_JVM: 1,
        ROLE_EXECUTOR_JVM: 1,
        ROLE_PYTHON_DRIVER: 1,
        ROLE_PYTHON_WORKER: 1,
        ROLE_SHELL: 1,
    }


def test_fixture_arguments_and_unknown_numbers():
    result = parse_strace(TRACE, workload="sql", arch="x86_64")
    rec = result.recording
    assert rec.arg_values["socket.domain"] == {1, 2, 10}  # AF_UNIX, AF_INET, AF_INET6
    assert rec.arg_values["personality.persona"] == {0xFFFFFFFF}
    assert result.flag_names["personality.persona"] == {"PER_LINUX"}
    assert result.flag_names["clone.flags"] == {"CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID"}
    assert "CLONE_THREAD" in next(iter(result.flag_names["clone3.flags"]))
    # syscall_0x1c6 (454) is named by libseccomp; 0x3e7 (999) is not
    assert "syscall_0x1c6" not in rec.counts
    assert rec.unknown_numbers == {999}


def test_verbose_and_raw_constants_give_numbers():
    result = parse(
        "7 clone(child_stack=NULL, flags=0x1200000 /* CLONE_CHILD_CLEARTID|CLONE_CHILD_SETTID */|0x11 /* SIGCHLD */, child_tidptr=0x7f) = 8\n"
        "7 personality(0 /* PER_LINUX */|0x40000 /* ADDR_NO_RANDOMIZE */) = 0 (0 /* PER_LINUX */)\n"
        "7 unshare(0x10000000 /* CLONE_NEWUSER */) = -1 EPERM (Operation not permitted)\n"
        "7 clone(child_stack=NULL, flags=0x1200000|17 <unfinished ...>\n"
        "7 <... clone resumed>, child_tidptr=0x7f) = 9\n"
    )
    values = result.recording.arg_values
    assert values["clone.flags"] == {0x1200011}
    assert values["personality.persona"] == {0x40000}
    assert values["unshare.flags"] == {0x10000000}
    assert not result.flag_names


def test_decode_constant():
    import socket

    assert decode_constant("AF_NETLINK", prefix="AF_", module=socket) == (
        socket.AF_NETLINK,
        frozenset(),
    )
    assert decode_constant("CLONE_VM|SIGCHLD") == (None, frozenset({"CLONE_VM"}))
    assert decode_constant("0x100|SIGCHLD") == (0x111, frozenset())


def test_unfinished_resumed_counted_once_and_exec_result_from_resumed():
    result = parse(
        '1 execve("/bin/sh", ["sh", "-c", "x"], 0x7ffd /* 3 vars */) = 0\n'
        "1 read(0,  <unfinished ...>\n"
        '1 <... read resumed>"", 1) = 0\n'
        "1 vfork( <unfinished ...>\n"
        '2 execve("/usr/bin/python3", ["python3", "-m", "pyspark.daemon"], 0x7ffd /* 3 vars */ <unfinished ...>\n'
        "1 <... vfork resumed>) = 2\n"
        "2 <... execve resumed>) = 0\n"
        '2 read(3, "", 4) = 0\n'
    )
    counts = result.recording.counts
    assert counts["read"] == {ROLE_SHELL: 1, ROLE_PYTHON_WORKER: 1}
    assert counts["execve"] == {ROLE_SHELL: 2}


def test_line_forms_timestamps_pid_brackets_and_noise():
    result = parse(
        "12:00:00.000001 ignored-without-paren\n"
        '5 12:34:56.123456 execve("/usr/bin/python3", ["python3", "job.py"], 0x1 /* 1 vars */) = 0 <0.000100>\n'
        "5 1700000000.123456 getpid() = 5 <0.000002>\n"
        "[pid     6] getppid() = 5\n"
        "5 --- SIGCHLD {si_signo=SIGCHLD} ---\n"
        "5 --- stopped by SIGSTOP ---\n"
        "5 +++ exited with 0 +++\n"
        "5 ???( <unfinished ...>\n"
        "\n"
        "gettid() = 1\n"
    )
    counts = result.recording.counts
    assert counts["getpid"] == {ROLE_PYTHON_DRIVER: 1}
    assert counts["getppid"] == {ROLE_OTHER: 1}
    assert counts["gettid"] == {ROLE_OTHER: 1}
    assert "???" not in counts
    assert result.unparsed == 1  # the line with no call in it


def test_pid_reuse_after_exit():
    result = parse(
        '1 execve("/usr/bin/java", ["java", "org.apache.spark.deploy.SparkSubmit"], 0x1 /* 1 vars */) = 0\n'
        "1 clone(child_stack=NULL, flags=SIGCHLD) = 2\n"
        "2 getuid() = 185\n"
        "2 +++ exited with 0 +++\n"
        '3 execve("/bin/bash", ["bash"], 0x1 /* 1 vars */) = 0\n'
        "3 clone(child_stack=NULL, flags=SIGCHLD) = 2\n"
        "2 getgid() = 185\n"
    )
    counts = result.recording.counts
    assert counts["getuid"] == {ROLE_DRIVER_JVM: 1}
    assert counts["getgid"] == {ROLE_SHELL: 1}


def test_children_of_unknown_parents_resolve_late():
    # 10's own fork returns last: its whole lineage waits, then takes the JVM role.
    result = parse(
        '1 execve("/usr/bin/java", ["java", "org.apache.spark.executor.CoarseGrainedExecutorBackend"], 0x1 /* 1 vars */) = 0\n'
        "1 clone(child_stack=NULL, flags=SIGCHLD <unfinished ...>\n"
        "10 getpid() = 10\n"
        "10 clone(child_stack=NULL, flags=SIGCHLD) = 11\n"
        "11 getppid() = 10\n"
        "1 <... clone resumed>, child_tidptr=0x1) = 10\n"
        "12 orphan_call() = 0\n"
    )
    counts = result.recording.counts
    assert counts["getpid"] == {ROLE_EXECUTOR_JVM: 1}
    assert counts["getppid"] == {ROLE_EXECUTOR_JVM: 1}
    assert counts["orphan_call"] == {ROLE_OTHER: 1}


def test_exec_in_progress_at_the_end_is_counted():
    result = parse('1 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */ <unfinished ...>\n')
    assert result.recording.counts["execve"] == {ROLE_OTHER: 1}


def test_parse_exec_argv_handles_escapes_and_truncation():
    args = '"/bin/sh", ["sh", "-c", "echo \\"a]b\\"", "org.apache.spark.deploy.SparkSub"...], 0x1 /* 1 vars */) = 0'
    assert parse_exec_argv(args) == [
        "sh",
        "-c",
        'echo "a]b"',
        "org.apache.spark.deploy.SparkSub...",
    ]


def test_parser_reads_lazily():
    def lines():
        yield '1 execve("/bin/sh", ["sh"], 0x1 /* 1 vars */) = 0\n'
        for _ in range(1000):
            yield "1 getpid() = 1\n"
        raise AssertionError("the parser must not read past what it is given")

    parser = StraceParser("x86_64")
    gen = lines()
    parser.feed(next(gen) for _ in range(1001))
    assert parser.result(workload="w").recording.counts["getpid"] == {ROLE_SHELL: 1000}


def test_after_filter_load_starts_at_the_oci_runtimes_successful_load() -> None:
    """A container's trace begins in the OCI runtime's init: libseccomp's feature probes
    fail (EFAULT), split by strace into unfinished/resumed; the real load may be split too."""
    from profiler.tracing.strace_parser import after_filter_load

    trace = [
        "10 seccomp(0x1 /* SECCOMP_SET_MODE_FILTER */, 0x1 /* SECCOMP_FILTER_FLAG_TSYNC */, NULL <unfinished ...>\n",
        "11 nanosleep({tv_sec=0, tv_nsec=20000}, NULL) = 0\n",
        "10 <... seccomp resumed>) = -1 EFAULT (Bad address)\n",
        "10 prctl(0x26 /* PR_SET_NO_NEW_PRIVS */, 1, 0, 0, 0 <unfinished ...>\n",
        "10 <... prctl resumed>) = 0\n",
        "10 setuid(185) = 0\n",
        "10 prctl(0x16 /* PR_SET_SECCOMP */, 0x2 /* SECCOMP_MODE_FILTER */, {len=9, filter=0x1} <unfinished ...>\n",
        "11 futex(0x1, FUTEX_WAKE_PRIVATE, 1) = 0\n",
        "10 <... prctl resumed>) = 0\n",
        '10 execve("/opt/entrypoint.sh", ["/opt/entrypoint.sh", "driver"], 0x0 /* 9 vars */) = 0\n',
    ]
    kept = list(after_filter_load(trace))
    assert kept == trace[-1:]
    assert not any("setuid" in line for line in kept)
