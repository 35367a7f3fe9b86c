"""The one place errors meet the user: help, --verbose, interrupts, one line per error."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from profiler.cli import main
from profiler.errors import EXIT_ENVIRONMENT, EXIT_INTERRUPTED, EXIT_USAGE
from profiler.runtime import cleanup

ROOT = Path(__file__).parents[2]
BAD_PROFILE = ROOT / "tests" / "fixtures" / "adversarial" / "profiles" / "errno_true.json"


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


@pytest.mark.parametrize("args", [[], ["profile"]])
def test_no_arguments_prints_the_help_alone(args, capsys) -> None:
    code, out, err = run(args, capsys)
    assert code == EXIT_USAGE
    assert "Usage" in out
    assert err == ""


def test_verbose_shows_the_traceback_and_still_the_one_line(capsys) -> None:
    code, _, err = run(["-v", "profile", "explain", str(BAD_PROFILE)], capsys)
    assert code == EXIT_USAGE
    assert "Traceback (most recent call last)" in err
    assert err.splitlines()[-1].startswith("error: profile ")
    assert "syscalls[2].errnoRet" in err.splitlines()[-1]


def test_an_unexpected_exception_is_one_line_or_a_traceback_with_verbose(
    capsys, monkeypatch, tmp_path
) -> None:
    def broken(_run_dir):
        raise ValueError("boom")

    monkeypatch.setattr("profiler.cli.report_cmd.build_report", broken)
    code, _, err = run(["report", str(tmp_path)], capsys)
    assert code == EXIT_ENVIRONMENT
    assert err == "error: unexpected ValueError: boom (rerun with --verbose for details)\n"
    code, _, err = run(["--verbose", "report", str(tmp_path)], capsys)
    assert "Traceback" in err
    assert err.splitlines()[-1] == "error: unexpected ValueError: boom"


def test_a_newline_in_a_value_cannot_split_the_error_line(capsys, tmp_path) -> None:
    code, _, err = run(["profile", "explain", str(tmp_path / "a\nb.json")], capsys)
    assert code == EXIT_USAGE
    assert len(err.splitlines()) == 1
    assert "a\\nb.json does not exist" in err


def _interrupt_with(signum, monkeypatch, *registrations):
    def during_the_work(_run_dir):
        for registration in registrations:
            cleanup.register_cleanup(*registration)
        os.kill(os.getpid(), signum)
        raise AssertionError("the signal should have interrupted the command")

    monkeypatch.setattr("profiler.cli.report_cmd.build_report", during_the_work)


def test_ctrl_c_says_what_stopped_and_that_nothing_was_started(capsys, monkeypatch, tmp_path):
    _interrupt_with(signal.SIGINT, monkeypatch)
    code, _, err = run(["report", str(tmp_path)], capsys)
    assert code == EXIT_INTERRUPTED
    assert err == (
        "interrupted by Ctrl-C: `spark-seccomp report` stopped; it had started no containers\n"
    )


def test_sigterm_reports_how_many_containers_the_cleanup_removed(capsys, monkeypatch, tmp_path):
    _interrupt_with(signal.SIGTERM, monkeypatch, ("docker", "container", lambda: 2))
    code, _, err = run(["report", str(tmp_path)], capsys)
    assert code == EXIT_INTERRUPTED
    assert err == (
        "interrupted by SIGTERM: `spark-seccomp report` stopped; removed 2 containers it had left\n"
    )


def test_a_failing_cleanup_is_reported_with_what_to_run(capsys, monkeypatch, tmp_path):
    def engine_gone() -> int:
        raise ConnectionError("engine went away")

    _interrupt_with(
        signal.SIGINT,
        monkeypatch,
        ("local", "process group", lambda: 1),
        ("docker", "container", engine_gone),
    )
    code, _, err = run(["report", str(tmp_path)], capsys)
    assert code == EXIT_INTERRUPTED
    assert "removed 1 process group it had left" in err
    assert "could not check for leftovers (docker: ConnectionError: engine went away)" in err
    assert "run `spark-seccomp cleanup`" in err
    assert len(err.splitlines()) == 1


def test_main_gives_the_caller_its_signal_handlers_back(capsys, tmp_path) -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    run(["report", str(tmp_path / "none")], capsys)
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_the_interrupt_path_does_not_import_docker() -> None:
    script = textwrap.dedent(
        """
        import sys
        from unittest import mock
        from profiler.cli import main
        with mock.patch("profiler.cli.report_cmd.build_report", side_effect=KeyboardInterrupt):
            try:
                main(["report", "."])
            except SystemExit as exc:
                print(exc.code, "docker" in sys.modules)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.stdout.split() == ["130", "False"], result.stderr
    assert "it had started no containers" in result.stderr
