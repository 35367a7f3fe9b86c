"""Memory and CPU of a Spark pod's container, computed as Spark on Kubernetes computes them.

From apache/spark, resource-managers/kubernetes/core (features/BasicDriverFeatureStep.scala,
features/BasicExecutorFeatureStep.scala, Constants.scala) and core
(internal/config/package.scala, resource/ResourceProfile.scala
``getResourcesForClusterManager``):

- container memory = heap + overhead (+ ``spark.executor.pyspark.memory`` for Python
  executors, + off-heap when ``spark.memory.offHeap.enabled``); the driver adds neither.
- overhead = ``spark.{driver,executor}.memoryOverhead`` when set, else
  ``max((factor * heap).toInt, minimum)``; minimum 384 MiB (``MEMORY_OVERHEAD_MIN_MIB``),
  configurable from Spark 4.0.0 with ``spark.{driver,executor}.minMemoryOverhead``.
- factor: ``spark.kubernetes.memoryOverheadFactor`` (0.1), except for non-JVM (Python, R)
  applications where it defaults to 0.4 (``NON_JVM_MEMORY_OVERHEAD_FACTOR``); from Spark
  3.3.0 ``spark.{driver,executor}.memoryOverheadFactor`` win when set. The 0.4 default for
  Python is still there in 3.3+ and 4.x (the config docs: "defaults to 0.10 except for
  Kubernetes non-JVM jobs, which defaults to 0.40"). The driver hands its default factor to
  the executors, so they use 0.4 for Python too.
- CPU: request ``spark.kubernetes.{role}.request.cores`` or the cores; the limit only from
  ``spark.kubernetes.{role}.limit.cores`` (the operator's ``coreLimit``).

Sizes follow Spark's byte strings (JavaUtils.byteStringAs: b, k, m, g, t, p with an optional
"b", 1024-based, no fractions) and Kubernetes quantities (Ki..Ei, k..E, plain numbers).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from profiler.k8s.operator import Version

MIB = 1024 * 1024
MEMORY_OVERHEAD_MIN_MIB = 384
NON_JVM_FACTOR = 0.4
JVM_FACTOR = 0.1
SPARK_3_3 = Version(3, 3)
SPARK_4 = Version(4)

_SPARK_SIZE = re.compile(r"^([0-9]+)([a-z]+)?$")
_SPARK_UNITS = {
    "b": 1,
    "k": 1024,
    "kb": 1024,
    "m": MIB,
    "mb": MIB,
    "g": 1024**3,
    "gb": 1024**3,
    "t": 1024**4,
    "tb": 1024**4,
    "p": 1024**5,
    "pb": 1024**5,
}
_K8S_QUANTITY = re.compile(r"^([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)([A-Za-z]*)$")
_K8S_SUFFIXES = {
    "": 1,
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "Pi": 1024**5,
    "Ei": 1024**6,
    "k": 10**3,
    "M": 10**6,
    "G": 10**9,
    "T": 10**12,
    "P": 10**15,
    "E": 10**18,
}


class SizeError(ValueError):
    """A size or quantity that Spark or Kubernetes would not accept; ``expected`` says what."""

    def __init__(self, value: str, expected: str) -> None:
        super().__init__(f"{value!r} is not {expected}")
        self.value, self.expected = value, expected


def spark_size_bytes(text: str, default_unit: str = "m") -> int:
    """A Spark byte string in bytes; a bare number is in ``default_unit``."""
    match = _SPARK_SIZE.match(text.strip().lower())
    unit = (match.group(2) or default_unit) if match else None
    if match is None or unit not in _SPARK_UNITS:
        raise SizeError(text, "a Spark size such as 512m, 2g or 1024 (no fractions)")
    return int(match.group(1)) * _SPARK_UNITS[unit]


def spark_size_mib(text: str, default_unit: str = "m") -> int:
    """As Spark's ByteUnit conversion to MiB: whole MiB, rounded down."""
    return spark_size_bytes(text, default_unit) // MIB


def k8s_quantity(text: object) -> Decimal:
    """A Kubernetes quantity (``1Gi``, ``500m`` of CPU, ``1e3``, a plain number) as a number."""
    if isinstance(text, bool) or not isinstance(text, int | float | str):
        raise SizeError(str(text), "a quantity such as 1Gi, 500m or 2")
    raw = str(text).strip()
    match = _K8S_QUANTITY.match(raw)
    if match is None:
        raise SizeError(raw, "a quantity such as 1Gi, 500m or 2")
    number, suffix = match.groups()
    try:
        value = Decimal(number)
    except InvalidOperation:
        raise SizeError(raw, "a quantity such as 1Gi, 500m or 2") from None
    if suffix == "m":
        return value / 1000
    if suffix not in _K8S_SUFFIXES:
        raise SizeError(raw, "a quantity such as 1Gi, 500m or 2")
    return value * _K8S_SUFFIXES[suffix]


def k8s_bytes(text: object) -> int:
    value = k8s_quantity(text)
    if value < 0:
        raise SizeError(str(text), "a size of zero or more")
    return int(value.to_integral_value(rounding="ROUND_CEILING"))


def memory_limit_bytes(memory_limit: str) -> int:
    """The operator's ``memoryLimit`` (2.2.0+): a Java size turned into a Kubernetes one
    (pkg/util ConvertJavaMemoryStringToK8sMemoryString: 512m -> 512Mi), then parsed."""
    lowered = memory_limit.strip().lower()
    for unit, k8s_unit in (("kb", "Ki"), ("mb", "Mi"), ("gb", "Gi"), ("tb", "Ti"), ("pb", "Pi")):
        if lowered.endswith(unit):
            return k8s_bytes(memory_limit.strip()[: -len(unit)] + k8s_unit)
    for unit, k8s_unit in (("k", "Ki"), ("m", "Mi"), ("g", "Gi"), ("t", "Ti"), ("p", "Pi")):
        if lowered.endswith(unit) and not lowered.endswith("i"):
            return k8s_bytes(memory_limit.strip()[:-1] + k8s_unit)
    return k8s_bytes(memory_limit)


