"""`spark-seccomp k8s ...` in-process: exact exit codes, results on stdout, logs on stderr."""

import io
import json
from pathlib import Path

import pytest
import yaml

from profiler.cli import main
from profiler.k8s.lint import lint_text
from profiler.k8s.rules import RULES

from .conftest import K8S_FIXTURES
from .schema import check_sparkapp, validate_core


def run(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def flat(text):
    """Error lines as one string: the console may wrap a long message."""
    return " ".join(text.split())


def sparkapp_args(profiles, *extra):
    return [
        "k8s",
        "sparkapp",
        "--main",
        "local:///opt/app/job.py",
        "--image",
        "spark-seccomp/spark:3.5.7",
        "--driver-profile",
        str(profiles["driver"]),
        "--executor-profile",
        str(profiles["executor"]),
        *extra,
    ]


@pytest.mark.parametrize("style", ["template", "fields"])
def test_sparkapp_to_stdout_validates_and_lints_clean(style, profiles, capsys):
    code, out, err = run(sparkapp_args(profiles, "--style", style, "-n", "jobs"), capsys)
    assert code == 0, err
    doc = yaml.safe_load(out)
    check_sparkapp(doc)
    assert doc["metadata"]["namespace"] == "jobs"
    assert lint_text(out, "app.yaml", profiles["driver"].parent).findings == ()
    # Same input, same bytes.
    assert run(sparkapp_args(profiles, "--style", style, "-n", "jobs"), capsys)[1] == out


def test_sparkapp_one_profile_for_both(profiles, capsys):
    args = ["k8s", "sparkapp", "--main", "local:///a.py", "--profile", str(profiles["driver"])]
    code, out, _ = run(args, capsys)
    assert code == 0
    assert out.count("localhostProfile: spark-seccomp/driver.json") == 2


def test_sparkapp_runtime_default_and_out_file(tmp_path: Path, capsys):
    target = tmp_path / "app.yaml"
    args = ["k8s", "sparkapp", "--main", "local:///a.py", "--seccomp", "runtime-default"]
    code, out, err = run([*args, "--out", str(target)], capsys)
    assert code == 0 and out == ""
    assert f"wrote {target}" in err
    assert "type: RuntimeDefault" in target.read_text()
    assert "localhostProfile" not in target.read_text()


def test_sparkapp_spo_paths_match_install_spo(profiles, capsys):
    _, out, _ = run(sparkapp_args(profiles, "--spo"), capsys)
    assert "localhostProfile: operator/driver.json" in out
    code, out, err = run(["k8s", "install", "--spo", str(profiles["driver"])], capsys)
    assert code == 0
    assert yaml.safe_load(out)["metadata"]["name"] == "driver"
    assert "localhostProfile: operator/driver.json" in err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--profile", "{driver}", "--driver-profile", "{driver}"], "--profile sets both roles"),
        (["--driver-profile", "{driver}"], "needs a profile for the driver and the executors"),
        ([], "needs a profile"),
        (["--seccomp", "runtime-default", "--profile", "{driver}"], "takes no profile"),
        (["--profile", "/nonexistent/p.json"], "does not exist"),
        (["--profile", "{driver}", "--profile-dir", "/abs"], "must be a relative path"),
        (["--style", "sideways", "--profile", "{driver}"], "sideways"),
    ],
)
def test_sparkapp_usage_errors(extra, message, profiles, capsys):
    extra = [e.format(driver=profiles["driver"]) for e in extra]
    code, out, err = run(["k8s", "sparkapp", "--main", "local:///a.py", *extra], capsys)
    assert code == 2
    assert out == ""
    assert message in flat(err)
    assert "Traceback" not in err


