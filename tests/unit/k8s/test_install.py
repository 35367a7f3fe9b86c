import json
from pathlib import PurePosixPath

import pytest

from profiler.k8s import install, paths
from profiler.k8s.lint import lint_text
from profiler.k8s.manifests import render
from profiler.k8s.spo import SpoApi

from .conftest import PROFILE
from .schema import validate_core

TEXT = json.dumps(PROFILE, indent=2) + "\n"
PROFILES = [install.NodeProfile("executor.json", TEXT), install.NodeProfile("driver.json", TEXT)]


def test_installer_validates_and_copies_where_sparkapp_points():
    config_map, daemon_set = install.build_installer(PROFILES, kubelet_root="/data/kubelet")
    validate_core(config_map)
    validate_core(daemon_set)
    assert list(config_map["data"]) == ["driver.json", "executor.json"]
    pod = daemon_set["spec"]["template"]["spec"]
    host = next(v["hostPath"]["path"] for v in pod["volumes"] if "hostPath" in v)
    for name in config_map["data"]:
        localhost = paths.localhost_profile(name)
        assert paths.node_profile_path(localhost, "/data/kubelet") == PurePosixPath(host) / name


def test_installer_is_hardened_except_for_what_a_hostpath_writer_needs():
    _, daemon_set = install.build_installer(PROFILES)
    pod = daemon_set["spec"]["template"]["spec"]
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in pod["initContainers"] + pod["containers"]:
        ctx = container["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False
        assert ctx["capabilities"] == {"drop": ["ALL"]}
        assert ctx["readOnlyRootFilesystem"] is True
    assert pod["containers"][0]["securityContext"].get("runAsUser") is None  # pod: 65535
    # Only the one directory of the host is mounted, and profiles read-only.
    mounts = {m["name"]: m for m in pod["initContainers"][0]["volumeMounts"]}
    assert mounts["profiles"]["readOnly"] is True


def test_installer_lints_clean_with_its_declared_exceptions_only():
    report = lint_text(render(install.build_installer(PROFILES)), "install.yaml")
    assert report.findings == ()
    assert {f.rule.id for f in report.suppressed} == set(install.INSTALLER_EXCEPTIONS)
    # Root is confined to the copying init container; the hostPath is the one volume.
    assert sorted(f.path for f in report.suppressed) == [
        "spec.template.spec.initContainers[0].securityContext.runAsNonRoot",
        "spec.template.spec.initContainers[0].securityContext.runAsUser",
        "spec.template.spec.volumes[1].hostPath",
    ]


def test_changing_a_profile_rolls_the_daemonset():
    def digest(profiles):
        _, ds = install.build_installer(profiles)
        return ds["spec"]["template"]["metadata"]["annotations"]

    changed = [install.NodeProfile("driver.json", TEXT.replace("futex", "fsync"))]
    assert digest(PROFILES) == digest(list(reversed(PROFILES)))
    assert digest(PROFILES) != digest(changed)


def test_installer_output_is_deterministic():
    assert render(install.build_installer(PROFILES)) == render(
        install.build_installer(list(reversed(PROFILES)))
    )


def test_spo_profiles():
    result = install.build_spo_profiles(PROFILES)
    names = [m["metadata"]["name"] for m in result.manifests]
    assert names == ["driver", "executor"]
    first = result.manifests[0]
    assert first["apiVersion"] == "security-profiles-operator.x-k8s.io/v1"
    assert first["kind"] == "SeccompProfile"
    assert "namespace" not in first["metadata"]  # cluster-scoped since SPO v0.9.0
    assert first["spec"]["defaultAction"] == "SCMP_ACT_ERRNO"
    assert first["spec"]["syscalls"][0] == {
        "names": ["clone3"],
        "action": "SCMP_ACT_ERRNO",
        "errnoRet": 38,
    }
    assert result.notes == ()


def test_spo_drops_default_errno_ret_with_a_note():
    text = json.dumps({**PROFILE, "defaultErrnoRet": 1})
    result = install.build_spo_profiles([install.NodeProfile("driver.json", text)])
    assert "defaultErrnoRet" not in result.manifests[0]["spec"]
    assert result.notes and "defaultErrnoRet" in result.notes[0]


@pytest.mark.parametrize("directory", ["/abs", "../up"])
def test_bad_directory(directory):
    from profiler.errors import UsageError

    with pytest.raises(UsageError):
        install.build_installer(PROFILES, directory=directory)


def test_spo_v1beta1_on_request_same_spec():
    v1 = install.build_spo_profiles(PROFILES).manifests
    old = install.build_spo_profiles(PROFILES, SpoApi.V1BETA1).manifests
    assert [m["apiVersion"] for m in old] == ["security-profiles-operator.x-k8s.io/v1beta1"] * 2
    assert [m["spec"] for m in old] == [m["spec"] for m in v1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(namespace="Kube System"), "not a valid namespace"),
        (dict(image=""), "not an image reference"),
        (dict(pause_image="a b"), "--pause-image"),
    ],
)
def test_installer_inputs_are_checked(kwargs, message):
    from profiler.errors import UsageError

    with pytest.raises(UsageError, match=message):
        install.build_installer(PROFILES, **kwargs)


def test_installer_refuses_a_config_map_etcd_would_refuse():
    from profiler.errors import UsageError

    big = [install.NodeProfile(f"p{i}.json", TEXT + " " * 400_000) for i in range(3)]
    with pytest.raises(UsageError, match="a ConfigMap holds at most"):
        install.build_installer(big)
