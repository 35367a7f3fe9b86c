"""A local-cluster job: a master, two worker-launched executor JVMs, and a shuffle between them."""

import time
from operator import add

from _common import checksum, expect, report, session

started = time.time()
# A job that sets its own master runs wholly where it is submitted: in a pod run, the
# driver container starts the local-cluster workers, which write into $SPARK_HOME/work.
spark = session(
    "local_cluster",
    master="local-cluster[2,1,768]",
    **{"spark.executor.memory": "768m", "spark.driver.memory": "512m"},
)
sc = spark.sparkContext
counts = sc.parallelize(range(100_000), 4).map(lambda x: (x % 7, 1)).reduceByKey(add).collect()
executors = sc._jsc.sc().getExecutorMemoryStatus().size() - 1  # minus the driver
expect(executors == 2, f"expected 2 executor JVMs, found {executors}")
frame = spark.range(100_000).selectExpr("id % 11 AS k").groupBy("k").count().collect()
expect(sum(r["count"] for r in frame) == 100_000, "DataFrame shuffle across executors lost rows")
expect(sum(c for _, c in counts) == 100_000, "RDD shuffle across executors lost rows")
report("local_cluster", checksum(counts + [tuple(r) for r in frame]), started)
spark.stop()
