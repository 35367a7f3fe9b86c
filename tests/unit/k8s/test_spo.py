"""SPO: ProfileRecording for a SparkApplication, and SeccompProfiles read back in.

None of this ran on a cluster: the shapes are SPO's API types (see profiler/k8s/spo.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from profiler.cli import main
from profiler.errors import UsageError
from profiler.k8s.recording import Recorder, build_recording
from profiler.k8s.spo import SpoApi, as_recordings, import_profiles, read_seccomp_profiles
from profiler.seccomp.generate import load_summary

from .conftest import K8S_FIXTURES
from .schema import check_sparkapp

SPO = K8S_FIXTURES / "spo"
EXAMPLES = K8S_FIXTURES / "operator-examples"
PROFILES = Path(__file__).parents[3] / "profiles"


def app(name="spark-pi-python"):
    [doc] = yaml.safe_load_all((EXAMPLES / f"{name}.yaml").read_text())
    return doc


def test_recording_selects_the_apps_driver_and_executor_pods():
    result = build_recording(app(), name="pi-rec")
    rec = result.recording
    assert rec["apiVersion"] == "security-profiles-operator.x-k8s.io/v1"
    assert rec["kind"] == "ProfileRecording"
    assert rec["metadata"] == {"name": "pi-rec", "namespace": "default"}
    spec = rec["spec"]
    assert (spec["kind"], spec["recorder"], spec["mergeStrategy"]) == (
        "SeccompProfile",
        "Bpf",
        "Containers",
    )
    assert spec["podSelector"]["matchLabels"] == {
        "spark-seccomp.io/record": "pi-rec",
        "sparkoperator.k8s.io/app-name": "spark-pi-python",
    }
    assert spec["podSelector"]["matchExpressions"] == [
        {"key": "spark-role", "operator": "In", "values": ["driver", "executor"]}
    ]
    assert spec["containers"] == ["spark-kubernetes-driver", "spark-kubernetes-executor"]
    assert result.profiles == (
        "pi-rec-spark-kubernetes-driver",
        "pi-rec-spark-kubernetes-executor",
    )
    # The labels the pods need, on both roles of the SparkApplication written back.
    for role in ("driver", "executor"):
        labels = result.app["spec"][role]["labels"]
        assert labels["spark-seccomp.io/record"] == "pi-rec"
        assert labels["spo.x-k8s.io/enable-recording"] == "true"
    check_sparkapp(result.app)
    assert any(
        "kubectl label namespace default spo.x-k8s.io/enable-recording=true" in n
        for n in result.notes
    )


def test_a_selected_pod_really_matches_the_selector():
    """The labels Spark and the operator put on the driver pod satisfy the selector."""
    from profiler.k8s.operator import operator_for
    from profiler.k8s.submission import spark_conf

    result = build_recording(app(), label="team=data")
    conf = spark_conf(result.app, result.app["spec"], operator_for())
    prefix = "spark.kubernetes.driver.label."
    pod_labels = {k[len(prefix) :]: v for k, v in conf.items() if k.startswith(prefix)}
    pod_labels["spark-role"] = "driver"  # Spark's own (Constants.SPARK_ROLE_LABEL)
    selector = result.recording["spec"]["podSelector"]
    assert selector["matchLabels"].items() <= pod_labels.items()
    [expression] = selector["matchExpressions"]
    assert pod_labels[expression["key"]] in expression["values"]


def test_spo_0x_gets_v1alpha1_and_lower_case_enums():
    rec = build_recording(app(), recorder=Recorder.LOGS, api=SpoApi.V1BETA1).recording
    assert rec["apiVersion"] == "security-profiles-operator.x-k8s.io/v1alpha1"
    assert (rec["spec"]["recorder"], rec["spec"]["mergeStrategy"]) == ("logs", "containers")


def test_logs_recorder_warns_about_the_operators_webhook():
    notes = build_recording(app(), recorder=Recorder.LOGS).notes
    assert any("which one wins depends on the webhooks' order" in n for n in notes)


def test_a_scheduled_application_is_selected_by_the_label_only():
    rec = build_recording(app("spark-pi-scheduled")).recording
    assert "sparkoperator.k8s.io/app-name" not in rec["spec"]["podSelector"]["matchLabels"]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(name="Pi Rec"), "not a valid name"),
        (dict(name="pi.rec"), "DNS-1123 label"),
        (dict(label="bad key!=x"), "not a label"),
        (dict(label="k=" + "v" * 64), "not a label"),
    ],
)
def test_bad_recording_input(kwargs, message):
    with pytest.raises(UsageError, match=message):
        build_recording(app(), **kwargs)


def test_read_a_kubectl_list_and_a_single_v1beta1_object():
    items = read_seccomp_profiles(SPO / "recorded.yaml")
    assert [i.name for i in items] == [
        "etl-rec-spark-kubernetes-driver",
        "etl-rec-spark-kubernetes-executor",
    ]
    driver = items[0]
    assert (driver.recording, driver.container, driver.partial) == (
        "etl-rec",
        "spark-kubernetes-driver",
        False,
    )
    assert "sendmmsg" in driver.profile.allowed()
    assert driver.source.endswith("recorded.yaml:8")
    [single] = read_seccomp_profiles(SPO / "single-v1beta1.yaml")
    assert single.partial and single.workload == "spo:etl-rec/spark-kubernetes-executor"


def test_recordings_carry_the_container_as_role_and_no_call_counts():
    recordings, _ = as_recordings(read_seccomp_profiles(SPO / "recorded.yaml"))
    driver = next(r for r in recordings if r.workload.endswith("driver"))
    assert driver.arch == "x86_64" and driver.tracer == "spo"
    assert driver.counts["futex"] == {"pod spark-kubernetes-driver": 0}


def test_import_derives_a_profile_with_coverage():
    result = import_profiles([SPO / "recorded.yaml", SPO / "single-v1beta1.yaml"])
    allowed = result.profile.allowed()
    assert {"futex", "getrandom", "mmap", "rt_sigtimedwait", "sendmmsg"} <= allowed
    summary = result.summary
    assert summary.total_runs == 3
    assert summary.workloads == {
        "spo:etl-rec/spark-kubernetes-driver": 1,
        "spo:etl-rec/spark-kubernetes-executor": 2,
    }
    # getrandom was in one of the two executor recordings: one more run may need more.
    assert "getrandom" in summary.flaky
    assert summary.usage["read"].runs == 3


def test_import_merges_with_a_local_profile_and_its_summary():
    local = PROFILES / "spark-3.5.9-amd64.json"
    result = import_profiles([SPO / "recorded.yaml"], [local])
    local_summary = load_summary(PROFILES / "spark-3.5.9-amd64.summary.json")
    assert result.summary.total_runs == local_summary.total_runs + 2
    assert "spo:etl-rec/spark-kubernetes-driver" in result.summary.workloads
    assert json.loads(local.read_text())["defaultErrnoRet"] == result.profile.default_errno_ret


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("kind: ConfigMap\nmetadata: {name: c}\n", "expected a SeccompProfile"),
        (
            "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\n"
            "metadata: {name: p}\nspec: {defaultAction: SCMP_ACT_NOPE}\n",
            "spec.defaultAction",
        ),
        (
            "apiVersion: security-profiles-operator.x-k8s.io/v1\nkind: SeccompProfile\n"
            "metadata: {name: p}\nspec:\n  defaultAction: SCMP_ACT_ERRNO\n"
            "  syscalls: [{action: SCMP_ACT_ALLOW, names: []}]\n",
            r"syscalls\[0\]\.names",
        ),
        ("kind: List\nitems: 5\n", "must be a list"),
        ("a: [\n", "invalid YAML"),
    ],
)
def test_bad_imports_name_file_and_line(tmp_path, text, message):
    path = tmp_path / "sp.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=message) as info:
        read_seccomp_profiles(path)
    assert str(path) in info.value.message


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_cli_record_writes_recording_and_app(tmp_path, capsys):
    out, app_out = tmp_path / "rec.yaml", tmp_path / "app.yaml"
    code, stdout, err = run(
        [
            "k8s",
            "record",
            str(EXAMPLES / "spark-pi-python.yaml"),
            "--spo",
            "--out",
            str(out),
            "--app-out",
            str(app_out),
        ],
        capsys,
    )
    assert code == 0, err
    assert yaml.safe_load(out.read_text())["kind"] == "ProfileRecording"
    assert yaml.safe_load(app_out.read_text())["spec"]["driver"]["labels"]
    flat = " ".join(err.split())
    assert "label on spec.driver.labels and spec.executor.labels: spark-seccomp.io/record" in flat
    assert "SPO will write SeccompProfile spark-pi-python-spark-kubernetes-driver" in flat


def test_cli_record_needs_spo(capsys):
    code, out, err = run(["k8s", "record", str(EXAMPLES / "spark-pi-python.yaml")], capsys)
    assert code == 2 and out == "" and "--spo" in err


def test_cli_import_writes_profile_and_summary(tmp_path, capsys):
    out = tmp_path / "cluster.json"
    code, _, err = run(["profile", "import", str(SPO / "recorded.yaml"), "--out", str(out)], capsys)
    assert code == 0, err
    assert json.loads(out.read_text())["defaultAction"] == "SCMP_ACT_ERRNO"
    assert load_summary(tmp_path / "cluster.summary.json").total_runs == 2
    code, explained, _ = run(["profile", "explain", str(out), "--json"], capsys)
    assert code == 0
    rows = {r["name"]: r for r in json.loads(explained)}
    assert list(rows["sendmmsg"]["workloads"]) == ["spo:etl-rec/spark-kubernetes-driver"]
