"""`k8s dry-run` planning and execution against a fake backend: no Docker engine needed."""

import json
from pathlib import Path

import pytest

from profiler.check import Verdict
from profiler.cli import main
from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.sparkapp import Seccomp, SparkAppSpec, Style, build_sparkapp
from profiler.runtime.interface import RunSpec, SecurityMode
from tests.fakes import FakeBackend

from .conftest import PROFILE

IMAGE = "spark-seccomp/spark:3.5.7"


def sparkapp(style=Style.TEMPLATE, seccomp=Seccomp.LOCALHOST, main="local:///opt/app/job.py"):
    localhost = seccomp is Seccomp.LOCALHOST
    return build_sparkapp(
        SparkAppSpec(
            name="job",
            image=IMAGE,
            main_application_file=main,
            spark_version="3.5.7",
            style=style,
            seccomp=seccomp,
            driver_profile="spark-seccomp/driver.json" if localhost else None,
            executor_profile="spark-seccomp/executor.json" if localhost else None,
        )
    )


@pytest.fixture
def seccomp_root(tmp_path: Path) -> Path:
    """A directory laid out like <kubelet-root>/seccomp with both profiles installed."""
    root = tmp_path / "seccomp"
    (root / "spark-seccomp").mkdir(parents=True)
    for role in ("driver", "executor"):
        (root / "spark-seccomp" / f"{role}.json").write_text(
            json.dumps({**PROFILE, "defaultErrnoRet": 1 if role == "driver" else 38})
        )
    return root


def plan(manifest, root, **kwargs):
    kwargs.setdefault("workload", "rdd_python")
    return dry_run.plan_dry_run(manifest, root, **kwargs)


def specs(p):
    return {r.role: r.run for r in p.roles}


def passing(_spec):
    return 0, False, "abc", ""


@pytest.mark.parametrize("style", [Style.TEMPLATE, Style.FIELDS])
def test_localhost_profiles_resolve_under_the_seccomp_root(style, seccomp_root):
    p = plan(sparkapp(style), seccomp_root)
    for role, spec in specs(p).items():
        assert isinstance(spec, RunSpec), spec
        assert spec.mode is SecurityMode.LOCALHOST
        path = seccomp_root / "spark-seccomp" / f"{role}.json"
        assert spec.profile_json == path.read_text()
        assert spec.profile_label == f"{seccomp_root}/spark-seccomp/{role}.json"
        assert spec.image == IMAGE
        assert spec.workload.name == "rdd_python"
    assert [r.seccomp for r in p.roles] == [
        "Localhost spark-seccomp/driver.json",
        "Localhost spark-seccomp/executor.json",
    ]
    assert p.image_from_manifest


@pytest.mark.parametrize("style", [Style.TEMPLATE, Style.FIELDS])
def test_security_context_becomes_the_container_security(style, seccomp_root):
    for role in plan(sparkapp(style), seccomp_root).roles:
        assert isinstance(role.run, RunSpec)
        security = role.run.container_security
        assert (security.user, security.group) == (185, 185)
        assert role.user == "185:185"
        assert security.no_new_privileges  # allowPrivilegeEscalation: false
        assert security.cap_drop == ("ALL",)
        assert security.read_only_root
        # emptyDir volumes become the writable paths (tmpfs) of a read-only root.
        assert set(security.writable_paths) == {
            "/tmp",
            "/home/spark",
            "/opt/spark/work",
            "/var/data/spark-local-dir-1",
        }
        assert security.network
        assert not security.privileged


def test_allow_privilege_escalation_and_run_as_user_are_taken_as_written(seccomp_root):
    manifest = sparkapp(Style.FIELDS)
    manifest["spec"]["driver"]["securityContext"]["allowPrivilegeEscalation"] = True
    manifest["spec"]["driver"]["podSecurityContext"]["runAsUser"] = 1000
    del manifest["spec"]["driver"]["podSecurityContext"]["runAsGroup"]
    del manifest["spec"]["executor"]["podSecurityContext"]["runAsUser"]
    del manifest["spec"]["executor"]["podSecurityContext"]["runAsGroup"]
    driver, executor = plan(manifest, seccomp_root).roles
    assert isinstance(driver.run, RunSpec) and isinstance(executor.run, RunSpec)
    assert not driver.run.container_security.no_new_privileges
    assert driver.run.container_security.user == 1000
    assert driver.user == "1000"
    assert executor.run.container_security.user is None
    assert executor.user == "image"


