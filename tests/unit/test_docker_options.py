import pytest

from profiler import workloads
from profiler.runtime.docker import container_options
from profiler.runtime.interface import ContainerSecurity, PodSecurity, RunSpec, SecurityMode


def _spec(**kw):
    base = dict(
        workload=workloads.resolve("rdd_python"), mode=SecurityMode.RUNTIME_DEFAULT, image="img"
    )
    base.update(kw)
    return RunSpec(**base)


def test_restricted_mirrors_pss_restricted():
    options = container_options(_spec(), "run1")
    assert options["user"] == "185:185"
    assert options["cap_drop"] == ["ALL"]
    assert options["read_only"] is True
    assert "no-new-privileges:true" in options["security_opt"]
    assert options["network_mode"] == "none"
    assert options["hostname"] == "localhost"
    assert set(options["tmpfs"]) == {"/tmp", "/home/spark"}
    assert all("exec" in o.split(",") for o in options["tmpfs"].values())
    assert options["labels"]["io.spark-seccomp.owner"] == "spark-seccomp"


def test_runtime_default_sends_no_seccomp_option():
    options = container_options(_spec(), "r")
    assert not [o for o in options["security_opt"] if o.startswith("seccomp")]


def test_unconfined_and_localhost_modes():
    assert (
        "seccomp=unconfined"
        in container_options(_spec(mode=SecurityMode.UNCONFINED), "r")["security_opt"]
    )
    options = container_options(
        _spec(mode=SecurityMode.LOCALHOST, profile_json='{"defaultAction": "SCMP_ACT_ALLOW"}'), "r"
    )
    assert 'seccomp={"defaultAction": "SCMP_ACT_ALLOW"}' in options["security_opt"]


def test_localhost_without_profile_is_a_bug():
    with pytest.raises(ValueError):
        container_options(_spec(mode=SecurityMode.LOCALHOST), "r")


def test_pod_security_none_keeps_engine_defaults():
    options = container_options(_spec(pod_security=PodSecurity.NONE), "r")
    for key in ("user", "cap_drop", "read_only", "tmpfs", "network_mode"):
        assert key not in options
    assert options["security_opt"] == []


def test_explicit_security_context_overrides_the_preset():
    security = ContainerSecurity(user=1000, group=2000, cap_add=("NET_BIND_SERVICE",))
    options = container_options(_spec(security=security), "r")
    assert options["user"] == "1000:2000"
    assert options["cap_add"] == ["NET_BIND_SERVICE"]
    assert "read_only" not in options


def test_held_first_process_waits_for_the_tracer():
    options = container_options(_spec(hold_until_traced=True), "r")
    assert options["entrypoint"][0].endswith("wait-for-tracer")
