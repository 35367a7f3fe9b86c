"""The shapes of a run, planned: each container's name, arguments and environment.

Pure: the orchestration (``profiler.runtime.orchestration``) turns a plan into containers.
Addresses are not planned here: the engine gives each pod its address once it made room for
it (Docker from the run's network, a CRI engine from CNI's IPAM), and ``ContainerPlan.at``
puts it into the variables that carry it. Two topologies (``Topology``):

``pod``, what a SparkApplication becomes in a cluster, on one private network of the engine:

- the driver pod: the image's entrypoint in ``driver`` mode with the arguments Spark's
  Kubernetes backend gives a driver container (``--properties-file
  /opt/spark/conf/spark.properties --class org.apache.spark.deploy.PythonRunner APP``),
  ``SPARK_DRIVER_BIND_ADDRESS`` set to its own address, reachable as ``<app>-driver-svc``
  (the name of the headless Service the operator creates, which the engine makes resolve);
- N executor pods: the entrypoint in ``executor`` mode with the environment Spark's
  BasicExecutorFeatureStep puts on executor pods (SPARK_DRIVER_URL, SPARK_EXECUTOR_ID,
  SPARK_JAVA_OPT_<n>, ...), each at its own address;
- in place of the Kubernetes API server, which a driver pod asks to create its executor
  pods: a Spark standalone master with no workers. The driver registers with it and so
  schedules on whatever executors register with the driver; the run starts the executor
  containers itself once the master has the application. The master is not part of the
  application: it is neither recorded nor confined.

``local``, one container: the entrypoint in ``driver`` mode with a local master, no network
but loopback, the host name ``localhost``.

A script that sets its own master (``local[2]``, ``local-cluster``) runs wholly in the
driver container in either topology: its session's master wins over the properties file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from profiler.runtime.interface import (
    SPARK_LOCAL_DIR,
    ResolvedRole,
    Role,
    RunSpec,
    Topology,
)

SPARK_HOME = "/opt/spark"
CONF_DIR = f"{SPARK_HOME}/conf"
PROPERTIES_FILE = f"{CONF_DIR}/spark.properties"
JOB_DIR = "/job"  # where the workload's script directory is mounted, read-only
# Storage every pod of a run mounts, as a ReadWriteMany volume (or an object store) would
# be in a cluster: executors write the partitions of files the driver names.
SHARED_DIR = "/var/data/shared"
PYTHON_RUNNER = "org.apache.spark.deploy.PythonRunner"
MASTER_CLASS = "org.apache.spark.deploy.master.Master"
# The ports Spark's Kubernetes backend fixes for driver pods (Constants.scala defaults).
DRIVER_PORT = 7078
BLOCK_MANAGER_PORT = 7079
MASTER_PORT = 7077
# Kubernetes' own default for spark.scheduler.minRegisteredResourcesRatio: the driver
# waits until 80% of its executors registered (or 30 s) before it schedules.
MIN_REGISTERED_RATIO = "0.8"
LOCAL_MASTER = "local[2]"
MAX_EXECUTORS = 200
# The standalone master's heap: it schedules, it computes nothing.
MASTER_MEMORY = "512m"
NAMESPACE = "default"  # the namespace the run's service names pretend to live in


@dataclass(frozen=True)
class ContainerPlan:
    """One container: what the engine is asked to start, in a pod's terms."""

    role: Role | None  # None for the standalone master, which is no part of the app
    name: str  # the pod's name, also the container's host name
    args: tuple[str, ...]  # given to the image's entrypoint, unchanged
    env: tuple[tuple[str, str], ...]
    settings: ResolvedRole | None  # None for the master (unconfined, engine defaults)
    # Other names the pod answers to on the run's network (the driver's Service names).
    dns_names: tuple[str, ...] = ()
    # Variables of ``env`` that carry the pod's own address, filled in by ``at`` once the
    # engine assigned one.
    address_env: tuple[str, ...] = ()
    address: str | None = None  # None: not assigned yet, or no network but loopback

    def at(self, address: str | None) -> ContainerPlan:
        """This container at the address the engine gave its pod."""
        if address is None:
            return self
        env = tuple((k, address if k in self.address_env else v) for k, v in self.env)
        return replace(self, env=env, address=address)