@dataclass(frozen=True)
class Memory:
    """A Spark container's memory, in MiB, and how it was arrived at."""

    heap_mib: int
    overhead_mib: int
    overhead_factor: float | None  # None when the overhead was set explicitly
    minimum_overhead_mib: int
    pyspark_mib: int = 0
    offheap_mib: int = 0
    limit_override_bytes: int | None = None  # the operator's memoryLimit, when set

    @property
    def spark_limit_mib(self) -> int:
        """The limit (and request) Spark puts on the container."""
        return self.heap_mib + self.overhead_mib + self.pyspark_mib + self.offheap_mib

    @property
    def limit_bytes(self) -> int:
        """The container's memory limit once the operator's webhook is done."""
        if self.limit_override_bytes is not None:
            return self.limit_override_bytes
        return self.spark_limit_mib * MIB

    def explain(self) -> str:
        if self.overhead_factor is None:
            overhead = f"{self.overhead_mib} MiB overhead (set)"
        else:
            overhead = (
                f"max({self.overhead_factor:g} x {self.heap_mib}, {self.minimum_overhead_mib}) "
                f"= {self.overhead_mib} MiB overhead"
            )
        parts = [f"{self.heap_mib} MiB heap", overhead]
        if self.pyspark_mib:
            parts.append(f"{self.pyspark_mib} MiB pyspark")
        if self.offheap_mib:
            parts.append(f"{self.offheap_mib} MiB off-heap")
        text = " + ".join(parts) + f" = {self.spark_limit_mib} MiB"
        if self.limit_override_bytes is not None:
            text += f"; memoryLimit replaces it with {self.limit_override_bytes // MIB} MiB"
        return text


def _conf_mib(conf: dict[str, str], key: str, default: str | None = None) -> int | None:
    raw = conf.get(key, default)
    return None if raw is None else spark_size_mib(raw)


def _factor(conf: dict[str, str], key: str) -> float | None:
    raw = conf.get(key)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise SizeError(raw, f"a number for {key}") from None
    if not value > 0:
        raise SizeError(raw, f"a number greater than 0 for {key}")
    return value


def container_memory(
    role: str,
    conf: dict[str, str],
    spark_version: Version | None,
    non_jvm: bool,
    memory_limit: str | None = None,
) -> Memory:
    """``role``'s container memory from the final Spark conf (see the module doc).

    Raises ``SizeError`` for a size Spark would refuse; the key is in the message.
    """
    version = spark_version or Version(3, 5)
    heap = _conf_mib(conf, f"spark.{role}.memory", "1g")
    assert heap is not None
    explicit = _conf_mib(conf, f"spark.{role}.memoryOverhead")
    minimum = MEMORY_OVERHEAD_MIN_MIB
    if version >= SPARK_4:
        minimum = _conf_mib(conf, f"spark.{role}.minMemoryOverhead", "384m") or 0
    k8s_factor = _factor(conf, "spark.kubernetes.memoryOverheadFactor")
    default_factor = (
        k8s_factor if k8s_factor is not None else (NON_JVM_FACTOR if non_jvm else JVM_FACTOR)
    )
    factor = default_factor
    if version >= SPARK_3_3:
        role_factor = _factor(conf, f"spark.{role}.memoryOverheadFactor")
        if role_factor is not None:
            factor = role_factor
    overhead = explicit if explicit is not None else max(int(factor * heap), minimum)
    pyspark = 0
    offheap = 0
    if role == "executor":
        if non_jvm and conf.get("spark.executor.pyspark.memory") is not None:
            pyspark = _conf_mib(conf, "spark.executor.pyspark.memory") or 0
        if conf.get("spark.memory.offHeap.enabled", "false").strip().lower() == "true":
            offheap = spark_size_bytes(conf.get("spark.memory.offHeap.size", "0"), "b") // MIB
    limit = memory_limit_bytes(memory_limit) if memory_limit is not None else None
    return Memory(
        heap_mib=heap,
        overhead_mib=overhead,
        overhead_factor=None if explicit is not None else factor,
        minimum_overhead_mib=minimum,
        pyspark_mib=pyspark,
        offheap_mib=offheap,
        limit_override_bytes=limit,
    )


@dataclass(frozen=True)
class Cpu:
    cores: int  # spark.{driver,executor}.cores: task slots (executor) or driver threads
    request: str  # the container's CPU request, as Spark writes it
    limit: str | None  # the container's CPU limit (coreLimit), None for none

    @property
    def limit_cores(self) -> float | None:
        return float(k8s_quantity(self.limit)) if self.limit is not None else None


def container_cpu(role: str, conf: dict[str, str]) -> Cpu:
    raw = conf.get(f"spark.{role}.cores", "1")
    try:
        cores = int(raw)
    except ValueError:
        raise SizeError(raw, f"a whole number of cores for spark.{role}.cores") from None
    if cores < 1:
        raise SizeError(raw, f"at least 1 for spark.{role}.cores")
    request = conf.get(f"spark.kubernetes.{role}.request.cores", str(cores))
    limit = conf.get(f"spark.kubernetes.{role}.limit.cores")
    for value in (request, limit):
        if value is not None:
            k8s_quantity(value)  # raises for what the API server would refuse
    return Cpu(cores, request, limit)
