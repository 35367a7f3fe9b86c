"""The command line: thin commands over the library, and the one place errors become exit codes."""

from __future__ import annotations

import signal
import sys
import threading
import traceback
from typing import NoReturn

import typer

from profiler import __version__
from profiler.cli import bench as bench_cmd
from profiler.cli import check as check_cmd
from profiler.cli import demo as demo_cmd
from profiler.cli import image as image_cmd
from profiler.cli import k8s as k8s_cmd
from profiler.cli import node as node_cmd
from profiler.cli import profile as profile_cmd
from profiler.cli import record as record_cmd
from profiler.cli import report as report_cmd
from profiler.cli import workloads as workloads_cmd
from profiler.cli.base import VERBOSE_OPTION, App
from profiler.cli.console import console, stdout
from profiler.cli.state import state
from profiler.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_USAGE, ProfilerError
from profiler.runtime import cleanup

app = App(
    name="spark-seccomp",
    help=(
        "Record, derive, verify and benchmark seccomp profiles for PySpark jobs "
        "on Kubernetes with the Spark Operator."
    ),
)


def _print_version(value: bool) -> None:
    if value:
        stdout.print(f"spark-seccomp {__version__}", highlight=False, markup=False)
        raise typer.Exit()


@app.callback()
def _global(
    verbose: bool = VERBOSE_OPTION,
    version: bool = typer.Option(
        False,
        "--version",
        is_eager=True,
        callback=_print_version,
        help="Print the version and exit.",
    ),
) -> None:
    state.verbose = verbose


# In the order a user meets them: build, run, record, compare, measure, deploy.
app.add_typer(image_cmd.app, name="image")
app.add_typer(workloads_cmd.app, name="workloads")
app.command(name="check")(check_cmd.check)
app.command(name="record")(record_cmd.record)
app.add_typer(profile_cmd.app, name="profile")
app.command(name="bench")(bench_cmd.bench)
app.command(name="report")(report_cmd.report)
app.command(name="demo")(demo_cmd.demo)
app.add_typer(k8s_cmd.app, name="k8s")
app.add_typer(node_cmd.app, name="node")
app.command(name="cleanup")(check_cmd.cleanup)


# Which signal stopped the run, for the message: typer turns a KeyboardInterrupt into a
# plain exit code 130, so the handlers note it here first.
_interrupted_by: list[str] = []


def _interrupt(signum: int, frame: object) -> None:
    # SIGTERM (timeout(1), CI cancelling a job) unwinds like Ctrl-C, so the finally
    # blocks that remove containers and stop tracers run.
    _interrupted_by.append("Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name)
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every failure to a documented exit code."""
    args = list(sys.argv[1:] if argv is None else argv)
    _interrupted_by.clear()
    cleanup.clear()
    if threading.current_thread() is not threading.main_thread():
        _run(args)
    previous = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for signum in previous:
            signal.signal(signum, _interrupt)
        _run(args)
    finally:
        # In-process callers (tests) get their handlers back.
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _run(args: list[str]) -> NoReturn:
    command = typer.main.get_command(app)
    try:
        code = command.main(args=args, prog_name="spark-seccomp", standalone_mode=False)
    except (KeyboardInterrupt, typer.Abort):
        _exit_interrupted(args)
    except typer.TyperException as exc:
        message = _message_of(exc)
        if type(exc).__name__ == "NoArgsIsHelpError":
            # A group without its command: the help, on stdout as `--help` prints it.
            typer.echo(message)
            sys.exit(EXIT_USAGE)
        ctx = getattr(exc, "ctx", None)
        hint = f"see `{ctx.command_path} --help`" if ctx is not None else None
        _error(f"{message} ({hint})" if hint else message)
        sys.exit(EXIT_USAGE)
    except ProfilerError as exc:
        if state.verbose:
            traceback.print_exc()
        _error(exc.diagnostics())
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an unexpected engine failure
        if state.verbose:
            traceback.print_exc()
            _error(f"unexpected {type(exc).__name__}: {exc}")
        else:
            _error(f"unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)")
        sys.exit(EXIT_ENVIRONMENT)
    if code == EXIT_INTERRUPTED:  # typer's answer to a KeyboardInterrupt
        _exit_interrupted(args)
    sys.exit(code if isinstance(code, int) else 0)


def _error(message: str) -> None:
    """The one line an error becomes: never wrapped, never split by a newline in a value."""
    line = message.replace("\r", "\\r").replace("\n", "\\n")
    console.print(f"error: {line}", style="red", markup=False, highlight=False, soft_wrap=True)


def _exit_interrupted(args: list[str]) -> NoReturn:
    """Say what was stopped and what was left behind and removed; exit 130."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not cut this short
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    how = _interrupted_by[0] if _interrupted_by else "Ctrl-C"
    line = f"interrupted by {how}: `{_command_path(args)}` stopped; " + _cleanup_summary()
    console.print(line, style="red", markup=False, highlight=False, soft_wrap=True)
    sys.exit(EXIT_INTERRUPTED)


def _cleanup_summary() -> str:
    results = cleanup.run_cleanups()
    if not results:
        return "it had started no containers"
    removed: dict[str, int] = {}
    failed = []
    for result in results:
        if result.removed is None:
            failed.append(f"{result.registered.name}: {result.error}")
        else:
            what = result.registered.what
            removed[what] = removed.get(what, 0) + result.removed
    parts = [
        f"removed {n} {what}{'' if n == 1 else 's'} it had left" for what, n in removed.items()
    ]
    if failed:
        parts.append(
            f"could not check for leftovers ({'; '.join(failed)}): run `spark-seccomp cleanup`"
        )
    return "; ".join(parts)


def _command_path(args: list[str]) -> str:
    """``spark-seccomp profile merge`` from the arguments, for saying what was stopped."""
    command = typer.main.get_command(app)
    path = ["spark-seccomp"]
    for token in args:
        if token.startswith("-"):
            continue
        sub = getattr(command, "commands", {}).get(token)
        if sub is None:
            break
        path.append(token)
        command = sub
    return " ".join(path)


def _message_of(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)
