"""The one error hierarchy. Every error a user can cause or fix carries a hint and an exit code.

The CLI turns these into a one-line message in exactly one place (``profiler.cli``);
library code raises them and never prints.
"""

from __future__ import annotations

from collections.abc import Sequence

# Documented exit codes (README "Exit codes").
EXIT_OK = 0
EXIT_FAILED = 1  # a check, verification, or lint finding failed
EXIT_USAGE = 2  # bad command line or bad input file
EXIT_ENVIRONMENT = 3  # something the tool needs is missing: engine, image, root, bpftrace
EXIT_INTERRUPTED = 130


class ProfilerError(Exception):
    """Base of all user-facing errors: a message naming the problem and a hint naming the fix."""

    exit_code = EXIT_FAILED

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def diagnostics(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class UsageError(ProfilerError):
    """The user asked for something that cannot be done as asked (bad option, bad file)."""

    exit_code = EXIT_USAGE


class EnvironmentProblem(ProfilerError):
    """The machine lacks something: Docker engine, image, root, bpftrace, tracefs."""

    exit_code = EXIT_ENVIRONMENT


class CommandFailed(EnvironmentProblem):
    """An external program (mmdebstrap, pip, bpftrace...) failed."""

    def __init__(
        self, argv: Sequence[str], returncode: int, stderr: str, hint: str | None = None
    ) -> None:
        last = _last_line(stderr)
        super().__init__(f"`{' '.join(argv[:3])}` exited with {returncode}: {last}", hint)
        self.argv = list(argv)
        self.returncode = returncode
        self.stderr = stderr


class VerificationFailed(ProfilerError):
    """A run that had to pass did not (record's closing verification, dry-run)."""

    exit_code = EXIT_FAILED


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no error output"
