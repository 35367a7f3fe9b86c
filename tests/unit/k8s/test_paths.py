from pathlib import PurePosixPath

import pytest

from profiler.errors import UsageError
from profiler.k8s import paths


def test_localhost_profile_and_node_path_agree():
    localhost = paths.localhost_profile("driver.json")
    assert localhost == "spark-seccomp/driver.json"
    assert paths.node_profile_path(localhost) == PurePosixPath(
        "/var/lib/kubelet/seccomp/spark-seccomp/driver.json"
    )
    assert paths.node_profile_path(localhost, "/data/kubelet") == PurePosixPath(
        "/data/kubelet/seccomp/spark-seccomp/driver.json"
    )


def test_spo_profiles_live_under_operator():
    name = paths.node_file_name("/x/driver.json", spo=True)
    assert paths.localhost_profile(name, paths.SPO_PROFILE_DIR) == "operator/driver.json"
    assert paths.spo_resource_name(name) == "driver"


@pytest.mark.parametrize("directory", ["/abs", "a/../b", "", "has space"])
def test_bad_profile_dirs_are_usage_errors(directory):
    with pytest.raises(UsageError):
        paths.localhost_profile("driver.json", directory)


def test_nested_profile_dir_is_fine():
    assert paths.localhost_profile("p.json", "team/spark/") == "team/spark/p.json"


@pytest.mark.parametrize(
    ("name", "spo"),
    [("driver.txt", False), ("we ird.json", False), ("Driver_1.json", True)],
)
def test_bad_file_names(name, spo):
    with pytest.raises(UsageError):
        paths.node_file_name(name, spo=spo)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("spark-seccomp/driver.json", True),
        ("driver.json", True),
        ("/var/lib/kubelet/seccomp/driver.json", False),
        ("../etc/driver.json", False),
        ("a/../../b.json", False),
        ("", False),
        (None, False),
    ],
)
def test_localhost_profile_problem(value, ok):
    assert (paths.localhost_profile_problem(value) is None) is ok


def test_node_profile_path_rejects_bad_values():
    with pytest.raises(UsageError):
        paths.node_profile_path("/etc/passwd")
    with pytest.raises(UsageError):
        paths.seccomp_root("relative/kubelet")
