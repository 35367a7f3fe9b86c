"""The pod plan, the engine-neutral container shape, and its translation into Docker and
Podman API options (pure: no engine)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from profiler import workloads
from profiler.runtime.docker import DockerBackend
from profiler.runtime.dockerapi import RunNetwork, runtime_could_not_start
from profiler.runtime.interface import (
    ContainerSecurity,
    Mount,
    PodSecurity,
    ProfileSet,
    Role,
    RoleSettings,
    RunSpec,
    SecurityMode,
    Topology,
)
from profiler.runtime.ownership import PID_LABEL
from profiler.runtime.pod import (
    PROPERTIES_FILE,
    PYTHON_RUNNER,
    executor_java_options,
    memory_mib,
    plan_run,
)
from profiler.runtime.podman import PodmanBackend
from profiler.runtime.shape import Bind, container_shape, memory_bytes, pod_shape

CIDR = "10.213.7.0/24"


class _Network:
    name = "net"


class _Client:
    """Enough of a docker SDK client to translate options: endpoint configs are built
    locally by the SDK's own API client, which connects to nothing until asked."""

    def __init__(self) -> None:
        import docker

        self.api = docker.APIClient(base_url="unix:///nonexistent.sock", version="1.41")
        self.images = _Images()


class _Images:
    """The image store's answer about an image: the tool's images run as 185:185."""

    def get(self, name: str) -> SimpleNamespace:
        return SimpleNamespace(attrs={"Config": {"User": "185:185"}})


def _options(plan, spec, *, network=None, binds=(), backend=None, scratch=Path("/nowhere")):
    backend = backend or DockerBackend(client=_Client())
    run_network = network if isinstance(network, RunNetwork) else None
    if network is True:
        run_network = RunNetwork(_Network(), CIDR)
    site = backend.open_pod(run_network, None)
    pod = pod_shape(plan, spec, "run1", networked=run_network is not None)
    shape = container_shape(plan.at(site.address), pod, spec, tuple(binds))
    return backend.create_options(shape, site, scratch)


def _spec(**kw):
    base = dict(
        workload=workloads.resolve("rdd_python"),
        mode=SecurityMode.RUNTIME_DEFAULT,
        image="img",
        topology=Topology.LOCAL,
    )
    base.update(kw)
    return RunSpec(**base)


def _local_options(spec, **kw):
    plan = plan_run(spec, "run1abcdef")
    return _options(plan.driver, spec, **kw)


def test_restricted_mirrors_pss_restricted():
    options = _local_options(_spec())
    assert options["user"] == "185:185"
    assert options["cap_drop"] == ["ALL"]
    assert options["read_only"] is True
    assert "no-new-privileges:true" in options["security_opt"]
    assert options["network_mode"] == "none"
    assert options["hostname"] == "localhost"
    assert set(options["tmpfs"]) == {
        "/tmp",
        "/home/spark",
        "/opt/spark/work",
        "/opt/spark/work-dir",
        "/var/data/spark-local-dir-1",
    }
    # emptyDirs: executable, and the pod's user owns them whatever the image has there
    assert all("exec" in o.split(",") for o in options["tmpfs"].values())
    assert all("uid=185" in o.split(",") for o in options["tmpfs"].values())
    assert options["labels"]["io.spark-seccomp.owner"] == "spark-seccomp"


def test_the_image_entrypoint_gets_a_driver_pods_arguments():
    options = _local_options(_spec())
    assert "entrypoint" not in options  # the image's own
    assert options["command"][:5] == [
        "driver",
        "--properties-file",
        PROPERTIES_FILE,
        "--class",
        PYTHON_RUNNER,
    ]
    assert options["command"][5] == "local:///job/rdd_python.py"
    assert options["environment"]["SPARK_DRIVER_BIND_ADDRESS"] == "127.0.0.1"


def test_runtime_default_sends_no_seccomp_option():
    options = _local_options(_spec())
    assert not [o for o in options["security_opt"] if o.startswith("seccomp")]


def test_unconfined_and_localhost_modes():
    assert (
        "seccomp=unconfined" in _local_options(_spec(mode=SecurityMode.UNCONFINED))["security_opt"]
    )
    options = _local_options(
        _spec(mode=SecurityMode.LOCALHOST, profile_json='{"defaultAction": "SCMP_ACT_ALLOW"}')
    )
    assert 'seccomp={"defaultAction": "SCMP_ACT_ALLOW"}' in options["security_opt"]