def test_missing_profile_fails_the_role_without_a_run(seccomp_root):
    (seccomp_root / "spark-seccomp" / "executor.json").unlink()
    p = plan(sparkapp(), seccomp_root)
    driver, executor = p.roles
    assert isinstance(driver.run, RunSpec)
    assert isinstance(executor.run, dry_run.CannotStart)
    assert executor.run.reason == "CreateContainerError"
    missing = seccomp_root / "spark-seccomp" / "executor.json"
    assert str(executor.run) == (
        f'CreateContainerError: cannot load seccomp profile "{missing}": open {missing}: '
        "no such file or directory (on a node: /var/lib/kubelet/seccomp/spark-seccomp/executor.json)"
    )

    backend = FakeBackend(passing)
    report = dry_run.run_dry_run(backend, p)
    assert [s.workload.name for s in backend.specs] == ["rdd_python"]  # the driver only
    assert backend.specs[0] is driver.run
    verdicts = {o.plan.role: o.verdict for o in report.outcomes}
    assert verdicts == {"driver": Verdict.PASS, "executor": Verdict.FAIL}
    assert not report.passed
    executor_outcome = report.outcomes[1]
    assert not executor_outcome.started
    assert executor_outcome.short_error == (
        "CreateContainerError: no profile file spark-seccomp/executor.json"
    )


def test_no_role_can_start_needs_no_backend(seccomp_root, tmp_path):
    p = plan(sparkapp(), tmp_path / "empty")
    assert not p.runnable
    report = dry_run.run_dry_run(None, p)
    assert [o.verdict for o in report.outcomes] == [Verdict.FAIL, Verdict.FAIL]


def test_a_flat_profile_is_not_where_the_kubelet_looks(seccomp_root):
    (seccomp_root / "spark-seccomp" / "driver.json").rename(seccomp_root / "driver.json")
    driver = plan(sparkapp(), seccomp_root).roles[0]
    assert isinstance(driver.run, dry_run.CannotStart)
    assert f"{seccomp_root / 'driver.json'} exists" in driver.run.message


def test_a_profile_the_runtime_cannot_decode_fails_the_role(seccomp_root):
    (seccomp_root / "spark-seccomp" / "driver.json").write_text("{not json")
    driver = plan(sparkapp(), seccomp_root).roles[0]
    assert isinstance(driver.run, dry_run.CannotStart)
    assert driver.run.reason == "CreateContainerError"
    assert "decoding seccomp profile" in driver.run.message


def set_seccomp(manifest, role, value):
    context = manifest["spec"][role]["template"]["spec"]["securityContext"]
    if value is None:
        del context["seccompProfile"]
    else:
        context["seccompProfile"] = value


def test_runtime_default_unconfined_and_unset(seccomp_root):
    manifest = sparkapp(seccomp=Seccomp.RUNTIME_DEFAULT)
    set_seccomp(manifest, "executor", {"type": "Unconfined"})
    driver, executor = plan(manifest, seccomp_root).roles
    assert isinstance(driver.run, RunSpec) and isinstance(executor.run, RunSpec)
    assert driver.run.mode is SecurityMode.RUNTIME_DEFAULT
    assert driver.run.profile_json is None
    assert executor.run.mode is SecurityMode.UNCONFINED
    assert any("without any seccomp filter" in n for n in executor.notes)

    set_seccomp(manifest, "executor", None)
    executor = plan(manifest, seccomp_root).roles[1]
    assert isinstance(executor.run, RunSpec)
    assert executor.run.mode is SecurityMode.UNCONFINED
    assert executor.seccomp == "Unconfined (not set)"
    assert any("no seccompProfile" in n for n in executor.notes)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"type": "Localhost"}, "localhostProfile: Required value"),
        ({"type": "Localhost", "localhostProfile": "/abs.json"}, "is absolute"),
        ({"type": "Localhost", "localhostProfile": "../up.json"}, "contains '..'"),
        ({"type": "Sometimes"}, 'Unsupported value: "Sometimes"'),
    ],
)
def test_seccomp_the_api_server_rejects(value, expected, seccomp_root):
    manifest = sparkapp()
    set_seccomp(manifest, "driver", value)
    driver = plan(manifest, seccomp_root).roles[0]
    assert isinstance(driver.run, dry_run.CannotStart)
    assert driver.run.reason == "Invalid"
    assert expected in driver.run.message


