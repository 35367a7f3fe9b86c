"""Adversarial input for every k8s command, in-process through ``profiler.cli.main``.

Each error case: the documented exit code, exactly one ``error:`` line on stderr naming the
problem, no traceback, and no output file created or clobbered. Each lint case: the
findings expected, and no crash. Fixtures: tests/fixtures/k8s/adversarial/.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from profiler.cli import main

from .conftest import K8S_FIXTURES, PROFILE

FX = K8S_FIXTURES / "adversarial"
REPO_FIXTURES = Path(__file__).parents[2] / "fixtures"
SENTINEL = "precious output that must survive\n"

SPARKAPP = ["k8s", "sparkapp", "--main", "local:///opt/app/job.py", "--seccomp", "runtime-default"]
INSTALL = ["k8s", "install", "{profile}"]
RECORD = ["k8s", "record", "{fx}/app-ok.yaml", "--spo"]
DRY_RUN = ["k8s", "dry-run", "--plan"]
IMPORT = ["profile", "import"]

# (id, argv, exit code, fragment of the one error line)
ERRORS: list[tuple[str, list[str], int, str]] = [
    # k8s sparkapp
    ("sparkapp-bad-name", [*SPARKAPP, "--name", "Bad Name!"], 2, "--name 'Bad Name!'"),
    ("sparkapp-name-digit", [*SPARKAPP, "--name", "9lives"], 2, "DNS-1035"),
    ("sparkapp-name-empty", [*SPARKAPP, "--name", ""], 2, "--name ''"),
    ("sparkapp-name-64", [*SPARKAPP, "--name", "a" * 64], 2, "at most 63"),
    (
        "sparkapp-executors-huge",
        [*SPARKAPP, "--executors", "99999999999999999999"],
        2,
        "--executors 99999999999999999999 is out of range",
    ),
    ("sparkapp-executors-zero", [*SPARKAPP, "--executors", "0"], 2, "out of range"),
    ("sparkapp-executors-negative", [*SPARKAPP, "--executors", "-3"], 2, "out of range"),
    (
        "sparkapp-executors-text",
        [*SPARKAPP, "--executors", "many"],
        2,
        "Invalid value for '--executors'",
    ),
    ("sparkapp-namespace-space", [*SPARKAPP, "-n", "Spark Jobs"], 2, "not a valid namespace"),
    ("sparkapp-namespace-upper", [*SPARKAPP, "-n", "SPARK"], 2, "not a valid namespace"),
    ("sparkapp-namespace-64", [*SPARKAPP, "-n", "n" * 64], 2, "not a valid namespace"),
    ("sparkapp-version-x", [*SPARKAPP, "--spark-version", "4.x"], 2, "not a Spark version"),
    ("sparkapp-version-short", [*SPARKAPP, "--spark-version", "4.0"], 2, "not a Spark version"),
    ("sparkapp-version-v", [*SPARKAPP, "--spark-version", "v4.0.1"], 2, "not a Spark version"),
    ("sparkapp-version-empty", [*SPARKAPP, "--spark-version", ""], 2, "not a Spark version"),
    ("sparkapp-image-empty", [*SPARKAPP, "--image", ""], 2, "not an image reference"),
    ("sparkapp-image-space", [*SPARKAPP, "--image", "spark 4"], 2, "not an image reference"),
    (
        "sparkapp-main-empty",
        ["k8s", "sparkapp", "--main", "", "--seccomp", "runtime-default"],
        2,
        "--main ''",
    ),
    (
        "sparkapp-main-space",
        ["k8s", "sparkapp", "--main", "local:///a b.py", "--seccomp", "runtime-default"],
        2,
        "not a file name or URI",
    ),
    (
        "sparkapp-service-account",
        [*SPARKAPP, "--service-account", "Bad SA"],
        2,
        "--service-account",
    ),
    (
        "sparkapp-template-old-operator",
        [*SPARKAPP, "--style", "template", "--operator-version", "2.0.2"],
        2,
        "no pod template field",
    ),
    (
        "sparkapp-template-spark2",
        [*SPARKAPP, "--style", "template", "--spark-version", "2.4.8"],
        2,
        "no pod templates",
    ),
    ("sparkapp-operator-banana", [*SPARKAPP, "--operator-version", "banana"], 2, "not a version"),
    ("sparkapp-operator-1x", [*SPARKAPP, "--operator-version", "1.1.27"], 2, "not modelled"),
    ("sparkapp-style-bogus", [*SPARKAPP, "--style", "sideways"], 2, "sideways"),
    (
        "sparkapp-seccomp-bogus",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--seccomp", "maybe"],
        2,
        "maybe",
    ),
    (
        "sparkapp-profile-missing",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--profile", "/nonexistent/p.json"],
        2,
        "does not exist",
    ),
    (
        "sparkapp-profile-truncated",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--profile", "{truncated}"],
        2,
        "not valid JSON",
    ),
    (
        "sparkapp-profile-no-action",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--profile", "{no_action}"],
        2,
        "defaultAction: required key is missing",
    ),
    (
        "sparkapp-profile-dir-absolute",
        [
            "k8s",
            "sparkapp",
            "--main",
            "local:///a.py",
            "--profile",
            "{profile}",
            "--profile-dir",
            "/abs",
        ],
        2,
        "must be a relative path",
    ),
    (
        "sparkapp-profile-dir-up",
        [
            "k8s",
            "sparkapp",
            "--main",
            "local:///a.py",
            "--profile",
            "{profile}",
            "--profile-dir",
            "a/../b",
        ],
        2,
        "profile directory",
    ),
    (
        "sparkapp-one-role-profile",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--driver-profile", "{profile}"],
        2,
        "needs a profile for the driver and the executors",
    ),
    (
        "sparkapp-spo-bad-file-name",
        ["k8s", "sparkapp", "--main", "local:///a.py", "--profile", "{fx}/Driver_1.json", "--spo"],
        2,
        "cannot name a SeccompProfile",
    ),
    (
        "sparkapp-out-missing-dir",
        [*SPARKAPP, "--out", "{tmp}/no/such/dir/app.yaml"],
        2,
        "does not exist",
    ),
    # k8s install
    ("install-no-profile", ["k8s", "install"], 2, "Missing argument"),
    ("install-namespace", [*INSTALL, "-n", "Kube System"], 2, "not a valid namespace"),
    ("install-image-empty", [*INSTALL, "--image", ""], 2, "not an image reference"),
    ("install-pause-image", [*INSTALL, "--pause-image", "a b"], 2, "--pause-image"),
    ("install-kubelet-relative", [*INSTALL, "--kubelet-root", "var/lib/kubelet"], 2, "absolute"),
    ("install-profile-dir-absolute", [*INSTALL, "--profile-dir", "/abs"], 2, "relative path"),
    ("install-not-json-name", ["k8s", "install", "{fx}/profile.txt"], 2, "must be named *.json"),
    (
        "install-duplicate",
        ["k8s", "install", "{profile}", "{profile_copy}"],
        2,
        "both be installed",
    ),
    (
        "install-spo-bad-name",
        ["k8s", "install", "--spo", "{fx}/Driver_1.json"],
        2,
        "cannot name a SeccompProfile",
    ),
    ("install-spo-api", [*INSTALL, "--spo", "--spo-api-version", "v2"], 2, "v2"),
    ("install-truncated", ["k8s", "install", "{truncated}"], 2, "not valid JSON"),
    # k8s record --spo
    ("record-without-spo", ["k8s", "record", "{fx}/app-ok.yaml"], 2, "pass --spo"),
    ("record-bad-name", [*RECORD, "--name", "Pi Rec"], 2, "not a valid name"),
    ("record-dotted-name", [*RECORD, "--name", "pi.rec"], 2, "DNS-1123 label"),
    ("record-bad-label", [*RECORD, "--label", "bad key!=x"], 2, "not a label"),
    ("record-long-label-value", [*RECORD, "--label", "k=" + "v" * 64], 2, "not a label"),
    ("record-recorder", [*RECORD, "--recorder", "strace"], 2, "strace"),
    ("record-missing-file", ["k8s", "record", "/nonexistent.yaml", "--spo"], 2, "does not exist"),
    (
        "record-broken-yaml",
        ["k8s", "record", "{fx}/broken.yaml", "--spo"],
        2,
        "invalid YAML at line",
    ),
    ("record-two-apps", ["k8s", "record", "{fx}/app-twice.yaml", "--spo"], 2, "holds 2"),
    ("record-no-app", ["k8s", "record", "{fx}/pod-only.yaml", "--spo"], 2, "holds 0"),
    (
        "record-wrong-type",
        ["k8s", "record", "{fx}/app-instances-string.yaml", "--spo"],
        2,
        "spec.executor.instances is the string 'two'",
    ),
    ("record-duplicate-key", ["k8s", "record", "{fx}/app-two-kinds.yaml", "--spo"], 2, "twice"),
    ("record-spo-api", [*RECORD, "--spo-api-version", "v9"], 2, "v9"),
    (
        "record-same-outputs",
        [*RECORD, "--out", "{tmp}/same.yaml", "--app-out", "{tmp}/same.yaml"],
        2,
        "same file",
    ),
    # k8s dry-run (planning only: no engine)
    ("dry-run-localhost-no-profiles", [*DRY_RUN, "{fx}/app-localhost.yaml"], 2, "pass --profiles"),
    (
        "dry-run-profiles-missing",
        [*DRY_RUN, "{fx}/app-ok.yaml", "--profiles", "/nonexistent"],
        2,
        "profiles directory /nonexistent does not exist",
    ),
    ("dry-run-missing-file", [*DRY_RUN, "/nonexistent.yaml"], 2, "does not exist"),
    ("dry-run-broken-yaml", [*DRY_RUN, "{fx}/broken.yaml"], 2, "invalid YAML at line 4"),
    ("dry-run-not-utf8", [*DRY_RUN, "{fx}/not-utf8.yaml"], 2, "not UTF-8"),
    ("dry-run-deep", [*DRY_RUN, "{fx}/deep.yaml"], 2, "nested too deeply"),
    ("dry-run-no-app", [*DRY_RUN, "{fx}/pod-only.yaml"], 2, "no SparkApplication"),
    ("dry-run-cores-string", [*DRY_RUN, "{fx}/app-cores-string.yaml"], 2, "must be an integer"),
    ("dry-run-instances", [*DRY_RUN, "{fx}/app-instances-negative.yaml"], 2, "at least 1"),
    ("dry-run-memory", [*DRY_RUN, "{fx}/app-memory-bad.yaml"], 2, "'512 MB' is not"),
    ("dry-run-core-limit", [*DRY_RUN, "{fx}/app-corelimit-bad.yaml"], 2, "'lots' is not"),
    ("dry-run-two-kinds", [*DRY_RUN, "{fx}/app-two-kinds.yaml"], 2, "written twice"),
    ("dry-run-no-image", [*DRY_RUN, "{fx}/app-no-image.yaml"], 2, "no image for the driver"),
    ("dry-run-version", [*DRY_RUN, "{fx}/app-version-latest.yaml"], 2, "a version such as"),
    ("dry-run-type", [*DRY_RUN, "{fx}/app-bad-type.yaml"], 2, "spec.type"),
    ("dry-run-empty-main", [*DRY_RUN, "{fx}/app-empty-main.yaml"], 2, "must not be empty"),
    ("dry-run-bad-name", [*DRY_RUN, "{fx}/app-bad-name.yaml"], 2, "metadata.name"),
    ("dry-run-twice", [*DRY_RUN, "{fx}/app-twice.yaml"], 2, "also in"),
    (
        "dry-run-operator",
        [*DRY_RUN, "{fx}/app-ok.yaml", "--operator-version", "x"],
        2,
        "not a version",
    ),
    ("dry-run-executors", [*DRY_RUN, "{fx}/app-ok.yaml", "--executors", "0"], 2, "--executors"),
    ("dry-run-no-manifest", ["k8s", "dry-run"], 2, "no manifest given"),
    # profile import
    ("import-configmap", [*IMPORT, "{fx}/sp-configmap.yaml"], 2, "expected a SeccompProfile"),
    ("import-bad-action", [*IMPORT, "{fx}/sp-bad-action.yaml"], 2, "spec.defaultAction"),
    ("import-empty-names", [*IMPORT, "{fx}/sp-empty-names.yaml"], 2, "at least 1 item"),
    ("import-allow-all", [*IMPORT, "{fx}/sp-allow-all.yaml"], 2, "records nothing"),
    ("import-bad-name", [*IMPORT, "{fx}/sp-bad-name.yaml"], 2, "metadata.name"),
    ("import-wrong-api", [*IMPORT, "{fx}/sp-wrong-api.yaml"], 2, "apiVersion"),
    ("import-missing", [*IMPORT, "/nonexistent.yaml"], 2, "does not exist"),
    ("import-broken", [*IMPORT, "{fx}/broken.yaml"], 2, "invalid YAML"),
    ("import-empty", [*IMPORT, "{fx}/empty.yaml"], 2, "holds no SeccompProfile"),
    (
        "import-with-missing",
        [*IMPORT, "{spo}/recorded.yaml", "--with", "/nonexistent.json"],
        2,
        "does not exist",
    ),
    # k8s lint: input it cannot read at all
    (
        "lint-broken-yaml",
        ["k8s", "lint", "{fx}/broken.yaml", "{fx}/ports-int.yaml"],
        2,
        "invalid YAML",
    ),
    ("lint-not-utf8", ["k8s", "lint", "{fx}/not-utf8.yaml"], 2, "not UTF-8"),
    ("lint-deep", ["k8s", "lint", "{fx}/deep.yaml"], 2, "nested too deeply"),
    ("lint-missing", ["k8s", "lint", "/nonexistent.yaml", "{fx}/app-ok.yaml"], 2, "does not exist"),
]

# (id, files, exit code, findings by rule); exit 1 whenever an error-level finding exists.
LINT: list[tuple[str, list[str], int, dict[str, int]]] = [
    ("lint-kind-list", ["kind-list.yaml"], 1, {"invalid-field": 1}),
    ("lint-containers-int", ["containers-int.yaml"], 1, {"invalid-field": 1}),
    ("lint-containers-string", ["containers-string.yaml"], 1, {"invalid-field": 1}),
    ("lint-ports-int", ["ports-int.yaml"], 1, {"invalid-field": 1}),
    (
        "lint-drop-int",
        ["drop-int.yaml"],
        1,
        {"invalid-field": 1, "capabilities-not-dropped": 1},
    ),
    ("lint-two-kinds", ["two-kinds.yaml"], 1, {"duplicate-key": 1}),
    ("lint-label-bool", ["label-bool.yaml"], 1, {"invalid-field": 1}),
    (
        "lint-uid-string",
        ["uid-string.yaml"],
        1,
        {"invalid-field": 1, "run-as-non-root-without-uid": 1},
    ),
    ("lint-host-port-string", ["host-port-string.yaml"], 1, {"invalid-field": 1}),
    ("lint-list-items-int", ["list-items-int.yaml"], 1, {"invalid-field": 1}),
    ("lint-scalar", ["scalar.yaml"], 0, {}),
    ("lint-empty", ["empty.yaml"], 0, {}),
    ("lint-alias-bomb", ["alias-bomb.yaml"], 1, {"invalid-field": 9}),
    (
        "lint-bad-beside-good",
        ["containers-int.yaml", "app-ok.yaml", "ports-int.yaml"],
        1,
        {"invalid-field": 2, "writable-root-filesystem": 2},
    ),
    (
        "lint-app-bad-name",
        ["app-bad-name.yaml"],
        1,
        {"invalid-field": 1, "writable-root-filesystem": 2},
    ),
    ("lint-app-ok", ["app-ok.yaml"], 0, {"writable-root-filesystem": 2}),
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    profiles = tmp_path / "profiles"
    (profiles / "copy").mkdir(parents=True)
    profile = profiles / "driver.json"
    profile.write_text(json.dumps(PROFILE))
    (profiles / "copy" / "driver.json").write_text(json.dumps(PROFILE))
    return {
        "fx": str(FX),
        "tmp": str(tmp_path),
        "profile": str(profile),
        "profile_copy": str(profiles / "copy" / "driver.json"),
        "truncated": str(REPO_FIXTURES / "profiles" / "truncated.json"),
        "no_action": str(REPO_FIXTURES / "profiles" / "no_default_action.json"),
        "spo": str(K8S_FIXTURES / "spo"),
    }


def run(argv, capsys):
    with pytest.raises(SystemExit) as info:
        main(argv)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def output_option(argv: list[str]) -> str:
    if argv[:2] == ["k8s", "dry-run"]:
        return "--json"
    return "--out"


def test_the_corpus_is_large_enough():
    assert len(ERRORS) + len(LINT) >= 60
    assert len({case[0] for case in ERRORS + LINT}) == len(ERRORS) + len(LINT)


@pytest.mark.parametrize(
    ("argv", "code", "fragment"), [c[1:] for c in ERRORS], ids=[c[0] for c in ERRORS]
)
def test_bad_input_is_one_error_line_and_no_output(argv, code, fragment, env, tmp_path, capsys):
    argv = [a.format(**env) for a in argv]
    target = tmp_path / "out" / "result"
    target.parent.mkdir()
    existing = len(argv) % 2 == 0  # half the cases guard an existing file, half a new one
    if existing:
        target.write_text(SENTINEL)
    if not any(a in ("--out", "--json") for a in argv) and "Missing argument" not in fragment:
        argv = [*argv, output_option(argv), str(target)]
    exit_code, out, err = run(argv, capsys)
    assert exit_code == code, (out, err)
    error_lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1, err
    assert fragment in " ".join(err.split()), err
    assert "Traceback" not in err and "Traceback" not in out
    if existing:
        assert target.read_text() == SENTINEL
    else:
        assert not target.exists()
    assert sorted(p.name for p in target.parent.iterdir()) == (["result"] if existing else [])


@pytest.mark.parametrize(
    ("files", "code", "expected"), [c[1:] for c in LINT], ids=[c[0] for c in LINT]
)
def test_lint_reports_what_it_cannot_use_and_keeps_going(files, code, expected, capsys):
    argv = ["k8s", "lint", *(str(FX / f) for f in files), "--format", "json"]
    exit_code, out, err = run(argv, capsys)
    assert exit_code == code, err
    assert "Traceback" not in err and "error:" not in err
    findings = json.loads(out)["findings"]
    assert Counter(f["rule"] for f in findings) == Counter(expected)
    for finding in findings:
        assert finding["line"] is not None and finding["file"].startswith(str(FX))