def test_localhost_without_profile_is_a_bug():
    with pytest.raises(ValueError):
        _local_options(_spec(mode=SecurityMode.LOCALHOST))


def test_pod_security_none_keeps_engine_defaults():
    options = _local_options(_spec(pod_security=PodSecurity.NONE))
    for key in ("user", "cap_drop", "read_only"):
        assert key not in options
    # Spark mounts an emptyDir for its local dirs on every pod, hardened or not; with no
    # user of the pod's own, the image's user owns it (the kubelet's emptyDir is 0777).
    assert set(options["tmpfs"]) == {"/var/data/spark-local-dir-1"}
    assert options["tmpfs"]["/var/data/spark-local-dir-1"].endswith("uid=185,gid=185")
    assert options["security_opt"] == []


def test_explicit_security_context_overrides_the_preset():
    security = ContainerSecurity(user=1000, group=2000, cap_add=("NET_BIND_SERVICE",))
    options = _local_options(_spec(security=security))
    assert options["user"] == "1000:2000"
    assert options["cap_add"] == ["NET_BIND_SERVICE"]
    assert "read_only" not in options


def test_role_mounts_limits_and_binds():
    settings = RoleSettings(
        mounts=(
            Mount("/scratch", size_bytes=1024),
            Mount("/data", source="/srv/d", read_only=True),
        ),
        memory_limit="1408m",
        cpu_limit=1.5,
    )
    spec = _spec(driver=settings)
    options = _local_options(spec, binds=[Bind("/host/job", "/job")])
    assert "size=1024" in options["tmpfs"]["/scratch"].split(",")
    assert options["volumes"]["/srv/d"] == {"bind": "/data", "mode": "ro"}
    assert options["volumes"]["/host/job"] == {"bind": "/job", "mode": "ro"}
    assert options["mem_limit"] == 1408 * 1024 * 1024 == memory_bytes("1408m")
    assert options["memswap_limit"] == options["mem_limit"]
    assert options["nano_cpus"] == 1_500_000_000


# -- the pod plan ------------------------------------------------------------------------


def _pod(**kw):
    return _spec(topology=Topology.POD, **kw)


def test_pod_plan_has_a_master_a_driver_service_and_its_address_from_the_engine():
    spec = _pod()
    plan = plan_run(spec, "abcdef123456", executor_java_options=("-Xss4m",))
    assert plan.app_name == "rdd-python-abcdef"
    assert plan.driver.name == "rdd-python-abcdef-driver"
    assert plan.driver.dns_names == (
        "rdd-python-abcdef-driver-svc",
        "rdd-python-abcdef-driver-svc.default.svc",
        "rdd-python-abcdef-driver-svc.default.svc.cluster.local",
    )
    # The engine gives the pod its address; the plan puts it where Spark reads it.
    driver = plan.driver.at("10.213.7.3")
    assert driver.address == "10.213.7.3"
    assert dict(driver.env)["SPARK_DRIVER_BIND_ADDRESS"] == "10.213.7.3"
    assert plan.driver.at(None) == plan.driver
    assert plan.master is not None and plan.master.settings is None
    assert "spark.master=spark://rdd-python-abcdef-master:7077" in plan.properties
    assert "spark.driver.host=rdd-python-abcdef-driver-svc.default.svc" in plan.properties
    assert "spark.executor.instances=2" in plan.properties
    # the master stands in for the API server: not confined, not part of the app
    master = _options(plan.master, spec, network=True)
    assert master["security_opt"] == ["seccomp=unconfined"]
    assert master["labels"]["io.spark-seccomp.role"] == "master"
    assert master["environment"]["SPARK_DAEMON_MEMORY"] == "512m"
    assert master["network"] == "net" and master["hostname"] == plan.master.name


