"""Estimates pi by sampling points in the unit square, the way the Spark Operator's Python
example does: `mainApplicationFile: local:///opt/spark/examples/src/main/python/pi.py`.

Written for spark-seccomp's image (pyspark from PyPI ships no pi.py). Usage: pi.py [SLICES]
"""

import random
import sys
from operator import add

from pyspark.sql import SparkSession

SAMPLES_PER_SLICE = 100_000


def inside(_: int) -> int:
    x, y = random.random() * 2 - 1, random.random() * 2 - 1
    return 1 if x * x + y * y <= 1 else 0


if __name__ == "__main__":
    slices = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    if slices < 1:
        sys.exit(f"pi.py: SLICES must be a positive number, not {slices}")
    spark = SparkSession.builder.appName("PythonPi").getOrCreate()
    total = SAMPLES_PER_SLICE * slices
    hits = spark.sparkContext.parallelize(range(total), slices).map(inside).reduce(add)
    print(f"Pi is roughly {4.0 * hits / total:f}")
    spark.stop()
