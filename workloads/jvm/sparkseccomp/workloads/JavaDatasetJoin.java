package sparkseccomp.workloads;

import static org.apache.spark.sql.functions.broadcast;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.sum;

import java.util.List;

import org.apache.spark.api.java.function.FilterFunction;
import org.apache.spark.api.java.function.MapFunction;
import org.apache.spark.api.java.function.ReduceFunction;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * The Dataset API from Java: typed lambdas, a groupBy shuffle, a sort-merge join and a broadcast join.
 *
 * <p>Optional argument: the number of orders (default 200000).
 */
public final class JavaDatasetJoin {
  private JavaDatasetJoin() {}

  public static void main(String[] args) {
    long started = System.currentTimeMillis();
    long orders = args.length > 0 ? Long.parseLong(args[0]) : 200_000L;
    Jobs.expect(orders >= 1000 && orders % 1000 == 0, "the order count must be a multiple of 1000");
    SparkSession spark = Jobs.session("java_dataset_join");

    // Typed lambdas run in the executors' JVMs, loaded from the application's jar.
    Dataset<Long> tripled =
        spark
            .range(0, orders)
            .filter((FilterFunction<Long>) id -> id % 2 == 0)
            .map((MapFunction<Long, Long>) id -> id * 3, Encoders.LONG());
    long expectedTripled = 3 * (orders / 2) * (orders / 2 - 1);
    long tripledSum = tripled.reduce((ReduceFunction<Long>) Long::sum);
    Jobs.expect(tripledSum == expectedTripled, "typed map/filter/reduce gave " + tripledSum);

    Dataset<Row> sales =
        spark.range(0, orders).selectExpr("id", "id % 1000 AS customer", "(id * 7) % 100 AS amount");
    Dataset<Row> customers =
        spark.range(0, 1000).selectExpr("id AS customer", "concat('segment-', id % 17) AS segment");

    // A shuffle join first: no table is small enough to broadcast by size.
    spark.conf().set("spark.sql.autoBroadcastJoinThreshold", "-1");
    Dataset<Row> shuffled = sales.join(customers, "customer");
    Dataset<Row> broadcasted = sales.join(broadcast(customers), "customer");
    Jobs.expect(
        shuffled.queryExecution().executedPlan().toString().contains("SortMergeJoin"),
        "the shuffle join was not a sort-merge join");
    Jobs.expect(
        broadcasted.queryExecution().executedPlan().toString().contains("BroadcastHashJoin"),
        "the hinted join did not broadcast");

    List<Row> bySegment =
        shuffled
            .groupBy("segment")
            .agg(count("*").alias("orders"), sum("amount").alias("amount"))
            .orderBy(col("segment"))
            .collectAsList();
    List<Row> bySegmentBroadcast =
        broadcasted
            .groupBy("segment")
            .agg(count("*").alias("orders"), sum("amount").alias("amount"))
            .orderBy(col("segment"))
            .collectAsList();
    Jobs.expect(bySegment.size() == 17, "expected 17 segments, got " + bySegment.size());
    Jobs.expect(bySegment.equals(bySegmentBroadcast), "the two joins disagree");

    long expectedAmount = 0;
    for (long id = 0; id < orders; id++) {
      expectedAmount += (id * 7) % 100;
    }
    long total = 0;
    long rows = 0;
    for (Row row : bySegment) {
      rows += row.getLong(1);
      total += row.getLong(2);
    }
    Jobs.expect(rows == orders, "the join lost or duplicated orders: " + rows);
    Jobs.expect(total == expectedAmount, "amounts add up to " + total + ", not " + expectedAmount);

    Jobs.report("java_dataset_join", Jobs.checksum(bySegment), started);
    spark.stop();
  }
}
