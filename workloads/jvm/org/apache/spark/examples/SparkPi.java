package org.apache.spark.examples;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;

import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.SparkSession;

/**
 * Estimates pi by sampling points in the unit square, where and as the Spark Operator's first
 * example runs it: {@code mainClass: org.apache.spark.examples.SparkPi}, {@code
 * mainApplicationFile: local:///opt/spark/examples/jars/spark-examples.jar}.
 *
 * <p>Written for spark-seccomp's image (pyspark from PyPI ships no examples jar). Usage: SparkPi
 * [SLICES]
 */
public final class SparkPi {
  private SparkPi() {}

  private static final int SAMPLES_PER_SLICE = 100_000;

  public static void main(String[] args) {
    int slices = args.length > 0 ? Integer.parseInt(args[0]) : 2;
    if (slices < 1) {
      System.err.println("SparkPi: SLICES must be a positive number, not " + slices);
      System.exit(1);
    }
    SparkSession spark = SparkSession.builder().appName("Spark Pi").getOrCreate();
    JavaSparkContext context = JavaSparkContext.fromSparkContext(spark.sparkContext());
    long total = Math.min((long) SAMPLES_PER_SLICE * slices, Integer.MAX_VALUE);
    List<Integer> seeds = new ArrayList<>(slices);
    for (int i = 0; i < slices; i++) {
      seeds.add(i);
    }
    long perSlice = total / slices;
    long hits =
        context
            .parallelize(seeds, slices)
            .map(
                slice -> {
                  ThreadLocalRandom random = ThreadLocalRandom.current();
                  long inside = 0;
                  for (long i = 0; i < perSlice; i++) {
                    double x = random.nextDouble() * 2 - 1;
                    double y = random.nextDouble() * 2 - 1;
                    if (x * x + y * y <= 1) {
                      inside++;
                    }
                  }
                  return inside;
                })
            .reduce(Long::sum);
    System.out.printf("Pi is roughly %f%n", 4.0 * hits / (perSlice * slices));
    spark.stop();
  }
}
