"""Compiling the JVM catalogue and the SparkPi example for an image, on the host's JDK.

The image holds a JRE only, and neither Scala nor Maven is needed: the Java sources under
``workloads/jvm`` are compiled with the host's ``javac`` (``--release 17``, which Java 17 and
21 images both run) against the very Spark jars the image gets, taken from the pyspark wheel
the image build installs. Two jars come out, each with sorted entries and fixed timestamps,
so the same sources and wheel give the same bytes:

- ``spark-seccomp-workloads.jar``: the Java catalogue jobs (``sparkseccomp.workloads``);
- ``spark-examples.jar``: ``org.apache.spark.examples.SparkPi``, where the Spark Operator's
  first example (``examples/spark-pi.yaml``) expects Spark's own examples jar.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from profiler import proc
from profiler.errors import EnvironmentProblem
from profiler.vocabulary import Note, no_note
from profiler.workloads import EXAMPLES_PACKAGE, JVM_JOBS_PACKAGE, jvm_sources_dir

WORKLOADS_JAR_NAME = "spark-seccomp-workloads.jar"
EXAMPLES_JAR_NAME = "spark-examples.jar"
JAVA_RELEASE = "17"  # the oldest Java the images run
# Zip's earliest date: entries carry it instead of the build time.
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)
_MANIFEST = "Manifest-Version: 1.0\r\nCreated-By: spark-seccomp\r\n\r\n"
_JDK_HINT = (
    "install a JDK on this machine: apt-get install openjdk-17-jdk-headless "
    "(scripts/bootstrap.sh does)"
)


@dataclass(frozen=True)
class JvmJars:
    workloads: Path
    examples: Path


def source_files() -> list[Path]:
    """Every Java source, in a fixed order."""
    root = jvm_sources_dir()
    return sorted(root.rglob("*.java"), key=lambda p: p.relative_to(root).as_posix())


def sources_digest() -> bytes:
    """What the image's jars are made from, for the image recipe's digest."""
    root = jvm_sources_dir()
    digest = hashlib.sha256()
    for path in source_files():
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.digest()


def spark_jars_from_wheel(wheel: Path, target: Path) -> Path:
    """The pyspark wheel's ``pyspark/jars/*.jar`` (the image's Spark), unpacked into ``target``."""
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("pyspark/jars/") and name.endswith(".jar"):
                (target / Path(name).name).write_bytes(archive.read(name))
    if not any(target.glob("spark-core_*.jar")):
        raise EnvironmentProblem(
            f"{wheel.name} holds no Spark jars (pyspark/jars/spark-core_*.jar)",
            "remove the cached wheels so the image build downloads them again",
        )
    return target


def scala_binary_version(spark_jars: Path) -> str:
    """``2.12`` or ``2.13``, read from the name of the Spark core jar."""
    for jar in sorted(spark_jars.glob("spark-core_*.jar")):
        match = re.match(r"spark-core_(\d+\.\d+)-", jar.name)
        if match:
            return match[1]
    raise EnvironmentProblem(f"no spark-core_<scala>-<version>.jar in {spark_jars}")


def compile_jars(wheel: Path, output: Path, progress: Note = no_note) -> tuple[JvmJars, str]:
    """Compile every source against the wheel's Spark jars; returns the jars and the Scala
    binary version of that Spark (for the versioned name of the examples jar)."""
    javac = proc.require_program("javac", _JDK_HINT)
    sources = source_files()
    if not sources:
        raise EnvironmentProblem(f"no Java sources under {jvm_sources_dir()}")
    output.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="spark-seccomp-javac-") as scratch:
        work = Path(scratch)
        spark_jars = spark_jars_from_wheel(wheel, work / "spark-jars")
        scala = scala_binary_version(spark_jars)
        classes = work / "classes"
        classes.mkdir()
        progress(f"compiling {len(sources)} Java sources against {wheel.name}'s Spark jars")
        proc.run(
            [
                javac,
                "--release",
                JAVA_RELEASE,
                "-encoding",
                "UTF-8",
                # Class path jars name others in their manifests; those are no concern here.
                "-Xlint:all,-path,-serial",
                "-Werror",
                "-cp",
                f"{spark_jars}/*",
                "-d",
                str(classes),
                *(str(s) for s in sources),
            ],
            hint=_JDK_HINT,
        )
        examples_prefix = EXAMPLES_PACKAGE.replace(".", "/") + "/"
        jobs_prefix = JVM_JOBS_PACKAGE.replace(".", "/") + "/"
        jars = JvmJars(output / WORKLOADS_JAR_NAME, output / EXAMPLES_JAR_NAME)
        write_jar(jars.workloads, classes, lambda name: name.startswith(jobs_prefix))
        write_jar(jars.examples, classes, lambda name: name.startswith(examples_prefix))
    return jars, scala


def write_jar(jar: Path, classes: Path, wanted: Callable[[str], bool]) -> None:
    """A jar of the class files ``wanted`` selects: sorted entries, fixed times, a manifest."""
    names = sorted(
        p.relative_to(classes).as_posix()
        for p in classes.rglob("*.class")
        if wanted(p.relative_to(classes).as_posix())
    )
    if not names:
        raise EnvironmentProblem(f"no classes for {jar.name}")
    with zipfile.ZipFile(jar, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        _add(archive, "META-INF/MANIFEST.MF", _MANIFEST.encode())
        for name in names:
            _add(archive, name, (classes / name).read_bytes())


def _add(archive: zipfile.ZipFile, name: str, data: bytes) -> None:
    info = zipfile.ZipInfo(name, date_time=_FIXED_TIME)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    archive.writestr(info, data)
