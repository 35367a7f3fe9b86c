"""README's "Errors" block is what the tool really prints."""

import json
import os
import re
import shlex
import shutil
import stat
from pathlib import Path

import pytest

from profiler.cli import main

ROOT = Path(__file__).parents[2]
ADVERSARIAL = ROOT / "tests" / "fixtures" / "adversarial"


def examples() -> list[tuple[str, str]]:
    text = (ROOT / "README.md").read_text()
    block = text.split("### Errors", 1)[1].split("```", 2)[1]
    lines = [line for line in block.splitlines() if line.strip()]
    pairs = list(zip(lines[0::2], lines[1::2], strict=True))
    assert pairs and all(c.startswith("$ spark-seccomp ") for c, _ in pairs)
    return [(command.removeprefix("$ spark-seccomp "), error) for command, error in pairs]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SPARK_SECCOMP_RUNS", str(tmp_path / "runs"))
    (tmp_path / "p.json").write_text(
        json.dumps(
            {
                "defaultAction": "SCMP_ACT_ERRNO",
                "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "errnoRet": True}],
            }
        )
    )
    shutil.copy(ADVERSARIAL / "profiles" / "name_unknown.json", tmp_path / "name.json")
    recording = json.loads((ADVERSARIAL / "valid" / "run-0" / "recording.json").read_text())
    del recording["arch"]
    (tmp_path / "r.json").write_text(json.dumps(recording))
    shutil.copy(ROOT / "profiles" / "spark-3.5.9-amd64.json", tmp_path / "good.json")
    if os.geteuid() == 0:  # a private device node: a regression must not replace /dev/null
        os.mknod(tmp_path / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))
    return tmp_path


@pytest.mark.parametrize(("command", "error"), examples(), ids=[c for c, _ in examples()])
def test_the_readme_error_examples(command: str, error: str, files: Path, capsys) -> None:
    device = str(files / "null") if os.geteuid() == 0 else "/dev/null"
    args = [device if a == "/dev/null" else a for a in shlex.split(command)]
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err.replace(device, "/dev/null")
    assert err == error + "\n"
    assert re.match(r"^error: ", err)
