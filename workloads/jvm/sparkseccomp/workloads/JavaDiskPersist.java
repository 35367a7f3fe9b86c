package sparkseccomp.workloads;

import java.util.List;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.storage.StorageLevel;

/**
 * Disk persistence: a Dataset persisted DISK_ONLY in the block managers' local dirs, reused by two actions.
 */
public final class JavaDiskPersist {
  private JavaDiskPersist() {}

  public static void main(String[] args) {
    long started = System.currentTimeMillis();
    SparkSession spark = Jobs.session("java_disk_persist");
    Dataset<Row> rows =
        spark
            .range(0, 200_000)
            .selectExpr("id", "id % 97 AS bucket", "sha2(CAST(id AS STRING), 256) AS digest")
            .repartition(4)
            .persist(StorageLevel.DISK_ONLY());
    long first = rows.count();
    Jobs.expect(first == 200_000, "the persisted Dataset has " + first + " rows");
    int onDisk = 0;
    for (org.apache.spark.storage.RDDInfo info : spark.sparkContext().getRDDStorageInfo()) {
      if (info.diskSize() > 0 && info.memSize() == 0) {
        onDisk++;
      }
    }
    Jobs.expect(onDisk > 0, "nothing was persisted to disk only");

    List<Row> buckets = rows.groupBy("bucket").count().orderBy("bucket").collectAsList();
    Jobs.expect(buckets.size() == 97, "expected 97 buckets, got " + buckets.size());
    long total = 0;
    for (Row bucket : buckets) {
      total += bucket.getLong(1);
    }
    Jobs.expect(total == 200_000, "the second action read " + total + " rows");
    long distinctDigests = rows.select("digest").distinct().count();
    Jobs.expect(distinctDigests == 200_000, "digests collide: " + distinctDigests);
    rows.unpersist(true);

    Jobs.report("java_disk_persist", Jobs.checksum(buckets), started);
    spark.stop();
  }
}