def test_docker_pods_get_the_next_address_of_the_run_network_and_their_service_names():
    backend = DockerBackend(client=_Client())
    network = RunNetwork(_Network(), CIDR)
    spec = _pod()
    plan = plan_run(spec, "abcdef123456")
    addresses = [backend.open_pod(network, None).address for _ in range(3)]
    assert addresses == ["10.213.7.2", "10.213.7.3", "10.213.7.4"]
    options = _options(plan.driver, spec, network=network, backend=backend)
    endpoint = options["networking_config"]["net"]
    assert endpoint["IPAMConfig"]["IPv4Address"] == "10.213.7.5"
    assert endpoint["Aliases"] == list(plan.driver.dns_names)
    assert options["environment"]["SPARK_DRIVER_BIND_ADDRESS"] == "10.213.7.5"


def test_executor_pods_get_the_environment_spark_sets():
    spec = _pod(spark_conf=(("spark.executorEnv.FOO", "bar"), ("spark.network.timeout", "300s")))
    plan = plan_run(spec, "abcdef123456", executor_java_options=("-Dx=1",))
    executor = plan.executor(2, "app-1", "10.213.7.3").at("10.213.7.11")
    env = dict(executor.env)
    assert executor.args == ("executor",)
    assert executor.name == "rdd-python-abcdef-exec-2"
    assert (
        env["SPARK_DRIVER_URL"]
        == "spark://CoarseGrainedScheduler@rdd-python-abcdef-driver-svc.default.svc:7078"
    )
    assert env["SPARK_EXECUTOR_ID"] == "2"
    assert env["SPARK_EXECUTOR_MEMORY"] == "1024m"
    assert env["SPARK_APPLICATION_ID"] == "app-1"
    assert env["SPARK_EXECUTOR_POD_IP"] == executor.address == "10.213.7.11"
    assert env["SPARK_DRIVER_POD_IP"] == "10.213.7.3"
    assert env["FOO"] == "bar"
    options = [env[f"SPARK_JAVA_OPT_{i}"] for i in range(5)]
    assert options[0] == "-Dx=1"
    assert "-Dspark.driver.port=7078" in options
    assert "-Dspark.network.timeout=300s" in options
    assert "SPARK_JAVA_OPT_5" not in env


def test_role_profiles_go_to_their_own_containers():
    profiles = ProfileSet.single("{}", "union")
    profiles = ProfileSet(profiles.union, driver=profiles.union.__class__('{"d": 1}', "d"))
    spec = profiles.apply(_pod(mode=SecurityMode.LOCALHOST))
    assert spec.settings_for(Role.DRIVER).profile_json == '{"d": 1}'
    assert spec.settings_for(Role.EXECUTOR).profile_json == "{}"
    assert spec.settings_for(Role.ALL).profile_json == "{}"


def test_a_role_can_run_unconfined_while_the_other_is_confined():
    spec = _pod(
        mode=SecurityMode.LOCALHOST,
        profile_json="{}",
        executor=RoleSettings(mode=SecurityMode.UNCONFINED),
    )
    assert spec.settings_for(Role.EXECUTOR).profile_json is None
    assert spec.settings_for(Role.DRIVER).profile_json == "{}"


def test_pod_plans_need_a_sane_executor_count_and_local_plans_have_no_executors():
    with pytest.raises(ValueError):
        plan_run(_pod(executors=1000), "abcdef123456")
    with pytest.raises(ValueError):
        plan_run(_spec(), "abcdef123456").executor(1, "app-1", None)


def test_memory_strings_read_as_spark_reads_them():
    assert memory_mib("1g") == 1024
    assert memory_mib("512m") == 512
    assert memory_mib("2048") == 2048
    assert memory_mib("1G") == 1024
    with pytest.raises(ValueError):
        memory_mib("lots")


def test_executor_java_options_append_user_options_and_startup_confs():
    options = executor_java_options(
        ("--add-opens=a",), {"spark.executor.extraJavaOptions": "-Da='x y' -Db"}
    )
    assert options[:3] == ["--add-opens=a", "-Da=x y", "-Db"]
    assert options[3:] == sorted(options[3:])


def test_the_runtime_failing_to_start_a_container_is_told_apart_from_engine_errors():
    class Refused(Exception):
        explanation = "OCI runtime start failed: cannot start an already running container: unknown"

    class Conflict(Exception):
        explanation = "Conflict. The container name is already in use"

    assert runtime_could_not_start(Refused())
    assert not runtime_could_not_start(Conflict())


