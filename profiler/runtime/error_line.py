"""The one line of a failed run's stderr that says why it failed (pure).

A Spark job's stderr ends with the JVM's shutdown logging (``INFO ShutdownHookManager:
Deleting directory ...``), so its last line says nothing. In order of preference:

1. the exception of the LAST Python traceback: the one that ended the driver (for
   ``Py4JJavaError``, the Java exception it wraps, on the ``: ...`` line after it);
2. the FIRST Java exception (``Exception in thread "main" java...``, a logged exception):
   what went wrong first, before its consequences; a chained one with its root cause (the
   last ``Caused by:`` of that stack trace), as in ``UndeclaredThrowableException; caused
   by java.net.UnknownHostException: <driver service>``;
3. a JVM crash (``#  SIGSEGV (0xb) at pc=...``);
4. the last line with an error word (``not permitted``, ``failed``, ``Killed``...),
   leaving out INFO/WARN/DEBUG log lines, which mention exceptions they survived;
5. the last line the application wrote itself, not through log4j (``sys.exit("...")``,
   a shell's message), other than spark-submit's logging banner;
6. the last WARN log line, then the last line.

Log lines lose their ``yy/MM/dd HH:mm:ss`` prefix; the result is at most 240 characters.
"""

from __future__ import annotations

import re

MAX_LENGTH = 240

_TRACEBACK = "Traceback (most recent call last):"
# log4j's default Spark layout: "25/06/02 09:14:07 INFO ShutdownHookManager: ..."
_LOG_LINE = re.compile(r"^\d{2}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} (?P<level>[A-Z]+) (?P<rest>.*)$")
_QUIET_LEVELS = ("INFO", "DEBUG", "TRACE", "WARN")
_JAVA_EXCEPTION = re.compile(
    r"^(?:Exception in thread \"[^\"]*\" |Caused by: |: )?"
    r"(?P<exception>(?:[a-z_$][\w$]*\.)+[A-Z][\w$]*(?:Exception|Error|Throwable)\b(?::.*)?)$"
)
_JVM_SIGNAL = re.compile(r"^#\s+(?P<signal>SIG[A-Z]+ \(0x[0-9a-f]+\).*)$")
_MARKERS = (
    "Error",
    "Exception",
    "error:",
    "not permitted",
    "Permission denied",
    "failed",
    "denied",
    "Killed",
    "Segmentation fault",
    "Aborted",
    "cannot",
    "No such file",
)


def error_line(stderr: str, stdout: str = "") -> str:
    """The line of ``stderr`` most likely to explain a failure, or "" when both are empty.

    ``stdout`` matters for a driver started by spark-submit: its PythonRunner merges the
    Python process's stderr into the JVM's stdout, so the application's traceback or exit
    message is there, not on stderr. It is searched only for the Python rules (1 and 5)."""
    lines = [line.rstrip() for line in stderr.splitlines() if line.strip()]
    out_lines = [line.rstrip() for line in stdout.splitlines() if line.strip()]
    if not lines and not out_lines:
        return ""
    found = (
        _python_exception(lines)
        or _python_exception(out_lines)
        or _first_java_exception(lines)
        or _jvm_signal(lines)
        or _marked_line(lines)
        or _own_line(lines)
        or _own_line(out_lines)
        or _last_log_line(lines, "WARN")
        or _without_timestamp((lines or out_lines)[-1].strip())
    )
    return found[:MAX_LENGTH]


def _python_exception(lines: list[str]) -> str | None:
    starts = [i for i, line in enumerate(lines) if line.strip() == _TRACEBACK]
    if not starts:
        return None
    # After the header come frames ("  File ...") and their indented source and markers;
    # the first line back at the left margin is the exception.
    following = lines[starts[-1] + 1 :]
    index = next((i for i, line in enumerate(following) if not line[:1].isspace()), None)
    if index is None:
        return None
    exception = following[index].strip()
    if exception.startswith("py4j.protocol.Py4JJavaError"):
        for line in following[index + 1 :]:
            if line.startswith(": ") and (match := _JAVA_EXCEPTION.match(line)):
                return match.group("exception")
    return exception


def _first_java_exception(lines: list[str]) -> str | None:
    for index, line in enumerate(lines):
        if match := _JAVA_EXCEPTION.match(line.strip()):
            first = match.group("exception")
            cause = _root_cause(lines[index + 1 :])
            return f"{first}; caused by {cause}" if cause else first
    return None


def _root_cause(trace: list[str]) -> str | None:
    """The last ``Caused by:`` of the stack trace that ``trace`` continues, if any."""
    cause = None
    for line in trace:
        text = line.strip()
        if text.startswith("Caused by: ") and (match := _JAVA_EXCEPTION.match(text)):
            cause = match.group("exception")
        elif not (text.startswith(("at ", "... ", "Suppressed: ")) or line[:1].isspace()):
            break  # the stack trace ended
    return cause


def _jvm_signal(lines: list[str]) -> str | None:
    for line in lines:
        if match := _JVM_SIGNAL.match(line.strip()):
            return f"the JVM crashed: {match.group('signal')}"
    return None


def _is_quiet(line: str) -> bool:
    match = _LOG_LINE.match(line)
    return match is not None and match.group("level") in _QUIET_LEVELS


def _marked_line(lines: list[str]) -> str | None:
    candidates = [line.strip() for line in lines if not _is_quiet(line.strip())]
    for marker in _MARKERS:
        for line in reversed(candidates):
            if marker in line:
                return _without_timestamp(line)
    return None


# What spark-submit prints at start on every run, outside log4j.
_BANNER = ("Setting default log level to", "To adjust logging level use", "Using Spark's default")


def _own_line(lines: list[str]) -> str | None:
    for line in reversed(lines):
        text = line.strip()
        if _LOG_LINE.match(text) or line[:1].isspace() or text.startswith(_BANNER):
            continue
        if text != _TRACEBACK:
            return text
    return None


def _last_log_line(lines: list[str], level: str) -> str | None:
    for line in reversed(lines):
        match = _LOG_LINE.match(line.strip())
        if match is not None and match.group("level") == level:
            return f"{level} {match.group('rest')}"
    return None


def _without_timestamp(line: str) -> str:
    match = _LOG_LINE.match(line)
    return f"{match.group('level')} {match.group('rest')}" if match else line
