"""Spark byte strings, Kubernetes quantities and the operator's memoryLimit conversion."""

from __future__ import annotations

import pytest

from profiler.k8s.operator import Version
from profiler.k8s.resources import (
    MIB,
    SizeError,
    container_cpu,
    container_memory,
    k8s_bytes,
    memory_limit_bytes,
    spark_size_mib,
)


@pytest.mark.parametrize(
    ("text", "mib"), [("512m", 512), ("1g", 1024), ("2048", 2048), ("1500k", 1), ("1GB", 1024)]
)
def test_spark_sizes(text, mib):
    assert spark_size_mib(text) == mib


@pytest.mark.parametrize("text", ["1.5g", "512 MB", "", "-1g", "12q"])
def test_spark_refuses_what_byteStringAs_refuses(text):
    with pytest.raises(SizeError):
        spark_size_mib(text)


@pytest.mark.parametrize(
    ("text", "size"),
    [("100Mi", 100 * MIB), ("1Gi", 1024 * MIB), ("1G", 10**9), ("1e3", 1000), (512, 512)],
)
def test_k8s_quantities(text, size):
    assert k8s_bytes(text) == size


@pytest.mark.parametrize(
    ("text", "size"), [("512m", 512 * MIB), ("2g", 2048 * MIB), ("1Gi", 1024 * MIB)]
)
def test_memory_limit_is_java_turned_into_kubernetes(text, size):
    assert memory_limit_bytes(text) == size


def test_python_executor_adds_pyspark_and_offheap():
    conf = {
        "spark.executor.memory": "2g",
        "spark.executor.pyspark.memory": "512m",
        "spark.memory.offHeap.enabled": "true",
        "spark.memory.offHeap.size": str(256 * MIB),
    }
    memory = container_memory("executor", conf, Version(3, 5, 7), non_jvm=True)
    assert (memory.overhead_mib, memory.pyspark_mib, memory.offheap_mib) == (819, 512, 256)
    assert memory.spark_limit_mib == 2048 + 819 + 512 + 256
    jvm = container_memory("executor", conf, Version(3, 5, 7), non_jvm=False)
    assert jvm.pyspark_mib == 0 and jvm.overhead_mib == 384


def test_cpu_request_and_limit():
    cpu = container_cpu(
        "driver", {"spark.driver.cores": "2", "spark.kubernetes.driver.limit.cores": "1500m"}
    )
    assert (cpu.cores, cpu.request, cpu.limit_cores) == (2, "2", 1.5)
    with pytest.raises(SizeError):
        container_cpu("driver", {"spark.driver.cores": "two"})
