"""What every command shares: the stderr console, global state, option parsing helpers."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from profiler.cli.choices import Engines, Modes, OciRuntimes, several
from profiler.cli.console import console, stdout
from profiler.errors import UsageError
from profiler.image import default_tag
from profiler.k8s.apps import Jobs
from profiler.matrix import ImageProfiles
from profiler.output import check_output_spelling, is_stdout, write_file
from profiler.runtime.pod import MAX_EXECUTORS
from profiler.runtime.select import EngineChoice
from profiler.vocabulary import (
    DEFAULT_EXECUTORS,
    BackendName,
    DeniedErrno,
    Engine,
    OciRuntime,
    PodSecurity,
    SecurityMode,
    Topology,
    TracerName,
)

# Every option more than one command takes, declared once. A fixed set is an enum of
# profiler.vocabulary (one value: Typer parses it) or a tuple of them (several,
# comma-separated: cli/choices.py parses it).
WORKLOADS_ARG = typer.Argument(
    None,
    help="Catalogue workload names, paths to PySpark scripts or application jars, or "
    "SparkApplication YAML files (each application runs as its pods would) "
    "[default: the catalogue].",
    show_default=False,
)
MODES_OPTION = typer.Option(
    None,
    "--modes",
    help="Security modes to run, comma-separated [default: unconfined,runtime-default, "
    "and localhost with --profile].",
    show_default=False,
    **several(SecurityMode, Modes, "mode"),
)
PROFILES_OPTION = typer.Option(
    None,
    "--profile",
    help="OCI seccomp profile for localhost mode; with several images, one for all or one "
    "per image, comma-separated in the same order.",
)
IMAGES_OPTION = typer.Option(
    None,
    "--image",
    help="Spark image, or several comma-separated, run one after the other and shown side "
    "by side [default: spark-seccomp/spark:<V>].",
)
SPARK_VERSIONS_OPTION = typer.Option(
    None,
    "--spark-version",
    help="Instead of --image: the tool's image of these Spark versions, comma-separated "
    "(e.g. 3.5.9,4.3.0; build them with `image build --spark-version V`).",
)
IMAGE_OPTION = typer.Option(None, "--image", help="Spark image [default: spark-seccomp/spark:<V>].")
POD_SECURITY_OPTION = typer.Option(
    PodSecurity.RESTRICTED,
    "--pod-security",
    case_sensitive=False,
    help="restricted: what PSS restricted demands (uid 185, all capabilities dropped, "
    "no-new-privileges, read-only root); none: the engine's defaults. Record as you will "
    "enforce.",
)
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
ALLOW_UNKNOWN_OPTION = typer.Option(
    False,
    "--allow-unknown",
    help="Keep syscall names libseccomp does not know (a newer kernel's), with a warning.",
)
RUNTIME_DEFAULT_OPTION = typer.Option(
    None,
    "--runtime-default",
    help="RuntimeDefault as a file (moby's default.json, or a probed reference), for "
    "diagnosing RuntimeDefault failures, the local backend and the report [default: the "
    "engine's, probed; without one, profiles/runtime-default-*.json].",
)
BACKEND_OPTION = typer.Option(
    BackendName.AUTO,
    "--backend",
    case_sensitive=False,
    help="auto: Docker when an engine answers, else local; docker; local: host processes "
    "under the same seccomp profiles.",
)
TRACER_OPTION = typer.Option(
    TracerName.AUTO,
    "--tracer",
    case_sensitive=False,
    help="ebpf (bpftrace: root and BTF), strace, or auto: eBPF where it is usable.",
)
ERRNO_OPTION = typer.Option(
    DeniedErrno.ENOSYS,
    "--errno",
    case_sensitive=False,
    help="What a denied call returns: enosys (glibc and the JVM fall back to older calls) "
    "or eperm.",
)

# A workload's own submission, for the one script or jar given (k8s.apps.ScriptSubmission),
# spelled as spark-submit spells it; and what every manifest given shares.
ARG_OPTION = typer.Option(
    None,
    "--arg",
    help="An argument of the script or jar given, as spark-submit passes it (repeat for more).",
)
CLASS_OPTION = typer.Option(
    None, "--class", help="The class of the jar given to run [default: its Main-Class]."
)
JARS_OPTION = typer.Option(
    None, "--jars", help="Jars of this machine the script or jar needs, comma-separated."
)
PY_FILES_OPTION = typer.Option(
    None, "--py-files", help="Python files or archives of this machine it imports, comma-separated."
)
FILES_OPTION = typer.Option(
    None, "--files", help="Files of this machine handed to it (SparkFiles), comma-separated."
)
CONF_OPTION = typer.Option(
    None, "--conf", help="key=value Spark conf for the script or jar given (repeat for more)."
)
EGRESS_OPTION = typer.Option(
    False,
    "--egress",
    help="Give the pod network a way out through this machine, for jobs that read a service "
    "outside the pods (a database, an object store).",
)
RUNTIME_PROBE_OPTION = typer.Option(
    True,
    "--runtime-probe/--no-runtime-probe",
    help="Trace one short container on each engine of the newest node nothing was recorded "
    "on and add what its OCI runtime calls after the filter (runc 1.3's openat2, crun's "
    "close_range) to every role's profile, so the profiles start on today's runtimes too "
    "(eBPF tracer only).",
)
MANIFEST_OPERATOR_OPTION = typer.Option(
    None,
    "--operator-version",
    help="Spark Operator release whose pods a SparkApplication YAML given becomes "
    "[default: the newest modelled].",
)


def resolve_jobs(
    names: Sequence[str] | None,
    *,
    arguments: Sequence[str] | None,
    main_class: str | None,
    jars: str | None,
    py_files: str | None,
    files: str | None,
    conf: Sequence[str] | None,
    image: str | None,
    executors: int | None,
    operator_version: str | None,
    egress: bool,
) -> Jobs:
    """The workloads named on the command line (catalogue names, scripts, jars and
    SparkApplication YAML files) with their own submissions; their notes are printed."""
    from profiler.k8s.apps import ScriptSubmission, parse_conf
    from profiler.k8s.apps import resolve_jobs as resolve
    from profiler.k8s.operator import operator_for

    script = ScriptSubmission(
        arguments=tuple(arguments or ()),
        main_class=main_class,
        jars=_paths(jars),
        py_files=_paths(py_files),
        files=_paths(files),
        conf=parse_conf(conf or ()),
    )
    jobs = resolve(
        list(names or ()),
        script=script,
        image=image,
        max_executors=executors,
        operator=operator_for(operator_version),
        egress=egress,
    )
    for line in jobs.notes:
        note(f"note: {line}")
    return jobs


def _paths(text: str | None) -> tuple[Path, ...]:
    return tuple(Path(p.strip()) for p in (text or "").split(",") if p.strip())


RUNTIMES_OPTION = typer.Option(
    None,
    "--runtime",
    help="The container engine; check, bench and profile runtime-default take several, "
    "comma-separated, and show them side by side [default: docker on the host, podman on "
    "a node].",
    show_default=False,
    **several(Engine, Engines, "runtime"),
)
OCI_RUNTIMES_OPTION = typer.Option(
    None,
    "--oci-runtime",
    help="The OCI runtime; check, bench, record and profile runtime-default take both, "
    "comma-separated, and run each engine under each [default: the engine's own: runc "
    "for docker and containerd, crun for podman].",
    show_default=False,
    **several(OciRuntime, OciRuntimes, "OCI runtime"),
)


def timeout_option(seconds: float) -> Any:
    return typer.Option(seconds, "--timeout", min=1, help="Seconds before a run is killed.")


def run_dir_option(command: str, what: str = "Run logs") -> Any:
    return typer.Option(None, "--run-dir", help=f"{what} go here [default: runs/{command}-<time>].")


def default_modes(modes: Sequence[SecurityMode] | None, profiles: bool) -> tuple[SecurityMode, ...]:
    """``--modes`` as given, else unconfined and runtime-default, and localhost with a
    profile to run it with."""
    if modes:
        return tuple(modes)
    chosen = (SecurityMode.UNCONFINED, SecurityMode.RUNTIME_DEFAULT)
    return (*chosen, SecurityMode.LOCALHOST) if profiles else chosen


NODES_OPTION = typer.Option(
    None,
    "--node",
    help="Where the engines run: host (this machine's own), or a node of a newer Debian "
    "release with its own Podman, containerd, runc and crun (`spark-seccomp node list`); "
    "several comma-separated for a column per node x engine x OCI runtime [default: host].",
)
NODE_OPTION = typer.Option(
    None,
    "--node",
    help="Where the engine runs: host (this machine's own), or a node of a newer Debian "
    "release (`spark-seccomp node list`) [default: host].",
)


def one_engine(
    runtime: Engines | None, oci_runtime: OciRuntimes | None, node: str | None = None
) -> EngineChoice:
    """The one engine a command that runs on one engine is given."""
    from profiler.runtime.select import parse_engine_choices

    choices = parse_engine_choices(runtime, oci_runtime, node)
    if len(choices) != 1:
        raise UsageError(
            "this command runs on one engine and OCI runtime",
            "pass one --node, one --runtime and at most one --oci-runtime "
            "(check and bench take several)",
        )
    return choices[0]


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
