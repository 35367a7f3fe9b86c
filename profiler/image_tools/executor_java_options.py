"""Prints the JVM options this image's Spark gives every executor, as one JSON line.

SparkContext adds the Java module options (and its IPv6 preference) to the executors' Java
options when it starts; Spark's Kubernetes backend then hands them to executor pods as
SPARK_JAVA_OPT_<n>. Asking a real SparkContext gives exactly this Spark's list.
"""

import json

from pyspark import SparkConf, SparkContext

conf = SparkConf().setMaster("local[1]").setAppName("executor-java-options")
conf.set("spark.ui.enabled", "false")
context = SparkContext(conf=conf)
effective = context.getConf()
# spark.executor.extraJavaOptions is read with defaultJavaOptions in front of it.
parts = [
    effective.get("spark.executor.defaultJavaOptions", ""),
    effective.get("spark.executor.extraJavaOptions", ""),
]
context.stop()
print(json.dumps({"options": " ".join(p for p in parts if p)}))
