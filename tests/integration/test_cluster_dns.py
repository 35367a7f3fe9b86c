"""The cluster DNS on Docker: a pod run's names answered by dnsmasq on the run network's
gateway, which Docker's embedded DNS forwards to, and every pod given the search domains
and ndots:5 of a kubelet's resolv.conf, so executors find the driver's Service by the walk
a pod does. (containerd's pods get theirs from the CRI: test_cri.py.)"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from profiler.runtime.cluster_dns import cluster_dns_config, parse_query_log, search_walk
from profiler.runtime.pod import service_host
from tests.conftest import missing
from tests.integration.conftest import cli


def test_docker_pods_resolve_through_the_cluster_dns_by_the_search_walk(
    docker_client: object, spark_image: str, tmp_path: Path
) -> None:
    if os.geteuid() != 0 or shutil.which("dnsmasq", path="/usr/sbin:/usr/bin") is None:
        missing("the cluster DNS needs root and dnsmasq (`make setup`)")
    out = tmp_path / "check.json"
    code = cli(
        "check",
        "rdd_python",
        "--image",
        spark_image,
        "--modes",
        "unconfined",
        "--json",
        str(out),
        "--run-dir",
        str(tmp_path / "run"),
        "--timeout",
        "300",
    )
    assert code == 0, json.loads(out.read_text())
    run = tmp_path / "run" / "rdd_python" / "unconfined-1"
    pods = [p.name.removesuffix(".resolv.conf") for p in run.glob("*.resolv.conf")]
    assert len(pods) == 4, pods  # master, driver, two executors
    for name in pods:
        resolv = (run / f"{name}.resolv.conf").read_text().splitlines()
        # Docker's embedded DNS stays the nameserver; it forwards to the cluster DNS.
        assert resolv == [
            "search default.svc.cluster.local svc.cluster.local cluster.local",
            "nameserver 127.0.0.11",
            "options ndots:5",
        ], (name, resolv)
    app = next(n for n in pods if n.endswith("-driver")).removesuffix("-driver")
    walk = search_walk(service_host(app), cluster_dns_config("127.0.0.11", "default"))
    queries = parse_query_log((run / "dns-queries.log").read_text())
    # The pods that asked for the driver's Service: the two executors (the driver binds
    # to its own address and asks for the master only).
    askers = sorted({q.client for q in queries if q.name == walk[0]})
    assert len(askers) == 2, queries
    for address in askers:
        asked = [q.name for q in queries if q.client == address and q.qtype == "A"]
        assert asked[:3] == walk[:3], (address, asked)