def test_local_scheme_needs_a_workload(seccomp_root):
    with pytest.raises(UsageError, match="inside the image"):
        plan(sparkapp(), seccomp_root, workload=None)


@pytest.mark.parametrize("scheme", ["", "file://"])
def test_main_application_file_on_this_host_is_the_job(scheme, seccomp_root, tmp_path):
    script = tmp_path / "my_job.py"
    script.write_text("print('hi')\n")
    p = plan(sparkapp(main=f"{scheme}{script}"), seccomp_root, workload=None)
    assert p.workload.path == script.resolve()
    assert not p.notes
    overridden = plan(sparkapp(main=str(script)), seccomp_root, workload="rdd_python")
    assert overridden.workload.name == "rdd_python"
    assert any("instead of mainApplicationFile" in n for n in overridden.notes)


@pytest.mark.parametrize(
    ("main", "expected"),
    [
        ("s3a://bucket/job.py", "remote"),
        ("/no/such/job.py", "inside the image"),  # a bare absolute path: the image's
        ("no/such/job.py", "does not exist here"),
    ],
)
def test_unreachable_application_file_needs_a_workload(main, expected, seccomp_root):
    with pytest.raises(UsageError, match=expected):
        plan(sparkapp(main=main), seccomp_root, workload=None)


def test_image_comes_from_the_manifest_unless_overridden(seccomp_root):
    p = plan(sparkapp(), seccomp_root, image="mine:1")
    assert p.image == "mine:1"
    assert not p.image_from_manifest
    assert all(isinstance(r.run, RunSpec) and r.run.image == "mine:1" for r in p.roles)
    manifest = sparkapp()
    del manifest["spec"]["image"]
    with pytest.raises(UsageError, match="no image for the driver"):
        plan(manifest, seccomp_root)


def test_a_failing_run_reports_its_error_line(seccomp_root):
    def executor_breaks(spec):
        if len(backend.specs) == 2:  # the executor, which runs second
            return 1, False, None, "java.lang.OutOfMemoryError: pthread_create failed (EPERM)"
        return passing(spec)

    backend = FakeBackend(executor_breaks)
    report = dry_run.run_dry_run(backend, plan(sparkapp(), seccomp_root))
    assert len(backend.specs) == 2
    driver, executor = report.outcomes
    assert driver.verdict is Verdict.PASS and driver.error_line == ""
    assert executor.verdict is Verdict.FAIL
    assert executor.error_line == (
        "exit 1: java.lang.OutOfMemoryError: pthread_create failed (EPERM)"
    )
    assert executor.wall_seconds == 12.0
    assert not report.passed


def test_cli_missing_profile_exits_1_without_an_engine(seccomp_root, tmp_path, capsys):
    from profiler.k8s.manifests import render

    (seccomp_root / "spark-seccomp" / "driver.json").unlink()
    (seccomp_root / "spark-seccomp" / "executor.json").unlink()
    manifest = tmp_path / "app.yaml"
    manifest.write_text(render([sparkapp()]))
    args = ["k8s", "dry-run", str(manifest), "--profiles", str(seccomp_root)]
    with pytest.raises(SystemExit) as info:
        main([*args, "--workload", "rdd_python"])
    assert info.value.code == 1
    out = capsys.readouterr().out
    missing = seccomp_root / "spark-seccomp" / "driver.json"
    assert f'driver: CreateContainerError: cannot load seccomp profile "{missing}"' in out
    assert "not started" in out

    with pytest.raises(SystemExit) as info:
        main(args)  # local:// and no --workload
    assert info.value.code == 2
    assert "--workload" in " ".join(capsys.readouterr().err.split())


