"""What the kubelet asks the CRI for, the cluster DNS and the CRI log format (no engine)."""

from __future__ import annotations

import pytest

from profiler.runtime.cluster_dns import (
    cluster_dns_config,
    parse_query_log,
    search_walk,
    service_fqdn,
)
from profiler.runtime.cri.client import parse_cri_log
from profiler.runtime.cri.kubelet import (
    MASKED_PATHS,
    CriContainer,
    CriMount,
    CriPod,
    Seccomp,
    SeccompChoice,
    container_config,
    etc_hosts,
    sandbox_config,
)
from profiler.runtime.cri.node import CriNode

DNS = cluster_dns_config(CriNode().dns_server, "default")
PROFILE = "/var/lib/spark-seccomp/cri/kubelet/seccomp/spark-seccomp/run/executor.json"
POD = CriPod(
    name="app-exec-1",
    uid="uid-1",
    namespace="default",
    hostname="app-exec-1",
    log_directory="/run/pods/uid-1/logs",
    dns=DNS,
    seccomp=SeccompChoice(Seccomp.LOCALHOST, PROFILE),
    run_as_user=185,
    run_as_group=185,
    cgroup_parent="/spark-seccomp/run-exec-1",
    labels=(("io.spark-seccomp.owner", "spark-seccomp"),),
)
CONTAINER = CriContainer(
    name="spark-kubernetes-executor",
    image="spark-seccomp/spark:3.5.9",
    args=("executor",),
    env=(("SPARK_EXECUTOR_ID", "1"),),
    seccomp=SeccompChoice(Seccomp.LOCALHOST, PROFILE),
    log_path="spark-kubernetes-executor/0.log",
    mounts=(
        CriMount("/run/pods/uid-1/volumes/tmp", "/tmp"),
        CriMount("/conf", "/opt/spark/conf", True),
    ),
    run_as_user=185,
    run_as_group=185,
    drop_capabilities=("ALL",),
    no_new_privs=True,
    readonly_rootfs=True,
    memory_limit_bytes=1408 * 1024**2,
    cpu_limit=1.0,
)


def test_resolv_conf_has_the_cluster_dns_shape() -> None:
    assert DNS.resolv_conf() == (
        "search default.svc.cluster.local svc.cluster.local cluster.local\n"
        "nameserver 10.199.0.1\n"
        "options ndots:5\n"
    )


def test_search_walk_of_a_service_name_as_glibc_does_it() -> None:
    assert search_walk("app-driver-svc.default.svc", DNS) == [
        "app-driver-svc.default.svc.default.svc.cluster.local",
        "app-driver-svc.default.svc.svc.cluster.local",
        "app-driver-svc.default.svc.cluster.local",
        "app-driver-svc.default.svc",
    ]
    # Five dots or more, or a trailing dot: the name as it is, first.
    assert search_walk("a.b.c.d.e.f", DNS)[0] == "a.b.c.d.e.f"
    assert search_walk("kubernetes.default.svc.cluster.local.", DNS) == [
        "kubernetes.default.svc.cluster.local"
    ]
    assert service_fqdn("app-driver-svc", "default") == "app-driver-svc.default.svc.cluster.local"


def test_query_log_lines_are_read_with_their_client() -> None:
    log = (
        "Dec  5 21:09:41 dnsmasq[9232]: query[A] a.default.svc.default.svc.cluster.local from 10.199.0.6\n"
        "Dec  5 21:09:41 dnsmasq[9232]: config a.default.svc.default.svc.cluster.local is NXDOMAIN\n"
        "Dec  5 21:09:41 dnsmasq[9232]: query[AAAA] a.default.svc.cluster.local from 10.199.0.7\n"
    )
    queries = parse_query_log(log)
    assert [(q.qtype, q.name, q.client) for q in queries] == [
        ("A", "a.default.svc.default.svc.cluster.local", "10.199.0.6"),
        ("AAAA", "a.default.svc.cluster.local", "10.199.0.7"),
    ]


def test_sandbox_config_is_the_kubelets() -> None:
    config = sandbox_config(POD)
    assert config.metadata.name == "app-exec-1" and config.metadata.namespace == "default"
    assert config.hostname == "app-exec-1"
    assert list(config.dns_config.servers) == ["10.199.0.1"]
    assert list(config.dns_config.options) == ["ndots:5"]
    assert not config.port_mappings
    security = config.linux.security_context
    assert security.run_as_user.value == 185 and security.run_as_group.value == 185
    assert security.seccomp.localhost_ref == PROFILE
    assert config.linux.cgroup_parent == "/spark-seccomp/run-exec-1"
    assert config.labels["io.kubernetes.pod.uid"] == "uid-1"
    assert config.labels["io.spark-seccomp.owner"] == "spark-seccomp"


def test_container_config_keeps_the_entrypoint_and_carries_the_security_context() -> None:
    config = container_config(POD, CONTAINER)
    assert not config.command and list(config.args) == ["executor"]
    assert config.image.image == "spark-seccomp/spark:3.5.9"
    assert config.log_path == "spark-kubernetes-executor/0.log"
    assert [(m.container_path, m.readonly) for m in config.mounts] == [
        ("/opt/spark/conf", True),
        ("/tmp", False),
    ]
    security = config.linux.security_context
    assert list(security.capabilities.drop_capabilities) == ["ALL"]
    assert security.no_new_privs and security.readonly_rootfs
    assert security.run_as_user.value == 185
    assert tuple(security.masked_paths) == MASKED_PATHS
    assert security.seccomp.profile_type == security.seccomp.Localhost
    resources = config.linux.resources
    assert resources.memory_limit_in_bytes == 1408 * 1024**2
    assert (resources.cpu_period, resources.cpu_quota) == (100_000, 100_000)
    assert resources.cpu_shares == 1024
    assert resources.oom_score_adj == -997
    assert config.labels["io.kubernetes.container.name"] == "spark-kubernetes-executor"


def test_localhost_profiles_are_absolute_paths() -> None:
    with pytest.raises(ValueError, match="absolute"):
        sandbox_config(
            CriPod(**{**POD.__dict__, "seccomp": SeccompChoice(Seccomp.LOCALHOST, "rel.json")})
        )


def test_hosts_file_names_the_pod_at_its_address() -> None:
    hosts = etc_hosts("app-driver", "10.199.0.3")
    assert "127.0.0.1\tlocalhost\n" in hosts
    assert hosts.endswith("10.199.0.3\tapp-driver\n")


def test_cri_log_records_become_stdout_and_stderr_with_partial_lines_joined() -> None:
    log = (
        "2026-12-05T21:09:41.1Z stdout F first\n"
        "2026-12-05T21:09:41.2Z stderr P half \n"
        "2026-12-05T21:09:41.3Z stdout F second\n"
        "2026-12-05T21:09:41.4Z stderr F and half\n"
        "2026-12-05T21:09:41.5Z stdout F \n"
        "not a record\n"
    )
    assert parse_cri_log(log) == ("first\nsecond\n\n", "half and half\n")


def test_cluster_names_of_a_pod_are_fully_qualified_once_each() -> None:
    from profiler.runtime.cluster_dns import cluster_names

    assert cluster_names(
        "app-driver",
        (
            "app-driver-svc",
            "app-driver-svc.default.svc",
            "app-driver-svc.default.svc.cluster.local",
        ),
        "default",
    ) == [
        "app-driver.default.svc.cluster.local",
        "app-driver-svc.default.svc.cluster.local",
    ]
    assert cluster_names("localhost.example.org", (), "default") == []
