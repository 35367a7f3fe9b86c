"""What an application reaches outside its pods is listed, never dropped."""

from profiler.k8s.reach import outside_of


def test_maven_coordinates_remote_files_object_stores_and_databases_are_named() -> None:
    conf = {
        "spark.jars.packages": "org.postgresql:postgresql:42.7.3",
        "spark.jars": "local:///opt/app/a.jar,https://repo.example/b.jar",
        "spark.hadoop.fs.s3a.endpoint": "http://minio.data:9000",
        "spark.eventLog.dir": "s3a://logs/spark",
        "spark.kubernetes.driver.master": "https://kubernetes.default.svc",
        "spark.sql.shuffle.partitions": "8",
    }
    found = outside_of(
        conf,
        ["--input", "gs://bucket/day=1", "--db", "jdbc:postgresql://db.internal:5432/sales"],
        [("WAREHOUSE", "abfss://wh@acct.dfs.core.windows.net/x")],
    )
    text = {f"{o.where}: {o.what}": o.reachable_with_egress for o in found}
    assert text == {
        "arguments[1]: object store gs://bucket/day=1": True,
        "arguments[3]: database jdbc:postgresql://db.internal:5432/sales": True,
        "env WAREHOUSE: object store abfss://wh@acct.dfs.core.windows.net/x": True,
        "sparkConf spark.eventLog.dir: object store s3a://logs/spark": True,
        "sparkConf spark.hadoop.fs.s3a.endpoint: http://minio.data:9000": True,
        "sparkConf spark.jars: https://repo.example/b.jar is fetched by Spark": False,
        "sparkConf spark.jars.packages: Maven coordinates org.postgresql:postgresql:42.7.3, "
        "which spark-submit resolves through Ivy before the driver starts": False,
    }


def test_sentences_say_what_egress_changes() -> None:
    (db,) = outside_of({}, ["jdbc:postgresql://db:5432/x"])
    assert "pass --egress" in db.sentence(egress=False)
    assert "reached through --egress" in db.sentence(egress=True)
    (maven,) = outside_of({"spark.jars.packages": "a:b:1"})
    assert maven.sentence(egress=True).endswith("not emulated")


def test_nothing_outside_is_nothing_said() -> None:
    assert outside_of({"spark.executor.memory": "1g"}, ["10", "local:///x"]) == ()
