"""Which Spark version a recording ran, for the summary (and so for `k8s sparkapp`)."""

from importlib.metadata import version

import pytest

from profiler.record import recorded_spark_versions
from profiler.runtime.images import image_spark_version
from tests.fakes import FakeBackend


class FakeLocalBackend(FakeBackend):
    name = "local"


@pytest.fixture
def no_engine(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("apache/spark:3.5.1-python3", "3.5.1"),
        ("registry.example.com:5000/spark:v4.0.1", "4.0.1"),
        ("registry.example.com:5000/spark", None),
        ("my/spark:latest", None),
        ("spark", None),
    ],
)
def test_without_an_engine_the_tag_tells_the_version(tag, expected, no_engine) -> None:
    assert image_spark_version(tag) == expected


def test_the_local_backend_runs_the_hosts_pyspark(no_engine) -> None:
    backend = FakeLocalBackend(lambda spec: (0, False, "", ""))
    assert recorded_spark_versions(backend, "my/spark:latest") == (version("pyspark"),)


def test_an_engine_runs_the_images_spark(no_engine) -> None:
    backend = FakeBackend(lambda spec: (0, False, "", ""))
    assert recorded_spark_versions(backend, "apache/spark:4.0.1") == ("4.0.1",)
    assert recorded_spark_versions(backend, "my/spark:latest") == ()
