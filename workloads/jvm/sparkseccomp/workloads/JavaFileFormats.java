package sparkseccomp.workloads;

import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;

/**
 * File formats with native codecs from Java: Parquet (snappy, zstd), ORC (zstd) and CSV (gzip), written and read back.
 */
public final class JavaFileFormats {
  private JavaFileFormats() {}

  private static final long ROWS = 50_000;

  public static void main(String[] args) {
    long started = System.currentTimeMillis();
    SparkSession spark = Jobs.session("java_file_formats");
    String base = Jobs.scratchDir("formats");
    Dataset<Row> data =
        spark
            .range(0, ROWS)
            .selectExpr("id", "id % 7 AS bucket", "sha2(CAST(id AS STRING), 256) AS digest");
    List<String> results = new ArrayList<>();
    String[][] formats = {
      {"parquet", "snappy"}, {"parquet", "zstd"}, {"orc", "zstd"}, {"csv", "gzip"},
    };
    for (String[] format : formats) {
      String path = base + "/" + format[0] + "-" + format[1];
      data.write()
          .mode(SaveMode.Overwrite)
          .format(format[0])
          .option("compression", format[1])
          .option("header", "true")
          .partitionBy("bucket")
          .save(path);
      Dataset<Row> back =
          spark.read().format(format[0]).option("header", "true").schema(data.schema()).load(path);
      long count = back.count();
      Jobs.expect(count == ROWS, format[0] + " " + format[1] + " read back " + count + " rows");
      long changed = back.select("id", "bucket", "digest").exceptAll(data).count();
      Jobs.expect(changed == 0, format[0] + " " + format[1] + " changed " + changed + " rows");
      for (Row row : back.groupBy("bucket").count().collectAsList()) {
        results.add(format[0] + "/" + format[1] + " " + row);
      }
    }
    Jobs.report("java_file_formats", Jobs.digest(results), started);
    spark.stop();
  }
}
