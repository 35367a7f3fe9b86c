"""The workload catalogue and user scripts: resolving names, and reading a job's result line.

A workload is a PySpark script or a JVM job. Catalogue workloads live in ``workloads/`` and
check their own result: PySpark scripts at its top, Java jobs under ``workloads/jvm/``, which
the image build compiles against the image's own Spark jars into a jar inside the image
(``profiler.jvm_build``). Any user script works too. A job reports through one JSON line on
stdout, ``{"workload": ..., "checksum": ..., "job_seconds": ...}``; its exit code says
whether it ran.
"""

from __future__ import annotations

import ast
import enum
import json
import re
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import UsageError
from profiler.paths import data_dir

# The JVM catalogue: sources under workloads/jvm, one job per public class of this package
# named Java*, compiled into this jar of the image.
JVM_SOURCES = "jvm"
JVM_JOBS_PACKAGE = "sparkseccomp.workloads"
JVM_JOBS_JAR = "/opt/spark-seccomp/jars/spark-seccomp-workloads.jar"
# The Spark Operator's first example (examples/spark-pi.yaml) runs this class from this jar.
EXAMPLES_JAR = "/opt/spark/examples/jars/spark-examples.jar"
EXAMPLES_PACKAGE = "org.apache.spark.examples"


class WorkloadKind(str, enum.Enum):
    """What the driver runs: a Python file through PythonRunner, or a JVM main class."""

    PYTHON = "python"
    JAVA = "java"


@dataclass(frozen=True)
class Workload:
    name: str
    path: Path  # the script (or, for a JVM job, its source or jar) on the host
    description: str
    in_catalogue: bool
    kind: WorkloadKind = WorkloadKind.PYTHON
    # A JVM job's class, given to spark-submit as --class (None for Python).
    main_class: str | None = None
    # Where the driver finds the application when the image holds it ("local:///...");
    # None: the file at ``path``, mounted into the containers.
    application: str | None = None

    @property
    def is_jvm(self) -> bool:
        return self.kind is not WorkloadKind.PYTHON


@dataclass(frozen=True)
class WorkloadResult:
    """The machine-readable line a job printed."""

    workload: str
    checksum: str | None
    job_seconds: float | None


def catalogue_dir() -> Path:
    return data_dir("workloads")


def catalogue() -> list[Workload]:
    """Every catalogue workload, PySpark and JVM, sorted by name."""
    found = []
    for path in sorted(catalogue_dir().glob("*.py")):
        if path.name.startswith("_"):
            continue
        found.append(Workload(path.stem, path, _describe(path), True))
    found.extend(jvm_catalogue())
    return sorted(found, key=lambda w: w.name)


def jvm_sources_dir() -> Path:
    return catalogue_dir() / JVM_SOURCES


def jvm_catalogue() -> list[Workload]:
    """The Java jobs: ``JavaDatasetJoin`` is ``java_dataset_join``, run from the image's jar."""
    package_dir = jvm_sources_dir().joinpath(*JVM_JOBS_PACKAGE.split("."))
    jobs = []
    for path in sorted(package_dir.glob("Java*.java")):
        jobs.append(
            Workload(
                name=_snake_case(path.stem),
                path=path,
                description=_describe_java(path),
                in_catalogue=True,
                kind=WorkloadKind.JAVA,
                main_class=f"{JVM_JOBS_PACKAGE}.{path.stem}",
                application=f"local://{JVM_JOBS_JAR}",
            )
        )
    return jobs


def resolve(name_or_path: str, main_class: str | None = None) -> Workload:
    """A catalogue name, or a path to the user's own PySpark script or application jar.

    A jar runs ``main_class``, else the Main-Class its manifest names (as spark-submit
    reads it from a local jar)."""
    by_name = {w.name: w for w in catalogue()}
    if name_or_path in by_name:
        return by_name[name_or_path]
    candidate = Path(name_or_path)
    if candidate.suffix in (".py", ".jar") or "/" in name_or_path:
        if not candidate.is_file():
            raise UsageError(
                f"script {name_or_path} does not exist",
                "give a path to a PySpark .py file, an application .jar or a catalogue name",
            )
        try:
            candidate.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read script {name_or_path}: {exc.strerror}") from exc
        resolved = candidate.resolve()
        if resolved.suffix == ".jar":
            return jar_workload(resolved, main_class)
        return Workload(resolved.stem, resolved, _describe(resolved), False)
    raise UsageError(
        f"unknown workload {name_or_path!r}",
        "run `spark-seccomp workloads list` for the catalogue, or give a path to a .py script",
    )


def jar_workload(jar: Path, main_class: str | None) -> Workload:
    """A JVM application in a jar on this machine, mounted into the pods when run."""
    chosen = main_class or jar_main_class(jar)
    if not chosen:
        # spark-submit's own words for a jar without --class or Main-Class.
        raise UsageError(
            f"No main class set in JAR {jar}; please specify one with --class",
            "name the class to run (a manifest's mainClass)",
        )
    return Workload(
        jar.stem, jar, f"{chosen} from {jar.name}", False, WorkloadKind.JAVA, main_class=chosen
    )


def jar_main_class(jar: Path) -> str | None:
    """The Main-Class a jar's manifest names, or None."""
    import zipfile

    try:
        with zipfile.ZipFile(jar) as archive:
            manifest = archive.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        if isinstance(exc, KeyError):
            return None
        raise UsageError(f"{jar} is not a readable jar: {exc}") from exc
    for line in manifest.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "main-class" and value.strip():
            return value.strip()
    return None


def resolve_all(names: list[str]) -> list[Workload]:
    """Names given on the command line; none means the whole catalogue."""
    if not names:
        return catalogue()
    workloads = [resolve(n) for n in names]
    seen: set[str] = set()
    for w in workloads:
        if w.name in seen:
            raise UsageError(f"workload {w.name!r} given twice", "name each workload once")
        seen.add(w.name)
    return workloads


def parse_result_line(stdout: str) -> WorkloadResult | None:
    """The last JSON object line with a ``workload`` key, if the job printed one."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not (line.startswith("{") and line.endswith("}")):
            continue
        try:
            data = json.loads(line)
        except ValueError:
            continue
        if isinstance(data, dict) and "workload" in data:
            seconds = data.get("job_seconds")
            return WorkloadResult(
                workload=str(data["workload"]),
                checksum=str(data["checksum"]) if data.get("checksum") is not None else None,
                job_seconds=float(seconds) if isinstance(seconds, int | float) else None,
            )
    return None


def _snake_case(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name).lower()


def _describe_java(path: Path) -> str:
    """The first sentence of the Javadoc comment before the class."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return ""
    match = re.search(r"/\*\*(.*?)\*/\s*public\s+(?:final\s+)?class", text, re.DOTALL)
    if match is None:
        return ""
    lines = [line.strip().lstrip("*").strip() for line in match[1].splitlines()]
    first_paragraph = " ".join(lines).strip().split("<p>")[0]
    return " ".join(first_paragraph.split())


def _describe(path: Path) -> str:
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8")))
    except (SyntaxError, OSError, UnicodeDecodeError):
        return ""
    return doc.strip().splitlines()[0] if doc else ""
