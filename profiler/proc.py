"""The one place that starts external programs; failures become ``CommandFailed``."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from profiler.errors import CommandFailed, EnvironmentProblem


def require_program(name: str, hint: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise EnvironmentProblem(f"{name} is not installed", hint)
    return path


def run(
    argv: Sequence[str],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    hint: str | None = None,
    capture: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run a program to completion; raise ``CommandFailed`` with its stderr when it fails."""
    try:
        completed = subprocess.run(
            list(argv),
            cwd=cwd,
            env=dict(env) if env is not None else None,
            timeout=timeout,
            text=True,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            check=False,
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{argv[0]} is not installed", hint) from exc
    except subprocess.TimeoutExpired as exc:
        raise CommandFailed(argv, -1, f"timed out after {timeout} s", hint) from exc
    if completed.returncode != 0:
        raise CommandFailed(argv, completed.returncode, completed.stderr or "", hint)
    return completed


def start(
    argv: Sequence[str],
    *,
    stdout: int | None = subprocess.PIPE,
    stderr: int | None = subprocess.PIPE,
    env: Mapping[str, str] | None = None,
) -> subprocess.Popen[str]:
    """Start a long-running helper (bpftrace, strace); the caller owns stopping it."""
    try:
        return subprocess.Popen(
            list(argv),
            stdout=stdout,
            stderr=stderr,
            env=dict(env) if env is not None else None,
            text=True,
            start_new_session=True,  # Ctrl-C reaches us, and we stop it in order
        )
    except FileNotFoundError as exc:
        raise EnvironmentProblem(f"{argv[0]} is not installed") from exc


STATIC_GCC_FLAGS = ("-O2", "-static")


def static_c_program(source: Path, directory: Path, name: str, *, purpose: str, fix: str) -> Path:
    """``source`` compiled once with ``gcc -O2 -static`` into ``directory`` as
    ``<name>-<digest>`` (the digest of the source and flags, so an edited source is built
    again), written under a temporary name and renamed, so a failed build leaves nothing.
    Without gcc: ``EnvironmentProblem`` saying it is needed for ``purpose``, with ``fix``."""

    code = source.read_bytes()
    digest = hashlib.sha256(code + " ".join(STATIC_GCC_FLAGS).encode()).hexdigest()[:16]
    binary = directory / f"{name}-{digest}"
    if binary.is_file():
        return binary
    gcc = shutil.which("gcc")
    if gcc is None:
        raise EnvironmentProblem(f"gcc is needed to build {purpose}", fix)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o755)  # containers (uid 185) read the tools through a mount
    partial = directory / f".{binary.name}.partial"
    run(
        [gcc, *STATIC_GCC_FLAGS, "-o", str(partial), str(source)],
        hint="a static build needs libc6-dev (libc.a): apt-get install libc6-dev",
    )
    partial.chmod(0o755)
    partial.replace(binary)
    return binary
