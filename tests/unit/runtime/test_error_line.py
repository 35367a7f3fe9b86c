"""The verdict line of a failed run, from realistic Spark stderr (tests/fixtures/stderr)."""

from pathlib import Path

import pytest

from profiler.runtime.error_line import MAX_LENGTH, error_line

STDERR = Path(__file__).parents[2] / "fixtures" / "stderr"


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        # The driver's traceback, not the shutdown logging after it.
        (
            "python_not_a_directory.txt",
            "NotADirectoryError: [Errno 20] Not a directory: '/tmp/job/out/parquet'",
        ),
        # Java: the first exception line, without "Exception in thread", not its cause.
        (
            "java_file_already_exists.txt",
            "java.nio.file.FileAlreadyExistsException: /opt/spark/work; "
            "caused by java.io.IOException: Read-only file system",
        ),
        # Chained Python exceptions: the last traceback is the one that ended the job.
        ("python_chained.txt", "RuntimeError: no configuration for the job"),
        # PySpark re-raises a worker's exception with the worker's traceback inside.
        ("python_worker_exception.txt", "ZeroDivisionError: division by zero"),
        # A JVM that cannot start threads (clone3 denied with EPERM) says so in Java terms.
        (
            "jvm_pthread_eperm.txt",
            "java.lang.OutOfMemoryError: unable to create native thread: possibly out of "
            "memory or process/resource limits reached",
        ),
        (
            "shell_not_permitted.txt",
            "/opt/spark/bin/spark-class: line 71: /usr/lib/jvm/java-17-openjdk-amd64/bin/java: "
            "Operation not permitted",
        ),
        (
            "jvm_sigsegv.txt",
            "the JVM crashed: SIGSEGV (0xb) at pc=0x00007f3a1c2b5e10, pid=1, tid=31",
        ),
        ("error_log_line.txt", "ERROR SparkContext: Error initializing SparkContext."),
    ],
)
def test_the_line_that_explains_the_failure(sample: str, expected: str) -> None:
    assert error_line((STDERR / sample).read_text()) == expected


def test_py4j_errors_show_the_java_exception_they_wrap() -> None:
    line = error_line((STDERR / "py4j_java_error.txt").read_text())
    assert line.startswith("org.apache.spark.SparkException: Job aborted due to stage failure")
    assert len(line) == MAX_LENGTH


def test_only_log_noise_falls_back_to_the_last_line_without_its_timestamp() -> None:
    line = error_line((STDERR / "only_info.txt").read_text())
    assert (
        line
        == "INFO ShutdownHookManager: Deleting directory /tmp/spark-0c1d2e3f-4a5b-6c7d-8e9f-0a1b2c3d4e5f"
    )


def test_a_warning_is_preferred_over_info_noise() -> None:
    stderr = (
        "25/06/02 15:00:00 WARN MemoryStore: Not enough space to cache rdd_3_0 in memory!\n"
        "25/06/02 15:00:02 INFO ShutdownHookManager: Shutdown hook called\n"
    )
    assert error_line(stderr) == "WARN MemoryStore: Not enough space to cache rdd_3_0 in memory!"


def test_the_applications_own_exit_message_beats_log_noise() -> None:
    stderr = (
        'Setting default log level to "WARN".\n'
        "To adjust logging level use sc.setLogLevel(newLevel).\n"
        "25/06/02 15:00:00 WARN NativeCodeLoader: Unable to load native-hadoop library\n"
        "pi.py: SLICES must be a positive number, not 0\n"
        "25/06/02 15:00:02 INFO ShutdownHookManager: Shutdown hook called\n"
    )
    assert error_line(stderr) == "pi.py: SLICES must be a positive number, not 0"
    banner_only = 'Setting default log level to "WARN".\n25/06/02 15:00:02 INFO X: done\n'
    assert error_line(banner_only) == "INFO X: done"


def test_a_drivers_python_output_is_on_stdout_under_spark_submit() -> None:
    stderr = "25/06/02 15:00:02 INFO ShutdownHookManager: Deleting directory /tmp/spark-1\n"
    stdout = "pi.py: SLICES must be a positive number, not 0\n"
    assert error_line(stderr, stdout) == "pi.py: SLICES must be a positive number, not 0"
    traceback = "Traceback (most recent call last):\n  File \"j.py\", line 1\nKeyError: 'x'\n"
    assert error_line(stderr, "RESULT ok\n" + traceback) == "KeyError: 'x'"
    # A Java exception on stderr still comes before the application's last words.
    java = 'Exception in thread "main" java.lang.IllegalStateException: boom\n'
    assert error_line(java, "done\n") == "java.lang.IllegalStateException: boom"


def test_empty_stderr_gives_an_empty_line() -> None:
    assert error_line("") == ""
    assert error_line("\n  \n") == ""


def test_a_traceback_cut_off_before_its_exception_falls_through() -> None:
    stderr = 'Traceback (most recent call last):\n  File "job.py", line 3, in <module>\nKilled\n'
    assert error_line(stderr) == "Killed"
    assert error_line('Traceback (most recent call last):\n  File "job.py", line 3\n') == (
        'File "job.py", line 3'
    )


def test_a_chained_java_exception_gives_its_root_cause() -> None:
    stderr = """26/12/02 10:11:40 INFO Executor: starting
Exception in thread "main" java.lang.reflect.UndeclaredThrowableException
\tat java.base/javax.security.auth.Subject.doAs(Subject.java:439)
\tat org.apache.spark.executor.CoarseGrainedExecutorBackend$.run(CoarseGrainedExecutorBackend.scala:423)
Caused by: org.apache.spark.SparkException: Exception thrown in awaitResult:
\tat org.apache.spark.util.SparkThreadUtils$.awaitResult(SparkThreadUtils.scala:56)
\t... 4 more
Caused by: java.io.IOException: Failed to connect to app-driver-svc.default.svc/<unresolved>:7078
\tat org.apache.spark.network.client.TransportClientFactory.createClient(TransportClientFactory.java:294)
\t... 8 more
Caused by: java.net.UnknownHostException: app-driver-svc.default.svc
\tat java.base/java.net.InetAddress$CachedAddresses.get(InetAddress.java:801)
\t... 19 more
26/12/02 10:11:41 INFO ShutdownHookManager: Shutdown hook called
26/12/02 10:11:41 ERROR Utils: later, unrelated
java.lang.IllegalStateException: a later exception
"""
    assert error_line(stderr) == (
        "java.lang.reflect.UndeclaredThrowableException; "
        "caused by java.net.UnknownHostException: app-driver-svc.default.svc"
    )
