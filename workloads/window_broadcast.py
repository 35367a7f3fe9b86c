"""Window functions and a broadcast join: ranking within partitions and a map-side join."""

import time

from _common import checksum, expect, report, session
from pyspark.sql import Window
from pyspark.sql import functions as F

started = time.time()
spark = session("window_broadcast")
sales = spark.range(200_000).selectExpr("id", "id % 50 AS store", "(id * 13) % 997 AS amount")
stores = spark.range(50).selectExpr("id AS store", "concat('store-', id) AS label")
joined = sales.join(F.broadcast(stores), "store")
ranked = joined.withColumn(
    "rank", F.row_number().over(Window.partitionBy("store").orderBy(F.desc("amount"), "id"))
)
top = ranked.where("rank <= 3").select("label", "rank", "amount").collect()
expect(len(top) == 150, f"expected 3 rows for each of 50 stores, got {len(top)}")
plan = joined._jdf.queryExecution().executedPlan().toString()
expect("BroadcastHashJoin" in plan, "the join did not broadcast")
report("window_broadcast", checksum(top), started)
spark.stop()
