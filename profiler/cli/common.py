"""What every command shares: the stderr console, global state, option parsing helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from profiler.errors import UsageError
from profiler.image import default_tag
from profiler.matrix import ImageProfiles
from profiler.output import check_output_spelling, is_stdout, write_file
from profiler.runtime.interface import (
    DEFAULT_EXECUTORS,
    PodSecurity,
    SecurityMode,
    Topology,
)
from profiler.runtime.pod import MAX_EXECUTORS
from profiler.runtime.select import EngineChoice

# Results go to stdout; logs, progress and errors to stderr, so output can be piped.
# Piped output (CI logs, files) is not cut to 80 columns: tables stay readable there.
_PIPED_WIDTH = 160
console = Console(stderr=True)
stdout = Console(soft_wrap=True)
for _console in (console, stdout):
    if not _console.is_terminal:
        _console.width = _PIPED_WIDTH


# Options shared by the commands that run workloads.
TOPOLOGY_OPTION = typer.Option(
    Topology.POD,
    "--topology",
    case_sensitive=False,
    help="pod: a driver container and executor containers on a private network, each "
    "through the image's entrypoint, as a SparkApplication runs; local: one container "
    "with a local master.",
)
EXECUTORS_OPTION = typer.Option(
    DEFAULT_EXECUTORS,
    "--executors",
    min=0,
    max=MAX_EXECUTORS,
    help="Executor containers in the pod topology.",
)
DRIVER_PROFILE_OPTION = typer.Option(
    None,
    "--driver-profile",
    help="Localhost profile for the driver pod [default: NAME.driver.json beside --profile].",
)
EXECUTOR_PROFILE_OPTION = typer.Option(
    None,
    "--executor-profile",
    help="Localhost profile for the executor pods [default: NAME.executor.json beside --profile].",
)

RUNTIMES_OPTION = typer.Option(
    "docker",
    "--runtime",
    help="The container engine: docker, podman or containerd; several comma-separated "
    "for a side-by-side matrix.",
)
OCI_RUNTIMES_OPTION = typer.Option(
    None,
    "--oci-runtime",
    help="runc or crun, or both comma-separated [default: the engine's own: runc for "
    "docker and containerd, crun for podman].",
)
RUNTIME_OPTION = typer.Option(
    "docker", "--runtime", help="The container engine: docker, podman or containerd."
)
OCI_RUNTIME_OPTION = typer.Option(
    None,
    "--oci-runtime",
    help="runc or crun [default: runc for docker and containerd, crun for podman].",
)


def one_engine(runtime: str, oci_runtime: str | None) -> EngineChoice:
    """The one engine a command that runs on one engine is given."""
    from profiler.runtime.select import parse_engine_choices

    choices = parse_engine_choices(runtime, oci_runtime)
    if len(choices) != 1:
        raise UsageError(
            "this command runs on one engine and OCI runtime",
            "pass one --runtime and at most one --oci-runtime (check and bench take several)",
        )
    return choices[0]


@dataclass
class State:
    verbose: bool = False


state = State()


def note(message: str) -> None:
    """A plain line on stderr, as given: no markup, no highlighting, never wrapped."""
    console.print(message, highlight=False, markup=False, emoji=False, soft_wrap=True)


def progress(message: str) -> None:
    note(f"• {message}")


def parse_images(images: str | None, spark_versions: str | None) -> list[str]:
    """The images a check runs on: ``--image`` as given, or the tool's image of each
    ``--spark-version``; the default image when neither is given."""
    if images and spark_versions:
        raise UsageError("--image and --spark-version both name the images", "give one of the two")
    if spark_versions:
        tags = [default_tag(v.strip()) for v in spark_versions.split(",") if v.strip()]
    elif images:
        tags = [i.strip() for i in images.split(",") if i.strip()]
    else:
        tags = [default_tag()]
    if not tags:
        raise UsageError("no image given", "e.g. --image spark-seccomp/spark:3.5.9")
    if len(set(tags)) != len(tags):
        raise UsageError("an image is named twice", "name each image once")
    return tags


def parse_profile_paths(text: str | None, images: Sequence[str]) -> list[Path]:
    """``--profile``: one path, or one per image (comma-separated, in the images' order)."""
    paths = [Path(p) for p in (text or "").split(",") if p.strip()]
    if len(paths) > 1 and len(paths) != len(images):
        raise UsageError(
            f"{len(paths)} profiles for {len(images)} images",
            "give one --profile for every image, or one for all",
        )
    return paths


def load_image_profiles(
    paths: Sequence[Path],
    *,
    driver: Path | None,
    executor: Path | None,
    allow_unknown: bool,
) -> list[ImageProfiles]:
    """Each ``--profile`` loaded with the role files beside it (or ``--driver-profile`` /
    ``--executor-profile``): one serves every image, several go one per image."""
    from profiler.runtime.profiles import load_profile_set

    return [
        ImageProfiles(
            path,
            load_profile_set(
                path,
                driver=driver,
                executor=executor,
                allow_unknown=allow_unknown,
                warn=lambda w: note(f"warning: {w}"),
            ),
        )
        for path in paths
    ]


def parse_modes(text: str) -> list[SecurityMode]:
    modes = []
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        try:
            mode = SecurityMode(item)
        except ValueError:
            choices = ", ".join(m.value for m in SecurityMode)
            raise UsageError(f"unknown mode {item!r}", f"choose from {choices}") from None
        if mode in modes:
            raise UsageError(f"mode {item!r} given twice", "name each mode once")
        modes.append(mode)
    if not modes:
        raise UsageError("no modes given", "e.g. --modes unconfined,runtime-default")
    return modes


def parse_pod_security(text: str) -> PodSecurity:
    try:
        return PodSecurity(text)
    except ValueError:
        raise UsageError(f"unknown pod security {text!r}", "choose restricted or none") from None


def output_file(raw: str) -> Path:
    """Typer's parser for options that name a file to write: the path as the user typed
    it, checked by ``profiler.output`` before ``Path`` drops an empty string or a trailing
    ``/``; the error names the option."""
    try:
        check_output_spelling(raw)
    except UsageError as exc:
        raise typer.BadParameter(exc.diagnostics()) from None
    return Path(raw)


def write_atomically(path: Path, text: str) -> None:
    """Write one output file whole or not at all (``profiler.output``); ``-`` is stdout."""
    if is_stdout(path):
        stdout.out(text, end="", highlight=False)
        return
    write_file(path, text)


@contextlib.contextmanager
def progress_reporter(title: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback: a live bar on a terminal, one line per step in CI logs."""
    if console.is_terminal:
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        with bar:
            task = bar.add_task(title, total=None)

            def update(message: str, done: int, total: int) -> None:
                bar.update(task, description=message, completed=done, total=total)

            yield update
        return
    started = time.monotonic()

    def log(message: str, done: int, total: int) -> None:
        elapsed = time.monotonic() - started
        console.print(
            f"[{done}/{total} {elapsed:5.0f}s] {message}",
            markup=False,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )

    yield log
