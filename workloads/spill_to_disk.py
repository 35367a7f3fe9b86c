"""Spill to disk under a small memory budget: a large sort and aggregation that cannot fit."""

import time

from _common import checksum, expect, report, session

started = time.time()
spark = session(
    "spill_to_disk",
    **{
        "spark.driver.memory": "512m",
        "spark.memory.fraction": "0.1",
        # Spill after this many records whatever the memory estimate, so it always spills.
        "spark.shuffle.spill.numElementsForceSpillThreshold": "50000",
        "spark.sql.shuffle.partitions": "2",
    },
)
df = spark.range(1_500_000).selectExpr("id", "sha2(CAST(id AS STRING), 256) AS digest")
ordered = df.orderBy("digest")
head = [r.id for r in ordered.limit(5).collect()]
grouped = df.groupBy((df.id % 1000).alias("k")).count().collect()
expect(all(r["count"] == 1500 for r in grouped), "aggregation after spill lost rows")
expect(ordered.count() == 1_500_000, "sort after spill lost rows")
report("spill_to_disk", checksum(head + [len(grouped)]), started)
spark.stop()
