"""Structured streaming with a checkpoint: two availableNow runs, the second resumes from it."""

import json
import os
import time

from _common import checksum, expect, report, scratch_dir, session

started = time.time()
spark = session("streaming_checkpoint")
base = scratch_dir("stream")
source, sink, checkpoint = (os.path.join(base, d) for d in ("in", "out", "checkpoint"))
os.makedirs(source)


def add_batch(index: int) -> None:
    with open(os.path.join(source, f"batch-{index}.json"), "w") as handle:
        for i in range(index * 1000, (index + 1) * 1000):
            handle.write(json.dumps({"id": i, "group": i % 5}) + "\n")


def run_once() -> None:
    stream = (
        spark.readStream.schema("id LONG, `group` INT")
        .json(source)
        .selectExpr("id", "`group`", "id * 2 AS doubled")
    )
    query = (
        stream.writeStream.format("parquet")
        .option("path", sink)
        .option("checkpointLocation", checkpoint)
        .trigger(availableNow=True)
        .start()
    )
    query.awaitTermination(120)


add_batch(0)
add_batch(1)
run_once()
first = spark.read.parquet(sink).count()
add_batch(2)
run_once()
result = spark.read.parquet(sink)
expect(first == 2000, f"first micro-batches wrote {first} rows, expected 2000")
expect(result.count() == 3000, "resumed stream reprocessed or lost rows")
rows = result.groupBy("group").sum("doubled").collect()
report("streaming_checkpoint", checksum(rows), started)
spark.stop()
