"""The RuntimeDefault probe against the real engine's default profile."""

from profiler.runtime.probe import probe_runtime_default


def test_probe_finds_what_the_default_profile_blocks(spark_image, monkeypatch, tmp_path):
    monkeypatch.setenv("SPARK_SECCOMP_CACHE", str(tmp_path))  # really probe, not the cache
    reference = probe_runtime_default(spark_image)
    # Docker's default profile blocks these for a container without capabilities...
    assert not reference.allowed & {"mount", "unshare", "setns", "bpf", "keyctl", "kexec_load"}
    # ...and allows what every program needs.
    assert {"read", "write", "openat", "mmap", "futex", "execve", "socket"} <= reference.allowed
    assert 200 < len(reference.allowed) < 400
    # The second call is served from the per-engine cache.
    assert probe_runtime_default(spark_image) == reference
