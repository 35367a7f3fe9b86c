"""Parquet (snappy, zstd) and CSV (gzip) I/O: native compression codecs, write then read back."""

import time

from _common import checksum, expect, report, scratch_dir, session

started = time.time()
spark = session("parquet_csv_io")
base = scratch_dir("io")
df = spark.range(150_000).selectExpr(
    "id", "id % 17 AS bucket", "sha2(CAST(id AS STRING), 256) AS digest"
)
results = []
for codec in ("snappy", "zstd"):
    path = f"{base}/parquet-{codec}"
    df.write.mode("overwrite").option("compression", codec).partitionBy("bucket").parquet(path)
    back = spark.read.parquet(path)
    expect(back.count() == 150_000, f"parquet {codec} lost rows")
    results.append((codec, back.groupBy("bucket").count().orderBy("bucket").collect()))
csv_path = f"{base}/csv-gzip"
df.write.mode("overwrite").option("compression", "gzip").option("header", True).csv(csv_path)
csv_back = spark.read.option("header", True).schema(df.schema).csv(csv_path)
expect(csv_back.count() == 150_000, "csv lost rows")
expect(csv_back.exceptAll(df).count() == 0, "csv round trip changed rows")
report("parquet_csv_io", checksum([[c, [list(r) for r in rows]] for c, rows in results]), started)
spark.stop()
