"""What an application reaches outside its pods, said rather than hidden.

The local pod network reaches nothing beyond its own containers unless ``--egress`` gives it
a way out (a route through the host, as a cluster's pod network has), and even then nothing
here pulls Maven artifacts for Spark. So everything an application names that lives
elsewhere is listed in plain sentences: Maven coordinates (``deps.packages``,
``spark.jars.packages``), remote files (``s3a://``, ``https://``, ``hdfs://``... in deps,
``spark.jars``/``spark.files``/``spark.submit.pyFiles``/``spark.archives``), object stores
and databases the application's arguments, Spark or Hadoop conf, or env mention (URIs of a
remote scheme, ``jdbc:`` URLs).

Pure: the plan's values in, sentences out.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

# Schemes of storage Spark reaches over the network.
OBJECT_STORES = ("s3", "s3a", "s3n", "gs", "abfs", "abfss", "wasb", "wasbs", "oss", "cos", "r2")
REMOTE_FILES = ("http", "https", "ftp", "hdfs", "viewfs", "webhdfs", *OBJECT_STORES)
_URI = re.compile(r"\b([a-z][a-z0-9+.-]*)://([^\s,;'\"]+)", re.IGNORECASE)
_JDBC = re.compile(r"\bjdbc:([a-z0-9]+):(//)?([^\s;'\"]*)", re.IGNORECASE)
# Conf keys naming files Spark fetches before or while it runs.
FILE_LIST_KEYS = ("spark.jars", "spark.files", "spark.submit.pyFiles", "spark.archives")
PACKAGE_KEYS = ("spark.jars.packages", "spark.jars.repositories", "spark.jars.excludes")
# The cluster's own endpoints (the API server, the master): the run stands in for them.
_NOT_THE_APPS = ("spark.kubernetes.", "spark.master")


@dataclass(frozen=True)
class Outside:
    """One thing the application reaches outside its pods."""

    where: str  # e.g. "sparkConf spark.hadoop.fs.s3a.endpoint", "arguments[1]"
    what: str  # e.g. "object store s3a://bucket/path"
    reachable_with_egress: bool  # --egress can give the pods a way to it

    def sentence(self, egress: bool) -> str:
        if self.reachable_with_egress and egress:
            return (
                f"{self.where}: {self.what}: reached through --egress, as the pods would reach it"
            )
        if self.reachable_with_egress:
            return (
                f"{self.where}: {self.what}: the local pods cannot reach it "
                "(pass --egress to give them a way out)"
            )
        return f"{self.where}: {self.what}: not emulated"


def outside_of(
    spark_conf: Mapping[str, str],
    arguments: Sequence[str] = (),
    env: Iterable[tuple[str, str]] = (),
) -> tuple[Outside, ...]:
    """Everything remote that the conf, the arguments and the env name, in a fixed order."""
    found: dict[tuple[str, str], Outside] = {}

    def add(item: Outside) -> None:
        found.setdefault((item.where, item.what), item)

    for key in PACKAGE_KEYS:
        value = spark_conf.get(key)
        if value:
            add(
                Outside(
                    f"sparkConf {key}",
                    f"Maven coordinates {value}, which spark-submit resolves through Ivy "
                    "before the driver starts",
                    reachable_with_egress=False,
                )
            )
    for key in FILE_LIST_KEYS:
        for uri in (spark_conf.get(key) or "").split(","):
            scheme = uri.split("://", 1)[0].lower() if "://" in uri else ""
            if scheme in REMOTE_FILES:
                add(Outside(f"sparkConf {key}", f"{uri} is fetched by Spark", False))
    texts = [
        (f"sparkConf {k}", v)
        for k, v in sorted(spark_conf.items())
        if k not in FILE_LIST_KEYS and not k.startswith(_NOT_THE_APPS)
    ]
    texts += [(f"arguments[{i}]", a) for i, a in enumerate(arguments)]
    texts += [(f"env {name}", value) for name, value in env]
    for where, text in texts:
        for scheme, rest in _URI.findall(text):
            scheme = scheme.lower()
            if scheme in OBJECT_STORES:
                add(Outside(where, f"object store {scheme}://{rest}", True))
            elif scheme in REMOTE_FILES:
                add(Outside(where, f"{scheme}://{rest}", True))
        for engine, slashes, rest in _JDBC.findall(text):
            add(Outside(where, f"database jdbc:{engine.lower()}:{slashes}{rest}", True))
    return tuple(found[key] for key in sorted(found))
