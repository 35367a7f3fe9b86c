"""The command line: thin commands over the library, and the one place errors become exit codes."""

from __future__ import annotations

import signal
import sys
import threading
import traceback

import typer

from profiler.cli import bench as bench_cmd
from profiler.cli import check as check_cmd
from profiler.cli import demo as demo_cmd
from profiler.cli import image as image_cmd
from profiler.cli import k8s as k8s_cmd
from profiler.cli import profile as profile_cmd
from profiler.cli import record as record_cmd
from profiler.cli import report as report_cmd
from profiler.cli import workloads as workloads_cmd
from profiler.cli.common import console, state
from profiler.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_USAGE, ProfilerError

app = typer.Typer(
    name="spark-seccomp",
    help=(
        "Record, derive, verify and benchmark seccomp profiles for PySpark jobs "
        "on Kubernetes with the Spark Operator."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _global(
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Show tracebacks and debug detail on errors."
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
app.command(name="cleanup")(check_cmd.cleanup)


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM (timeout(1), CI cancelling a job) unwinds like Ctrl-C, so the finally
    # blocks that remove containers and stop tracers run.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the app and map every failure to a documented exit code."""
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _terminate)
    command = typer.main.get_command(app)
    try:
        code = command.main(args=argv, prog_name="spark-seccomp", standalone_mode=False)
    except typer.Abort:
        console.print("interrupted", style="red")
        sys.exit(EXIT_INTERRUPTED)
    except KeyboardInterrupt:
        console.print("interrupted; containers started by this run were removed", style="red")
        sys.exit(EXIT_INTERRUPTED)
    except typer.TyperException as exc:
        # Usage errors: one line naming the problem, plus where to read about the option.
        console.print(
            f"error: {_message_of(exc)}", style="red", markup=False, highlight=False, soft_wrap=True
        )
        ctx = getattr(exc, "ctx", None)
        if ctx is not None:
            console.print(
                f"see `{ctx.command_path} --help`", markup=False, highlight=False, soft_wrap=True
            )
        sys.exit(EXIT_USAGE)
    except ProfilerError as exc:
        if state.verbose:
            traceback.print_exc()
        console.print(
            f"error: {exc.diagnostics()}",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug or an unexpected engine failure
        if state.verbose:
            traceback.print_exc()
            sys.exit(EXIT_ENVIRONMENT)
        console.print(
            f"error: unexpected {type(exc).__name__}: {exc} (rerun with --verbose for details)",
            style="red",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
        sys.exit(EXIT_ENVIRONMENT)
    sys.exit(code if isinstance(code, int) else 0)


def _message_of(exc: Exception) -> str:
    format_message = getattr(exc, "format_message", None)
    return str(format_message()) if callable(format_message) else str(exc)
