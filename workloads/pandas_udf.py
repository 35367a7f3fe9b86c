"""pandas and Arrow UDFs: a vectorised scalar UDF and a grouped applyInPandas over Arrow batches."""

import time

import pandas as pd
from _common import checksum, expect, report, session
from pyspark.sql.functions import pandas_udf

started = time.time()
spark = session("pandas_udf", **{"spark.sql.execution.arrow.pyspark.enabled": "true"})


@pandas_udf("double")
def scaled(values: pd.Series) -> pd.Series:
    return values * 1.5 + 1


def centre(group: pd.DataFrame) -> pd.DataFrame:
    group = group.copy()
    group["centred"] = group["value"] - group["value"].mean()
    return group[["key", "centred"]]


df = spark.range(100_000).selectExpr("id % 10 AS key", "CAST(id AS DOUBLE) AS value")
out = df.select("key", scaled("value").alias("s"))
total = out.groupBy().sum("s").collect()[0][0]
expect(abs(total - sum(i * 1.5 + 1 for i in range(100_000))) < 1e-3, "scalar pandas UDF sum")
centred = df.groupBy("key").applyInPandas(centre, "key long, centred double")
per_key = centred.groupBy("key").sum("centred").collect()
expect(all(abs(r[1]) < 1e-6 for r in per_key), "grouped pandas UDF did not centre groups")
arrow_back = out.limit(1000).toPandas()
expect(len(arrow_back) == 1000, "toPandas via Arrow returned the wrong row count")
report("pandas_udf", checksum([round(total, 3)] + sorted(r[0] for r in per_key)), started)
spark.stop()