@dataclass(frozen=True)
class PodPlan:
    """Every container of one run, and the files the run mounts into them."""

    spec: RunSpec
    app_name: str
    properties: str  # the text of spark.properties (the driver's ConfigMap)
    driver: ContainerPlan
    master: ContainerPlan | None = None
    executor_java_options: tuple[str, ...] = ()

    @property
    def topology(self) -> Topology:
        return self.spec.topology

    def executor(self, index: int, app_id: str, driver_address: str | None) -> ContainerPlan:
        """Executor pod ``index`` (1-based), for the application id the master assigned;
        ``driver_address`` is the address the engine gave the driver pod."""
        if self.topology is not Topology.POD:
            raise ValueError("only a pod topology has executor pods")
        spec = self.spec
        settings = spec.settings_for(Role.EXECUTOR)
        name = f"{self.app_name}-exec-{index}"
        conf = dict(spec.spark_conf)
        env: dict[str, str] = {
            "SPARK_USER": "spark",
            "SPARK_DRIVER_URL": (
                f"spark://CoarseGrainedScheduler@{service_host(self.app_name)}:{DRIVER_PORT}"
            ),
            "SPARK_EXECUTOR_CORES": str(settings.cores),
            "SPARK_EXECUTOR_MEMORY": f"{memory_mib(settings.memory)}m",
            "SPARK_APPLICATION_ID": app_id,
            "SPARK_CONF_DIR": CONF_DIR,
            "SPARK_EXECUTOR_ID": str(index),
            "SPARK_RESOURCE_PROFILE_ID": "0",
            "SPARK_LOCAL_DIRS": SPARK_LOCAL_DIR,
            "SPARK_EXECUTOR_POD_IP": "",  # the pod's own address (``ContainerPlan.at``)
            "SPARK_EXECUTOR_POD_NAME": name,
            # spark.executorEnv.SPARK_DRIVER_POD_IP, which the entrypoint's driver mode sets.
            "SPARK_DRIVER_POD_IP": driver_address or "",
            "SPARK_SECCOMP_SHARED_DIR": SHARED_DIR,
        }
        for key, value in sorted(conf.items()):
            if key.startswith("spark.executorEnv."):
                env[key.removeprefix("spark.executorEnv.")] = value
        options = executor_java_options(self.executor_java_options, conf)
        for position, option in enumerate(options):
            env[f"SPARK_JAVA_OPT_{position}"] = option
        return ContainerPlan(
            role=Role.EXECUTOR,
            name=name,
            args=("executor",),
            env=(*sorted(env.items()), *settings.env),
            settings=settings,
            address_env=("SPARK_EXECUTOR_POD_IP",),
        )


def plan_run(spec: RunSpec, run_id: str, *, executor_java_options: tuple[str, ...] = ()) -> PodPlan:
    """The containers of a run. A pod run needs the JVM options Spark gives executors in
    this image (module options: see ``EngineAdapter.executor_java_options``)."""
    app = app_name(spec.workload.name, run_id)
    application = spec.application or f"local://{JOB_DIR}/{spec.workload.path.name}"
    if spec.topology is Topology.LOCAL:
        settings = spec.settings_for(Role.ALL)
        properties = _properties(
            spec,
            {
                "spark.master": LOCAL_MASTER,
                "spark.driver.host": "localhost",
                "spark.driver.port": str(DRIVER_PORT),
                "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
            },
            settings,
        )
        driver = ContainerPlan(
            role=Role.ALL,
            name="localhost",
            args=_driver_args(application, spec.app_args),
            env=(*_driver_env(app, "127.0.0.1"), *settings.env),
            settings=settings,
        )
        return PodPlan(spec, app, properties, driver)
    if not 0 <= spec.executors <= MAX_EXECUTORS:
        raise ValueError(f"executors must be between 0 and {MAX_EXECUTORS}")
    master_name = f"{app}-master"
    settings = spec.settings_for(Role.DRIVER)
    executor = spec.settings_for(Role.EXECUTOR)
    properties = _properties(
        spec,
        {
            "spark.master": f"spark://{master_name}:{MASTER_PORT}",
            "spark.driver.host": service_host(app),
            "spark.driver.port": str(DRIVER_PORT),
            "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
            "spark.blockManager.port": str(BLOCK_MANAGER_PORT),
            "spark.executor.instances": str(spec.executors),
            "spark.executor.cores": str(executor.cores),
            "spark.executor.memory": executor.memory,
            # The standalone scheduler counts expected executors through cores.max.
            "spark.cores.max": str(max(1, spec.executors) * executor.cores),
        },
        settings,
        defaults={"spark.scheduler.minRegisteredResourcesRatio": MIN_REGISTERED_RATIO},
    )
    driver = ContainerPlan(
        role=Role.DRIVER,
        name=f"{app}-driver",
        args=_driver_args(application, spec.app_args),
        env=(
            # The bind address is the pod's own (``ContainerPlan.at``).
            *_driver_env(app, ""),
            ("SPARK_SECCOMP_SHARED_DIR", SHARED_DIR),
            *settings.env,
        ),
        settings=settings,
        dns_names=service_aliases(app),
        address_env=("SPARK_DRIVER_BIND_ADDRESS",),
    )
    master = ContainerPlan(
        role=None,
        name=master_name,
        args=(
            f"{SPARK_HOME}/bin/spark-class",
            MASTER_CLASS,
            "--host",
            master_name,
            "--port",
            str(MASTER_PORT),
            "--webui-port",
            "8080",
        ),
        env=(("SPARK_NO_DAEMONIZE", "1"), ("SPARK_DAEMON_MEMORY", MASTER_MEMORY)),
        settings=None,
    )
    return PodPlan(
        spec,
        app,
        properties,
        driver,
        master=master,
        executor_java_options=executor_java_options,
    )


