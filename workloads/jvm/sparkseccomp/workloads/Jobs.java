package sparkseccomp.workloads;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Shared by the JVM catalogue jobs, as workloads/_common.py is by the Python ones: the
 * session, the one JSON result line, scratch space. Not a job itself (no main method).
 */
final class Jobs {
  private Jobs() {}

  /** The job's session; the master and the driver's addresses are the submitter's. */
  static SparkSession session(String app) {
    SparkSession spark =
        SparkSession.builder()
            .appName(app)
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.session.timeZone", "UTC")
            .getOrCreate();
    spark.sparkContext().setLogLevel("ERROR");
    return spark;
  }

  /** Order-independent digest of result rows: their text, sorted, hashed. */
  static String checksum(List<Row> rows) {
    List<String> lines = new ArrayList<>();
    for (Row row : rows) {
      lines.add(row.toString());
    }
    return digest(lines);
  }

  static String digest(List<String> lines) {
    List<String> sorted = new ArrayList<>(lines);
    Collections.sort(sorted);
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      byte[] hash = sha.digest(String.join("\n", sorted).getBytes(StandardCharsets.UTF_8));
      StringBuilder hex = new StringBuilder();
      for (int i = 0; i < 8; i++) {
        hex.append(String.format(Locale.ROOT, "%02x", hash[i]));
      }
      return hex.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** A job checks its own answer; a wrong answer is a failed job, not a result. */
  static void expect(boolean condition, String message) {
    if (!condition) {
      System.err.println("workload check failed: " + message);
      System.err.flush();
      System.exit(1);
    }
  }

  /** The catalogue's result line, keys sorted as Python's json.dumps(sort_keys=True) does. */
  static void report(String workload, String checksum, long startedMillis) {
    double seconds = (System.currentTimeMillis() - startedMillis) / 1000.0;
    System.out.println(
        String.format(
            Locale.ROOT,
            "{\"checksum\": \"%s\", \"job_seconds\": %.3f, \"workload\": \"%s\"}",
            checksum,
            seconds,
            workload));
    System.out.flush();
  }

  /**
   * A fresh directory for files Spark reads and writes: in a pod run the storage every pod
   * mounts (SPARK_SECCOMP_SHARED_DIR, as a ReadWriteMany volume would be), else /tmp.
   */
  static String scratchDir(String name) {
    String base = System.getenv("SPARK_SECCOMP_SHARED_DIR");
    if (base == null || base.isEmpty()) {
      base = System.getenv().getOrDefault("TMPDIR", "/tmp");
    }
    File dir = new File(base, "spark-seccomp-" + name + "-" + ProcessHandle.current().pid());
    if (!dir.isDirectory() && !dir.mkdirs()) {
      throw new IllegalStateException("cannot create " + dir);
    }
    return dir.getPath();
  }
}
