"""Where Spark finds the files a manifest names."""

from __future__ import annotations

from profiler.k8s.app_files import HostFile, InImage, Remote, classify


def test_classify(tmp_path):
    script = tmp_path / "job.py"
    script.write_text("")
    assert classify("local:///opt/a.py", tmp_path) == InImage("/opt/a.py")
    assert classify("/opt/not/here.py", tmp_path) == InImage("/opt/not/here.py")
    assert classify(str(script), tmp_path) == HostFile(script)
    assert classify(f"file://{script}", tmp_path) == HostFile(script)
    assert classify("job.py", tmp_path) == HostFile(script.resolve())
    assert classify("https://x/y.py", tmp_path) == Remote("https://x/y.py")