def test_a_container_the_runtime_could_not_start_says_so_with_its_first_line():
    from profiler.runtime.interface import ContainerResult

    container = ContainerResult(
        Role.DRIVER,
        "app-driver",
        None,
        False,
        0.1,
        None,
        "",
        "futexwakeup addr=0xc5dd38 returned -1\nfatal error: unexpected signal\n",
        start_error="OCI runtime start failed",
    )
    assert not container.succeeded
    line = container.last_error_line()
    assert line.startswith("the OCI runtime could not start the container under its seccomp")
    assert line.endswith("it said: futexwakeup addr=0xc5dd38 returned -1")


def test_containers_of_dead_tool_processes_are_swept():
    removed = []

    class Container:
        def __init__(self, pid):
            self.labels = {PID_LABEL: str(pid)}

        def remove(self, force):
            removed.append(self.labels[PID_LABEL])

    class Containers:
        def list(self, **_):
            import os

            return [Container(os.getpid()), Container(2**22 + 12345)]  # this one, a dead one

    class Networks:
        def list(self, **_):
            return []

    class Client:
        containers = Containers()
        networks = Networks()

    backend = DockerBackend(client=Client())
    assert backend.sweep_orphans() == 1
    assert removed == [str(2**22 + 12345)]


@pytest.mark.parametrize(
    "said",
    [
        "OCI runtime start failed: cannot start an already running container: unknown",
        "cannot start a stopped process: unknown",
        "`/usr/bin/runc start 86d83cc862f3` failed: exit status 1",
        "crun: OCI runtime error",
    ],
)
def test_every_engine_s_words_for_an_init_that_died_are_recognised(said: str) -> None:
    assert runtime_could_not_start(RuntimeError(said))


def test_podman_options_give_the_profile_by_path_and_the_tmpfs_to_the_pod_user(
    tmp_path: Path,
) -> None:
    backend = PodmanBackend(client=_Client(), oci_runtime="crun")
    spec = _pod(mode=SecurityMode.LOCALHOST, profile_json='{"defaultAction": "SCMP_ACT_ALLOW"}')
    plan = plan_run(spec, "abcdef123456")
    options = _options(plan.driver, spec, network=True, backend=backend, scratch=tmp_path / "s")
    seccomp = options["security_opt"][0].removeprefix("seccomp=")
    assert Path(seccomp).read_text() == '{"defaultAction": "SCMP_ACT_ALLOW"}'
    assert "no-new-privileges:true" in options["security_opt"]
    assert options["tmpfs"]["/tmp"] == "rw,exec,nosuid,nodev,mode=1777,size=4g,U"
    aliases = options["networking_config"]["net"]["Aliases"]
    assert aliases == [plan.driver.name, *plan.driver.dns_names]
    assert "runtime" not in options
    assert {u["Name"] for u in options["ulimits"]} == {"nofile", "nproc"}


class _HeldImages:
    def __init__(self, ids: list[str]) -> None:
        self.ids = ids  # what each lookup answers, in turn

    def get(self, image: str) -> object:
        return type("Image", (), {"id": self.ids.pop(0)})()


class _HeldImageClient(_Client):
    def __init__(self, ids: list[str]) -> None:
        self.images = _HeldImages(ids)


@pytest.mark.parametrize(
    ("held", "moved"),
    [(["sha256:new"], False), (["sha256:old", "sha256:new"], True), (["old", "old"], True)],
    ids=["the same build", "an older build", "an older build under the old name"],
)
def test_podman_gets_dockers_build_when_it_holds_another(
    held: list[str], moved: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    import profiler.runtime.podman as podman

    calls: list[list[str]] = []
    monkeypatch.setattr(podman, "docker_image_id", lambda image: "sha256:new")
    monkeypatch.setattr(podman, "move_image_from_docker", lambda i, load, e: calls.append(load))
    monkeypatch.setattr(podman.proc, "run", lambda argv, **kw: calls.append(argv))
    backend = PodmanBackend(client=_HeldImageClient(list(held)), oci_runtime="crun")
    backend.make_image_available("spark-seccomp/spark:3.5.9")
    assert bool(calls) is moved
    if held == ["old", "old"]:
        # Loaded as localhost/NAME while the name still meant the old build: re-tagged.
        assert calls[-1][-2:] == [
            "localhost/spark-seccomp/spark:3.5.9",
            "docker.io/spark-seccomp/spark:3.5.9",
        ]
