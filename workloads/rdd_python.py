"""Python RDD operations: lambdas run in pyspark.daemon worker processes, reduceByKey shuffles."""

import time
from operator import add

from _common import checksum, expect, report, session

started = time.time()
spark = session("rdd_python")
sc = spark.sparkContext
pairs = sc.parallelize(range(200_000), 8).map(lambda x: (x % 13, x * x))
sums = pairs.reduceByKey(add).collect()
words = sc.parallelize(["spark seccomp", "seccomp profile", "spark job"] * 1000, 4)
counts = words.flatMap(str.split).map(lambda w: (w, 1)).reduceByKey(add).collect()
expected = {}
for x in range(200_000):
    expected[x % 13] = expected.get(x % 13, 0) + x * x
expect(dict(sums) == expected, "reduceByKey result differs from Python")
expect(dict(counts) == {"spark": 2000, "seccomp": 2000, "profile": 1000, "job": 1000}, "word count")
report("rdd_python", checksum(sums + counts), started)
spark.stop()
