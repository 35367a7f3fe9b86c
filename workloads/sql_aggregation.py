"""SQL aggregation with a shuffle and a join: groupBy, sum/avg/count over 400k rows."""

import time

from _common import checksum, expect, report, session

started = time.time()
spark = session("sql_aggregation")
facts = spark.range(400_000).selectExpr("id", "id % 97 AS key", "(id * 7) % 1000 AS amount")
names = spark.range(97).selectExpr("id AS key", "concat('k', id) AS name")
facts.createOrReplaceTempView("facts")
names.createOrReplaceTempView("names")
rows = spark.sql(
    """
    SELECT n.name, f.key, count(*) AS n, sum(f.amount) AS total, avg(f.amount) AS mean
    FROM facts f JOIN names n ON f.key = n.key
    GROUP BY n.name, f.key
    """
).collect()
expect(len(rows) == 97, f"expected 97 groups, got {len(rows)}")
expected_total = sum((i * 7) % 1000 for i in range(400_000))
expect(sum(r["total"] for r in rows) == expected_total, "sum of totals differs from Python")
expect(sum(r["n"] for r in rows) == 400_000, "row count lost in shuffle")
report("sql_aggregation", checksum(rows), started)
spark.stop()