def app_name(workload: str, run_id: str) -> str:
    """A DNS-1123 label for the application, as the operator names pods after it."""
    base = re.sub(r"[^a-z0-9-]+", "-", workload.lower()).strip("-")[:40] or "app"
    return f"{base}-{run_id[:6]}"


def service_name(app: str) -> str:
    """The driver's headless Service, through which executors reach the driver."""
    return f"{app}-driver-svc"


def service_host(app: str) -> str:
    """The driver's address as Spark's DriverServiceFeatureStep writes it into
    spark.driver.host: ``<service>.<namespace>.svc``."""
    return f"{service_name(app)}.{NAMESPACE}.svc"


def service_aliases(app: str) -> tuple[str, ...]:
    """Every name of the driver's Service a pod may ask the cluster DNS for."""
    short = service_name(app)
    return (short, f"{short}.{NAMESPACE}.svc", f"{short}.{NAMESPACE}.svc.cluster.local")


def memory_mib(text: str) -> int:
    """Spark's memory string ("1g", "512m", "1024") in MiB, as Spark reads it."""
    match = re.fullmatch(r"\s*(\d+)\s*([kmgt]?)b?\s*", text.lower())
    if not match:
        raise ValueError(f"not a Spark memory size: {text!r}")
    value, unit = int(match[1]), match[2] or "m"
    factor = {"k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}[unit]
    return max(1, int(value * factor))


def executor_java_options(defaults: tuple[str, ...], conf: dict[str, str]) -> list[str]:
    """SPARK_JAVA_OPT_<n> of an executor pod, in Spark's order: the executor's Java options
    (the image's defaults, which Spark puts in front, then spark.executor.extraJavaOptions),
    then every executor start-up setting of the driver's conf as -Dkey=value."""
    import shlex

    options = list(defaults)
    extra = conf.get("spark.executor.extraJavaOptions")
    if extra:
        options.extend(shlex.split(extra))
    startup = {
        "spark.driver.port": str(DRIVER_PORT),
        "spark.driver.blockManager.port": str(BLOCK_MANAGER_PORT),
        "spark.blockManager.port": str(BLOCK_MANAGER_PORT),
    }
    startup.update({k: v for k, v in conf.items() if _is_executor_startup_conf(k)})
    options.extend(f"-D{key}={value}" for key, value in sorted(startup.items()))
    return options


def _is_executor_startup_conf(key: str) -> bool:
    # SparkConf.isExecutorStartupConf: settings an executor needs before it can reach the
    # driver (auth, RPC, network) and every port.
    if key == "spark.authenticate.secret":
        return False
    return key.startswith(("spark.auth", "spark.rpc", "spark.network", "spark.port.")) or (
        key.startswith("spark.") and key.endswith(".port")
    )


def _driver_args(application: str, app_args: tuple[str, ...]) -> tuple[str, ...]:
    return (
        "driver",
        "--properties-file",
        PROPERTIES_FILE,
        "--class",
        PYTHON_RUNNER,
        application,
        *app_args,
    )


def _driver_env(app: str, bind_address: str) -> tuple[tuple[str, str], ...]:
    return (
        ("SPARK_USER", "spark"),
        ("SPARK_APPLICATION_ID", f"spark-{app}"),
        ("SPARK_DRIVER_BIND_ADDRESS", bind_address),
        ("SPARK_LOCAL_DIRS", SPARK_LOCAL_DIR),
        ("SPARK_CONF_DIR", CONF_DIR),
    )


def _properties(
    spec: RunSpec,
    fixed: dict[str, str],
    driver: ResolvedRole,
    defaults: dict[str, str] | None = None,
) -> str:
    """spark.properties: the run's own settings win over the application's sparkConf, which
    wins over the defaults; sorted, so the same run gives the same file."""
    settings = {
        "spark.app.name": spec.workload.name,
        "spark.driver.cores": str(driver.cores),
        "spark.driver.memory": driver.memory,
        **(defaults or {}),
        **dict(spec.spark_conf),
        **fixed,
    }
    lines = [f"{key}={_escape(value)}" for key, value in sorted(settings.items())]
    return (
        "# Written by spark-seccomp: the driver pod's spark.properties.\n" + "\n".join(lines) + "\n"
    )


def _escape(value: str) -> str:
    # java.util.Properties reads backslashes as escapes and a leading space as nothing.
    return value.replace("\\", "\\\\").replace("\n", "\\n")
