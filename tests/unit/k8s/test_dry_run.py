"""`k8s dry-run` planning and execution against a fake backend: no Docker engine needed."""

import json
from pathlib import Path

import pytest

from profiler.check import Verdict
from profiler.cli import main
from profiler.errors import UsageError
from profiler.k8s import dry_run
from profiler.k8s.sparkapp import Seccomp, SparkAppSpec, Style, build_sparkapp
from profiler.runtime.interface import (
    Backend,
    ContainerResult,
    Role,
    RunResult,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.workloads import WorkloadResult
from tests.fakes import FakeEngine

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
    """Each role's settings in the plan's one pod run."""
    assert isinstance(p.run, RunSpec), p.notes
    return {
        "driver": p.run.settings_for(Role.DRIVER),
        "executor": p.run.settings_for(Role.EXECUTOR),
    }


class PodBackend(Backend):
    """A fake engine that answers a pod run with a driver and its executor containers."""

    name = "fake"

    def __init__(self, executor_exit=0, executor_stderr="", oom=False):
        self.specs = []
        self.executor_exit, self.executor_stderr, self.oom = executor_exit, executor_stderr, oom

    def run(self, spec, run_dir=None, observer=None):
        self.specs.append(spec)
        driver = ContainerResult(Role.DRIVER, "app-driver", 0, False, 20.0, 3.0, "", "")
        executors = tuple(
            ContainerResult(
                Role.EXECUTOR,
                f"app-exec-{i}",
                self.executor_exit,
                False,
                12.0,
                2.0,
                "",
                self.executor_stderr,
                oom_killed=self.oom,
            )
            for i in range(1, spec.executors + 1)
        )
        return RunResult(
            spec,
            0,
            False,
            20.0,
            7.0,
            "",
            "",
            WorkloadResult(spec.workload.name, "abc", 1.0),
            containers=(driver, *executors),
        )

    def cleanup(self):
        return 0


@pytest.mark.parametrize("style", [Style.TEMPLATE, Style.FIELDS])
def test_localhost_profiles_resolve_under_the_seccomp_root(style, seccomp_root):
    p = plan(sparkapp(style), seccomp_root)
    assert p.run.topology is Topology.POD
    assert p.run.workload.name == "rdd_python"
    for role, settings in specs(p).items():
        assert settings.mode is SecurityMode.LOCALHOST
        path = seccomp_root / "spark-seccomp" / f"{role}.json"
        assert settings.profile_json == path.read_text()
        assert settings.profile_label == f"{seccomp_root}/spark-seccomp/{role}.json"
        assert settings.image == IMAGE
    assert [r.seccomp for r in p.roles] == [
        "Localhost spark-seccomp/driver.json",
        "Localhost spark-seccomp/executor.json",
    ]
    assert p.image_from_manifest


@pytest.mark.parametrize("style", [Style.TEMPLATE, Style.FIELDS])
def test_security_context_becomes_the_container_security(style, seccomp_root):
    p = plan(sparkapp(style), seccomp_root)
    assert [r.user for r in p.roles] == ["185:185", "185:185"]
    for settings in specs(p).values():
        security = settings.security
        assert (security.user, security.group) == (185, 185)
        assert security.no_new_privileges  # allowPrivilegeEscalation: false
        assert security.cap_drop == ("ALL",)
        assert security.read_only_root
        # emptyDir volumes become the writable paths (tmpfs) of a read-only root.
        assert set(security.writable_paths) == {
            "/tmp",
            "/home/spark",
            "/opt/spark/work",
            "/opt/spark/work-dir",
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
    p = plan(manifest, seccomp_root)
    driver, executor = p.roles
    settings = specs(p)
    assert not settings["driver"].security.no_new_privileges
    assert settings["driver"].security.user == 1000
    assert driver.user == "1000"
    assert settings["executor"].security.user is None
    assert executor.user == "image"


def test_missing_profile_fails_the_role_without_a_run(seccomp_root):
    (seccomp_root / "spark-seccomp" / "executor.json").unlink()
    p = plan(sparkapp(), seccomp_root)
    driver, executor = p.roles
    assert driver.cannot_start is None
    assert executor.cannot_start is not None
    assert executor.cannot_start.reason == "CreateContainerError"
    missing = seccomp_root / "spark-seccomp" / "executor.json"
    assert str(executor.cannot_start) == (
        f'CreateContainerError: cannot load seccomp profile "{missing}": open {missing}: '
        "no such file or directory (on a node: /var/lib/kubelet/seccomp/spark-seccomp/executor.json)"
    )
    # Without its executors the driver would wait forever: nothing runs.
    assert p.run is None
    assert any("wait for them forever" in n for n in p.notes)
    backend = PodBackend()
    report = dry_run.run_dry_run(backend, p)
    assert backend.specs == []
    verdicts = {o.plan.role: o.verdict for o in report.outcomes}
    assert verdicts == {"driver": Verdict.FAIL, "executor": Verdict.FAIL}
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
    assert driver.cannot_start is not None
    assert f"{seccomp_root / 'driver.json'} exists" in driver.cannot_start.message


def test_a_profile_the_runtime_cannot_decode_fails_the_role(seccomp_root):
    (seccomp_root / "spark-seccomp" / "driver.json").write_text("{not json")
    driver = plan(sparkapp(), seccomp_root).roles[0]
    assert driver.cannot_start is not None
    assert driver.cannot_start.reason == "CreateContainerError"
    assert "decoding seccomp profile" in driver.cannot_start.message


def set_seccomp(manifest, role, value):
    """The Spark container's seccompProfile (where the tool's manifests put the role's), or
    with None no seccompProfile at any level."""
    pod = manifest["spec"][role]["template"]["spec"]
    container = pod["containers"][0]["securityContext"]
    if value is None:
        del container["seccompProfile"]
        del pod["securityContext"]["seccompProfile"]
    else:
        container["seccompProfile"] = value


def test_runtime_default_unconfined_and_unset(seccomp_root):
    manifest = sparkapp(seccomp=Seccomp.RUNTIME_DEFAULT)
    set_seccomp(manifest, "executor", {"type": "Unconfined"})
    p = plan(manifest, seccomp_root)
    executor = p.roles[1]
    settings = specs(p)
    assert settings["driver"].mode is SecurityMode.RUNTIME_DEFAULT
    assert settings["driver"].profile_json is None
    assert settings["executor"].mode is SecurityMode.UNCONFINED
    assert any("without any seccomp filter" in n for n in executor.notes)

    set_seccomp(manifest, "executor", None)
    p = plan(manifest, seccomp_root)
    executor = p.roles[1]
    assert specs(p)["executor"].mode is SecurityMode.UNCONFINED
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
    assert driver.cannot_start is not None
    assert driver.cannot_start.reason == "Invalid"
    assert expected in driver.cannot_start.message


def test_a_local_scheme_file_runs_from_inside_the_image(seccomp_root):
    p = plan(sparkapp(), seccomp_root, workload=None)
    assert p.run.application == "local:///opt/app/job.py"
    assert p.workload.name == "job"


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
    assert all(settings.image == "mine:1" for settings in specs(p).values())
    manifest = sparkapp()
    del manifest["spec"]["image"]
    with pytest.raises(UsageError, match="no image for the driver"):
        plan(manifest, seccomp_root)


def test_one_pod_run_gives_a_verdict_per_role(seccomp_root):
    backend = PodBackend(
        executor_exit=1, executor_stderr="java.lang.OutOfMemoryError: pthread_create failed (EPERM)"
    )
    report = dry_run.run_dry_run(backend, plan(sparkapp(), seccomp_root))
    assert len(backend.specs) == 1 and backend.specs[0].executors == 1  # instances: 1
    driver, executor = report.outcomes
    assert driver.verdict is Verdict.PASS and driver.error_line == ""
    assert executor.verdict is Verdict.FAIL  # a thread denied is no memory problem
    assert executor.error_line == (
        "app-exec-1: exit 1: java.lang.OutOfMemoryError: pthread_create failed (EPERM)"
    )
    assert executor.wall_seconds == 12.0
    assert not report.passed


def test_an_executor_killed_at_its_memory_limit_is_an_oom_verdict(seccomp_root):
    backend = PodBackend(executor_exit=137, oom=True)
    report = dry_run.run_dry_run(backend, plan(sparkapp(), seccomp_root))
    executor = report.outcomes[1]
    assert executor.verdict is Verdict.OOM
    assert "OOMKilled" in executor.error_line


def test_the_manifest_reaches_the_run(seccomp_root):
    manifest = sparkapp()
    manifest["spec"]["arguments"] = ["10", "--fast"]
    manifest["spec"]["sparkConf"] = {"spark.sql.shuffle.partitions": "3"}
    manifest["spec"]["executor"]["instances"] = 5
    manifest["spec"]["executor"]["memory"] = "2g"
    p = plan(manifest, seccomp_root, max_executors=3)
    assert p.run.app_args == ("10", "--fast")
    assert ("spark.sql.shuffle.partitions", "3") in p.run.spark_conf
    assert p.run.executors == 3
    executor = specs(p)["executor"]
    assert executor.memory == "2048m"
    # Spark's limit: heap + max(0.4 x heap, 384 MiB) for a Python application
    assert executor.memory_limit == f"{(2048 + 819) * 1024 * 1024}b"


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
        main(args)  # local:// runs from the image; no pod can start, so no engine is asked
    assert info.value.code == 1


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
                            r.role, r.seccomp.label, r.user, "", dry_run.CannotStart("X", "y")
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


def _pi(tmp_path, **changes):
    import yaml

    manifest = yaml.safe_load((EXAMPLES / "spark-pi.yaml").read_text())
    manifest["spec"].update(changes)
    return dry_run.plan_dry_run(manifest, None, image="spark-seccomp/spark:3.5.9")


def test_a_jvm_application_runs_its_main_class_from_its_jar_with_its_arguments(tmp_path):
    from profiler.runtime.pod import plan_run
    from profiler.workloads import WorkloadKind

    planned = _pi(tmp_path)
    assert planned.run is not None
    job = planned.workload
    assert job.kind is WorkloadKind.JAVA and job.main_class == "org.apache.spark.examples.SparkPi"
    assert planned.run.application == "local:///opt/spark/examples/jars/spark-examples.jar"
    args = plan_run(planned.run, "abcdef123456").driver.args
    assert args[3:] == (
        "--class",
        "org.apache.spark.examples.SparkPi",
        "local:///opt/spark/examples/jars/spark-examples.jar",
        "5000",
    )
    assert not any("PySpark" in n for n in planned.notes)


def test_a_jar_on_this_machine_is_mounted_and_its_manifest_names_the_class(tmp_path):
    import zipfile

    jar = tmp_path / "etl.jar"
    with zipfile.ZipFile(jar, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\nMain-Class: a.Etl\r\n")
    planned = _pi(tmp_path, mainApplicationFile=str(jar), mainClass=None)
    assert planned.workload.main_class == "a.Etl" and planned.workload.path == jar
    assert planned.run is not None and planned.run.application is None  # mounted at /job


def test_a_jvm_application_without_a_class_fails_as_spark_submit_does(tmp_path):
    with pytest.raises(UsageError, match="Please specify a class through --class"):
        _pi(tmp_path, mainClass=None)


def test_r_applications_are_refused_with_a_clear_error(tmp_path):
    with pytest.raises(UsageError, match="R applications are not supported") as info:
        _pi(tmp_path, type="R", mainClass=None, mainApplicationFile="local:///opt/app/job.R")
    assert "--workload" in (info.value.hint or "")


class _ScriptedEngine(FakeEngine):
    """Answers one-off commands in order; a pod run would be a test failure."""

    def __init__(self, answers):
        super().__init__(lambda spec: pytest.fail("no pod run was expected"))
        self.answers = list(answers)

    def run_command(self, image, argv, mode, profile_json=None, security=None, **kw):
        self.commands.append((list(argv), mode, profile_json))
        return self.answers.pop(0)


def test_an_application_missing_from_the_image_fails_with_the_drivers_words_and_no_pods(tmp_path):
    planned = _pi(tmp_path, mainApplicationFile="local:///opt/spark/examples/jars/gone.jar")
    engine = _ScriptedEngine(
        [
            (0, "/opt/spark/examples/jars/gone.jar\n", ""),
            (
                101,
                "",
                "WARN DependencyUtils: Local jar ... does not exist, skipping.\n"
                "Error: Failed to load class org.apache.spark.examples.SparkPi.\n",
            ),
        ]
    )
    report = dry_run.run_dry_run(engine, planned)
    assert not report.passed and engine.specs == []
    driver, executor = report.outcomes
    assert "exit 101: Error: Failed to load class org.apache.spark.examples.SparkPi." in (
        driver.error_line
    )
    assert "gone.jar is not in the image" in driver.error_line
    assert executor.error_line == "not started: the driver failed first"
    submit = engine.commands[1][0]
    assert submit[-4:] == [
        "--class",
        "org.apache.spark.examples.SparkPi",
        "local:///opt/spark/examples/jars/gone.jar",
        "5000",
    ]


def test_an_application_in_the_image_goes_on_to_the_pod_run(tmp_path):
    planned = _pi(tmp_path)
    engine = _ScriptedEngine([(0, "", "")])
    with pytest.raises(BaseException, match="no pod run was expected"):
        dry_run.run_dry_run(engine, planned)
    assert len(engine.commands) == 1  # looked, found, went on