def test_sparkapp_rejects_a_file_that_is_not_a_profile(tmp_path: Path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text('{"syscalls": []}')
    code, _, err = run(["k8s", "sparkapp", "--main", "x", "--profile", str(bad)], capsys)
    assert code == 2 and "defaultAction" in flat(err)


def test_install_paths_match_sparkapp(profiles, tmp_path: Path, capsys):
    code, out, err = run(
        [
            "k8s",
            "install",
            str(profiles["driver"]),
            str(profiles["executor"]),
            "--kubelet-root",
            "/data/kubelet",
            "--profile-dir",
            "team/spark",
        ],
        capsys,
    )
    assert code == 0, err
    config_map, daemon_set = yaml.safe_load_all(out)
    validate_core(config_map)
    validate_core(daemon_set)
    host = daemon_set["spec"]["template"]["spec"]["volumes"][1]["hostPath"]["path"]
    assert host == "/data/kubelet/seccomp/team/spark"
    assert config_map["data"]["driver.json"] == profiles["driver"].read_text()
    assert "localhostProfile: team/spark/driver.json" in err
    _, app, _ = run(sparkapp_args(profiles, "--profile-dir", "team/spark"), capsys)
    assert "localhostProfile: team/spark/driver.json" in app
    assert "localhostProfile: team/spark/executor.json" in app


def test_install_rejects_duplicate_names(profiles, tmp_path: Path, capsys):
    other = tmp_path / "other"
    other.mkdir()
    copy = other / "driver.json"
    copy.write_text(profiles["driver"].read_text())
    code, _, err = run(["k8s", "install", str(profiles["driver"]), str(copy)], capsys)
    assert code == 2 and "both be installed as driver.json" in flat(err)


def test_install_output_lints_clean(profiles, capsys):
    _, out, _ = run(["k8s", "install", str(profiles["driver"])], capsys)
    report = lint_text(out, "install.yaml")
    assert report.findings == ()


def test_lint_exit_codes_and_formats(capsys):
    fixture = str(K8S_FIXTURES / "container-field-at-pod-level.yaml")
    code, out, err = run(["k8s", "lint", fixture], capsys)
    assert code == 1
    assert "[container-field-at-pod-level]" in out
    assert (
        "fix: move allowPrivilegeEscalation to "
        "spec.driver.template.spec.containers[0].securityContext.allowPrivilegeEscalation"
    ) in out
    assert "4 finding(s) (4 error) in 1 document(s)" in err

    code, out, _ = run(["k8s", "lint", fixture, "--format", "json", "--fail-on", "never"], capsys)
    assert code == 0
    assert json.loads(out)["summary"]["error"] == 4

    code, out, _ = run(["k8s", "lint", fixture, "--format", "sarif"], capsys)
    assert code == 1
    assert json.loads(out)["version"] == "2.1.0"


def test_lint_fail_on_threshold(capsys):
    warning_only = str(K8S_FIXTURES / "writable-root-filesystem.yaml")
    assert run(["k8s", "lint", warning_only], capsys)[0] == 0
    assert run(["k8s", "lint", warning_only, "--fail-on", "warning"], capsys)[0] == 1
    assert run(["k8s", "lint", warning_only, "--fail-on", "info"], capsys)[0] == 1


def test_lint_clean_file(capsys):
    code, out, err = run(["k8s", "lint", str(K8S_FIXTURES / "clean.yaml")], capsys)
    assert (code, out) == (0, "")
    assert "0 finding(s) in 4 document(s)" in err


def test_lint_profiles_option(profiles, capsys):
    fixture = str(K8S_FIXTURES / "seccomp-profile-not-found.yaml")
    assert run(["k8s", "lint", fixture], capsys)[0] == 0
    code, out, _ = run(
        ["k8s", "lint", fixture, "--profiles", str(profiles["driver"].parent)], capsys
    )
    assert code == 1 and "[seccomp-profile-not-found]" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([str(K8S_FIXTURES / "invalid-yaml.txt")], "invalid YAML at line 6, column 5"),
        (["/nonexistent.yaml"], "/nonexistent.yaml: does not exist"),
        (
            [str(K8S_FIXTURES / "clean.yaml"), "--format", "xml"],
            "'xml' is not one of 'text', 'json', 'sarif'",
        ),
        (
            [str(K8S_FIXTURES / "clean.yaml"), "--fail-on", "fatal"],
            "'fatal' is not one of 'error', 'warning', 'info', 'never'",
        ),
    ],
)
def test_lint_usage_errors_are_one_liners(args, message, capsys):
    code, out, err = run(["k8s", "lint", *args], capsys)
    assert code == 2
    assert out == "" or "[invalid-yaml]" in out
    assert message in flat(err)
    assert err.count("error:") == 1 and "Traceback" not in err


def test_lint_out_file(tmp_path: Path, capsys):
    target = tmp_path / "findings.sarif"
    fixture = str(K8S_FIXTURES / "privileged.yaml")
    code, out, _ = run(["k8s", "lint", fixture, "-f", "sarif", "--out", str(target)], capsys)
    assert code == 1 and out == ""
    assert json.loads(target.read_text())["runs"][0]["results"][0]["ruleId"] == "privileged"


def test_every_k8s_command_is_documented(capsys):
    for command in ("sparkapp", "install", "lint", "record", "dry-run"):
        code, out, _ = run(["k8s", command, "--help"], capsys)
        assert code == 0 and "Usage:" in out


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text.encode())))