def test_a_manifest_image_the_engine_lacks_says_to_pass_image(seccomp_root):
    from docker.errors import ImageNotFound

    from profiler.errors import EnvironmentProblem
    from profiler.runtime.docker import DockerBackend

    class NoImages:
        def get(self, name):
            raise ImageNotFound(name)

    class Client:
        images = NoImages()

    backend = DockerBackend(client=Client())
    with pytest.raises(EnvironmentProblem, match="manifest's image") as info:
        dry_run.run_dry_run(backend, plan(sparkapp(), seccomp_root))
    assert "--image" in (info.value.hint or "")
    with pytest.raises(EnvironmentProblem, match="mine:1 does not exist"):
        dry_run.run_dry_run(backend, plan(sparkapp(), seccomp_root, image="mine:1"))


EXAMPLES = Path(__file__).parents[2] / "fixtures" / "k8s" / "operator-examples"


def cli(args, capsys):
    with pytest.raises(SystemExit) as info:
        main(args)
    captured = capsys.readouterr()
    return info.value.code, captured.out, captured.err


def test_cli_plan_of_the_operator_python_example_needs_no_profiles(tmp_path, capsys):
    out_json, out_junit = tmp_path / "plan.json", tmp_path / "plan.xml"
    args = ["k8s", "dry-run", str(EXAMPLES / "spark-pi-python.yaml"), "--plan"]
    code, out, err = cli([*args, "--json", str(out_json), "--junit", str(out_junit)], capsys)
    assert code == 0, err
    assert "default/spark-pi-python" in out and "RuntimeDefault" in out and "896 MiB" in out
    assert "Traceback" not in err and "error:" not in err
    data = json.loads(out_json.read_text())
    [app] = data["applications"]
    assert app["runnable"] and app["plan"]["spark_version"] == "4.0.4"
    assert 'failures="0"' in out_junit.read_text()


def test_cli_plan_reports_a_missing_profile_as_the_kubelet_would(seccomp_root, tmp_path, capsys):
    manifest = tmp_path / "app.yaml"
    from profiler.k8s.manifests import render

    manifest.write_text(render([sparkapp()]))
    (seccomp_root / "spark-seccomp" / "executor.json").unlink()
    args = ["k8s", "dry-run", str(manifest), "--profiles", str(seccomp_root), "--plan"]
    code, out, err = cli(args, capsys)
    assert code == 1
    assert "executor: CreateContainerError: cannot load seccomp profile" in " ".join(out.split())


def test_cli_localhost_without_profiles_is_one_error_line(tmp_path, capsys):
    from profiler.k8s.manifests import render

    manifest = tmp_path / "app.yaml"
    manifest.write_text(render([sparkapp()]))
    code, out, err = cli(["k8s", "dry-run", str(manifest), "--plan"], capsys)
    assert code == 2 and out == ""
    lines = [line for line in err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "--profiles" in " ".join(err.split())


def test_cli_runs_through_one_swappable_function(tmp_path, capsys, monkeypatch):
    calls = []

    def fake_run_plans(apps, backend_factory, **kwargs):
        calls.append((apps, kwargs))
        return tuple(
            dry_run.run_dry_run(
                None,
                dry_run.DryRunPlan(
                    a.driver.image,
                    True,
                    dry_run.workloads_lib.resolve("rdd_python"),
                    tuple(
                        dry_run.RolePlan(
                            r.role, r.seccomp.label, r.user, dry_run.CannotStart("X", "y")
                        )
                        for r in a.roles
                    ),
                    app=a,
                ),
            )
            for a in apps
        )

    monkeypatch.setattr(dry_run, "run_plans", fake_run_plans)
    code, out, _ = cli(["k8s", "dry-run", str(EXAMPLES / "spark-pi-python.yaml")], capsys)
    assert code == 1 and len(calls) == 1
    [apps] = [c[0] for c in calls]
    assert apps[0].name == "spark-pi-python"
