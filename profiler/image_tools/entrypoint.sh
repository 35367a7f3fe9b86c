#!/bin/bash
# The container contract of Spark-on-Kubernetes images, as Spark's Kubernetes backend and
# the Spark Operator use it (written for spark-seccomp from that contract):
#
#   driver ARGS...  spark-submit in client mode, bound to $SPARK_DRIVER_BIND_ADDRESS (the
#                   pod IP); ARGS are what Spark gives a driver pod: --properties-file F
#                   --class C APPLICATION [APP ARGS...]
#   executor        the Kubernetes executor backend, configured only from the environment
#                   Spark sets on executor pods (SPARK_DRIVER_URL, SPARK_EXECUTOR_ID, ...)
#   anything else   run as given
#
# Every mode runs under tini (-s: a subreaper for the JVM's and Python's children), which
# becomes PID 1 once this script execs it.
set -euo pipefail

SPARK_HOME=${SPARK_HOME:-/opt/spark}
TINI=(/usr/bin/tini -s --)

fail() {
  echo "entrypoint: $*" >&2
  exit 64
}

require_env() {
  local mode=$1 name
  shift
  for name in "$@"; do
    [[ -n ${!name:-} ]] || fail "$mode mode needs \$$name (Spark sets it on the pod)"
  done
}

java_binary() {
  if [[ -n ${JAVA_HOME:-} ]]; then echo "$JAVA_HOME/bin/java"; else echo java; fi
}

# Spark hands an executor its JVM options one per variable, SPARK_JAVA_OPT_0, _1, ...,
# so options with spaces survive; read them in index order until the first gap.
executor_java_options() {
  local index=0 name
  EXECUTOR_JAVA_OPTIONS=()
  while :; do
    name="SPARK_JAVA_OPT_$index"
    [[ -n ${!name+set} ]] || break
    EXECUTOR_JAVA_OPTIONS+=("${!name}")
    index=$((index + 1))
  done
}

executor_classpath() {
  local classpath="${SPARK_CONF_DIR:-$SPARK_HOME/conf}:$SPARK_HOME/jars/*"
  [[ -n ${HADOOP_CONF_DIR:-} ]] && classpath="$HADOOP_CONF_DIR:$classpath"
  [[ -n ${SPARK_CLASSPATH:-} ]] && classpath="$classpath:$SPARK_CLASSPATH"
  [[ -n ${SPARK_EXTRA_CLASSPATH:-} ]] && classpath="$classpath:$SPARK_EXTRA_CLASSPATH"
  [[ -n ${SPARK_DIST_CLASSPATH:-} ]] && classpath="$classpath:$SPARK_DIST_CLASSPATH"
  echo "$classpath"
}

mode=${1:-}
case "$mode" in
  driver)
    shift
    require_env driver SPARK_DRIVER_BIND_ADDRESS
    exec "${TINI[@]}" "$SPARK_HOME/bin/spark-submit" \
      --conf "spark.driver.bindAddress=$SPARK_DRIVER_BIND_ADDRESS" \
      --conf "spark.executorEnv.SPARK_DRIVER_POD_IP=$SPARK_DRIVER_BIND_ADDRESS" \
      --deploy-mode client \
      "$@"
    ;;
  executor)
    shift
    require_env executor SPARK_DRIVER_URL SPARK_EXECUTOR_ID SPARK_EXECUTOR_CORES SPARK_EXECUTOR_MEMORY \
      SPARK_APPLICATION_ID SPARK_EXECUTOR_POD_IP
    executor_java_options
    exec "${TINI[@]}" "$(java_binary)" \
      "${EXECUTOR_JAVA_OPTIONS[@]}" \
      -Xms"$SPARK_EXECUTOR_MEMORY" -Xmx"$SPARK_EXECUTOR_MEMORY" \
      -cp "$(executor_classpath)" \
      org.apache.spark.scheduler.cluster.k8s.KubernetesExecutorBackend \
      --driver-url "$SPARK_DRIVER_URL" \
      --executor-id "$SPARK_EXECUTOR_ID" \
      --cores "$SPARK_EXECUTOR_CORES" \
      --app-id "$SPARK_APPLICATION_ID" \
      --hostname "$SPARK_EXECUTOR_POD_IP" \
      --resourceProfileId "${SPARK_RESOURCE_PROFILE_ID:-0}" \
      --podName "${SPARK_EXECUTOR_POD_NAME:-$HOSTNAME}"
    ;;
  "")
    fail "no command: give driver, executor, or a program to run"
    ;;
  *)
    exec "${TINI[@]}" "$@"
    ;;
esac