def test_lint_reads_a_folder_recursively_and_says_which_files(tmp_path: Path, capsys):
    folder = tmp_path / "rendered"
    (folder / "templates").mkdir(parents=True)
    (folder / ".git").mkdir()
    (folder / "a.yaml").write_text((K8S_FIXTURES / "privileged.yaml").read_text())
    (folder / "templates" / "b.yml").write_text((K8S_FIXTURES / "clean.yaml").read_text())
    (folder / "values.txt").write_text("not: a manifest\n")
    (folder / ".git" / "c.yaml").write_text("broken: [\n")
    code, out, err = run(["k8s", "lint", f"{folder}/"], capsys)
    assert code == 1
    assert f"{folder / 'a.yaml'}:" in out and "b.yml" not in out
    assert err.splitlines()[0] == f"read {folder}: 2 file(s): a.yaml, templates/b.yml"
    assert err.splitlines()[-1].endswith("in 5 document(s)")


def test_lint_a_folder_without_manifests_is_a_usage_error(tmp_path: Path, capsys):
    code, out, err = run(["k8s", "lint", str(tmp_path)], capsys)
    assert (code, out) == (2, "")
    assert err == (
        f"error: directory {tmp_path} holds no *.yaml or *.yml files (pass the directory "
        "of the manifests, or the files themselves)\n"
    )


def test_lint_reads_standard_input(monkeypatch, capsys):
    _stdin(monkeypatch, (K8S_FIXTURES / "spark-connect-pod-level-fields.yaml").read_text())
    code, out, err = run(["k8s", "lint", "-", "--format", "json"], capsys)
    assert code == 1
    findings = json.loads(out)["findings"]
    assert {f["file"] for f in findings} == {"<stdin>"}
    assert findings[0]["line"] == 31
    assert err == "10 finding(s) (8 error, 2 warning) in 1 document(s)\n"


def test_lint_stdin_named_twice_is_a_usage_error(monkeypatch, capsys):
    _stdin(monkeypatch, "")
    code, _, err = run(["k8s", "lint", "-", "-"], capsys)
    assert code == 2 and "- (standard input) is named twice" in err


def test_lint_without_files_says_how_to_give_them(capsys):
    code, out, err = run(["k8s", "lint"], capsys)
    assert (code, out) == (2, "")
    assert err == (
        "error: no manifest given (pass YAML files, a directory of them, or - for standard input)\n"
    )


def test_lint_list_rules_text_and_json(capsys):
    code, out, err = run(["k8s", "lint", "--list-rules"], capsys)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert lines[0].split() == ["rule", "severity", "what", "it", "finds"]
    assert len(lines) == 1 + len(RULES)
    assert lines[1].split()[:2] == ["invalid-yaml", "error"]
    code, out, _ = run(["k8s", "lint", "--list-rules", "--format", "json"], capsys)
    rules = json.loads(out)
    assert [r["id"] for r in rules] == [r.id for r in RULES]
    assert rules[-1] == {
        "id": "writable-root-filesystem",
        "severity": "warning",
        "description": "The root filesystem is writable",
        "fix": RULES[-1].fix,
        "pss_restricted": False,
    }


def test_lint_disable_turns_rules_off_for_the_run(capsys):
    fixture = str(K8S_FIXTURES / "writable-root-filesystem.yaml")
    code, out, err = run(["k8s", "lint", fixture, "--fail-on", "warning"], capsys)
    assert code == 1 and "[writable-root-filesystem]" in out
    args = ["k8s", "lint", fixture, "--fail-on", "warning", "--disable", "writable-root-filesystem"]
    code, out, err = run(args, capsys)
    assert (code, out) == (0, "")
    assert err.endswith("; rules off for this run: writable-root-filesystem\n")


def test_lint_disable_rejects_an_unknown_rule_with_the_list(capsys):
    fixture = str(K8S_FIXTURES / "clean.yaml")
    code, out, err = run(["k8s", "lint", fixture, "--disable", "privileged,typo"], capsys)
    assert (code, out) == (2, "")
    assert err.startswith("error: unknown lint rule 'typo' (choose from invalid-yaml, ")
    assert err.endswith("(see `k8s lint --list-rules`))\n")


