"""Reading the kernel log for one run: the printk rate limit is always restored."""

from __future__ import annotations

from profiler.diagnosis.kernel_log import KernelLogWatcher


def test_kernel_log_watcher_restores_the_rate_limit(tmp_path):
    ratelimit = tmp_path / "printk_ratelimit"
    ratelimit.write_text("5\n")
    kmsg = tmp_path / "kmsg"
    kmsg.write_text("")
    watcher = KernelLogWatcher(kmsg=kmsg, ratelimit=ratelimit)
    watcher.before_start()
    assert ratelimit.read_text() == "0\n"
    watcher.close()
    assert ratelimit.read_text() == "5\n"
    watcher.close()  # idempotent
    assert ratelimit.read_text() == "5\n"
