package sparkseccomp.workloads;

import java.io.FileWriter;
import java.io.IOException;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.List;
import java.util.concurrent.TimeoutException;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.streaming.StreamingQuery;
import org.apache.spark.sql.streaming.StreamingQueryException;
import org.apache.spark.sql.streaming.Trigger;

/**
 * Structured streaming with state: a running count per key in the state store, two availableNow runs from one checkpoint.
 */
public final class JavaStreamingState {
  private JavaStreamingState() {}

  private static final int BATCH_ROWS = 1000;
  private static final int GROUPS = 5;

  public static void main(String[] args) throws Exception {
    long started = System.currentTimeMillis();
    SparkSession spark = Jobs.session("java_streaming_state");
    String base = Jobs.scratchDir("state");
    String source = base + "/in";
    String checkpoint = base + "/checkpoint";
    Files.createDirectories(Paths.get(source));

    addBatch(source, 0);
    addBatch(source, 1);
    List<Row> first = runOnce(spark, source, checkpoint, "counts_first");
    Jobs.expect(first.size() == GROUPS, "the first run counted " + first.size() + " groups");
    for (Row row : first) {
      Jobs.expect(row.getLong(1) == 2L * BATCH_ROWS / GROUPS, "first run: " + row);
    }
    addBatch(source, 2);
    // The second run reads only the new file; its counts come from the restored state.
    List<Row> second = runOnce(spark, source, checkpoint, "counts_second");
    Jobs.expect(second.size() == GROUPS, "the resumed run counted " + second.size() + " groups");
    for (Row row : second) {
      Jobs.expect(row.getLong(1) == 3L * BATCH_ROWS / GROUPS, "resumed run lost state: " + row);
    }
    Jobs.report("java_streaming_state", Jobs.checksum(second), started);
    spark.stop();
  }

  private static void addBatch(String source, int index) throws IOException {
    try (Writer out = new FileWriter(source + "/batch-" + index + ".json")) {
      for (int id = index * BATCH_ROWS; id < (index + 1) * BATCH_ROWS; id++) {
        out.write("{\"id\": " + id + ", \"group\": " + (id % GROUPS) + "}\n");
      }
    }
  }

  private static List<Row> runOnce(
      SparkSession spark, String source, String checkpoint, String table)
      throws TimeoutException, StreamingQueryException {
    Dataset<Row> counts =
        spark
            .readStream()
            .schema("id LONG, `group` INT")
            .json(source)
            .groupBy("group")
            .count();
    StreamingQuery query =
        counts
            .writeStream()
            .format("memory")
            .queryName(table)
            .outputMode("complete")
            .option("checkpointLocation", checkpoint)
            .trigger(Trigger.AvailableNow())
            .start();
    query.awaitTermination(120_000);
    Jobs.expect(query.exception().isEmpty(), "the stream failed: " + query.exception());
    return spark.table(table).orderBy("group").collectAsList();
  }
}
