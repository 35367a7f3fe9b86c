"""Before a long run: is the application the driver is given really inside the image?

A ``local://`` application file lies in the image, and a manifest may name one the image
does not have (another image's examples jar, a typo). A pod run would start a network, a
master, the driver and the executors, and wait for them, before the driver fails. Here one
short container looks for the file first, and only when it is missing does a second one run
the driver's own command, ``spark-submit --class CLASS APP ARGS`` with a local master, so
the failure is the driver pod's own words and exit code (a missing jar:
"Error: Failed to load class ...", exit 101; a missing Python file: "can't open file",
exit 2), in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

from profiler.runtime.error_line import error_line
from profiler.runtime.interface import ContainerEngine, RunSpec, SecurityMode
from profiler.runtime.pod import PYTHON_RUNNER, SPARK_HOME

LOCAL_SCHEME = "local://"
_LOOK_FOR = 'for f in "$@"; do [ -e "$f" ] || echo "$f"; done'


@dataclass(frozen=True)
class MissingApplication:
    """The application file the image lacks, and what the driver says about it."""

    path: str  # inside the image
    exit_code: int | None  # None: the driver's command timed out
    error_line: str
    stderr: str

    def describe(self) -> str:
        code = "timed out" if self.exit_code is None else f"exit {self.exit_code}"
        return f"{code}: {self.error_line} ({self.path} is not in the image)"


def application_in_image(spec: RunSpec) -> str | None:
    """The path inside the image of the file the driver runs, when it is a ``local://`` one
    of the image's own (not a file of this machine mounted into the pods)."""
    application = spec.application or spec.workload.application
    if application is None or not application.startswith(LOCAL_SCHEME):
        return None
    return "/" + application[len(LOCAL_SCHEME) :].lstrip("/")


def find_missing_application(engine: ContainerEngine, spec: RunSpec) -> MissingApplication | None:
    """None when the application is in the image (or not the image's to hold); else the
    driver's failure, from its own command run alone."""
    path = application_in_image(spec)
    if path is None:
        return None
    image = spec.settings_for(spec.roles[0]).image
    code, stdout, stderr = engine.run_command(
        image, ("/bin/sh", "-c", _LOOK_FOR, "sh", path), SecurityMode.UNCONFINED, timeout_seconds=60
    )
    if path not in stdout.split("\n"):
        return None  # there, or the look failed: the run itself will tell
    main_class = spec.main_class or spec.workload.main_class or PYTHON_RUNNER
    submit = [f"{SPARK_HOME}/bin/spark-submit", "--master", "local[1]"]
    if main_class != PYTHON_RUNNER:
        submit += ["--class", main_class]
    submit += [f"{LOCAL_SCHEME}{path}", *spec.app_args]
    code, stdout, stderr = engine.run_command(
        image, submit, SecurityMode.UNCONFINED, timeout_seconds=120
    )
    return MissingApplication(path, code, error_line(stderr, stdout), stderr)