def test_dry_run_plan_reads_folders_and_standard_input(tmp_path: Path, monkeypatch, capsys):
    examples = K8S_FIXTURES / "operator-examples"
    code, out, err = run(["k8s", "dry-run", "--plan", str(examples)], capsys)
    assert code == 0
    assert err.splitlines()[0].startswith(f"read {examples}: 5 file(s): spark-pi-emptydir.yaml")
    titles = [line for line in out.splitlines() if "SparkApplication default/" in line]
    assert len(titles) == 5
    _stdin(monkeypatch, (examples / "spark-pi-python.yaml").read_text())
    code, out, err = run(["k8s", "dry-run", "--plan", "-"], capsys)
    assert code == 0
    assert out.splitlines()[0].startswith(
        "SparkApplication default/spark-pi-python (<stdin>): Python "
    )


def test_sparkapp_without_image_says_the_default_is_a_local_image(capsys):
    args = ["k8s", "sparkapp", "--main", "local:///a.py", "--seccomp", "runtime-default"]
    code, out, err = run([*args, "--spark-version", "4.0.1"], capsys)
    assert code == 0
    assert "image: spark-seccomp/spark:4.0.1" in out
    assert err == (
        "warning: no --image given: spark-seccomp/spark:4.0.1 is this machine's image (built "
        "by `spark-seccomp image build`), which no registry serves, so a cluster's nodes "
        "cannot pull it; push it to a registry your cluster pulls from (or load it into a "
        "kind or minikube node) and pass --image REGISTRY/spark:4.0.1, or pass your own "
        "Spark image\n"
    )
    code, _, err = run([*args, "--image", "registry.example.com/spark:3.5.9"], capsys)
    assert (code, err) == (0, "")


REFERENCE_PROFILES = Path(__file__).parents[3] / "profiles"


@pytest.mark.parametrize(
    ("version", "warned"), [("4.3.0", True), ("4.0.1", True), ("3.5.9", False), ("3.5.2", False)]
)
def test_sparkapp_warns_when_the_profile_was_recorded_on_another_spark_line(
    version, warned, capsys
):
    profile = REFERENCE_PROFILES / "spark-3.5.9-amd64.json"
    args = ["k8s", "sparkapp", "--main", "local:///a.py", "--image", f"my/spark:{version}"]
    code, _, err = run([*args, "--profile", str(profile), "--spark-version", version], capsys)
    assert code == 0
    lines = [line for line in err.splitlines() if line.startswith("warning:")]
    if not warned:
        assert lines == []
        return
    # The driver and executor profiles beside the union are the ones used: one line each.
    assert lines == [
        f"warning: {REFERENCE_PROFILES / f'spark-3.5.9-amd64.{role}.json'} was recorded on "
        f"Spark 3.5.9, but sparkVersion is {version}: each Spark line makes calls the other "
        f"does not, so a job may be denied one; record the profile on Spark {version} "
        "(`spark-seccomp record --image` with that version's image) or merge such a "
        "recording in"
        for role in ("driver", "executor")
    ]


def test_sparkapp_does_not_judge_a_profile_without_a_summary(profiles, capsys):
    code, _, err = run(sparkapp_args(profiles, "--spark-version", "4.3.0"), capsys)
    assert code == 0
    assert "recorded on" not in err


PI = K8S_FIXTURES / "operator-examples" / "spark-pi-python.yaml"


def test_dry_run_plan_json_to_stdout_moves_the_table_to_stderr(capsys):
    code, out, err = run(["k8s", "dry-run", "--plan", str(PI), "--json", "-"], capsys)
    assert code == 0
    data = json.loads(out)
    assert data == json.loads(run(["k8s", "dry-run", "--plan", str(PI), "-f", "json"], capsys)[1])
    assert "role      image" in err  # the table, for the person at the terminal


def test_dry_run_plan_formats_and_out(tmp_path: Path, capsys):
    junit = tmp_path / "plan.xml"
    code, out, err = run(
        ["k8s", "dry-run", "--plan", str(PI), "-f", "junit", "-o", str(junit)], capsys
    )
    assert code == 0
    assert junit.read_text().startswith("<?xml") or "<testsuites" in junit.read_text()
    assert out.splitlines()[0].startswith("SparkApplication default/spark-pi-python")
    text = tmp_path / "plan.txt"
    code, out, err = run(["k8s", "dry-run", "--plan", str(PI), "-o", str(text)], capsys)
    assert (code, out) == (0, "")
    assert text.read_text().splitlines()[1].split()[:3] == ["role", "image", "seccomp"]
    assert f"wrote {text}" in err


def test_dry_run_two_documents_on_stdout_are_refused_before_any_work(capsys):
    args = ["k8s", "dry-run", "--plan", str(PI), "-f", "json", "--junit", "-"]
    code, out, err = run(args, capsys)
    assert (code, out) == (2, "")
    assert err == (
        "error: --format json and --junit would both write to stdout (send one of them to a file)\n"
    )
