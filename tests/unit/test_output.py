"""profiler.output: outputs are checked first, written whole, and never over a non-file."""

import os
import socket
import stat
from pathlib import Path

import pytest

from profiler import output
from profiler.errors import UsageError
from profiler.output import OutputFile, check_output_dir, check_output_path, write_file, write_files


def files_in(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize(
    ("make", "kind"),
    [
        (lambda p: p.symlink_to("/proc/self/fd/1"), "a symbolic link"),
        (lambda p: p.mkdir(), "a directory"),
        (lambda p: os.mkfifo(p), "a FIFO"),
        (lambda p: socket.socket(socket.AF_UNIX).bind(str(p)), "a socket"),
    ],
)
def test_only_regular_files_are_replaced(tmp_path: Path, make, kind: str) -> None:
    target = tmp_path / "out"
    make(target)
    with pytest.raises(UsageError, match=f"it is {kind}, and only regular files are replaced"):
        check_output_path(target)
    with pytest.raises(UsageError, match=kind):
        write_file(target, "x")  # the writer checks again: things change during a long run


def test_a_device_node_is_refused() -> None:
    with pytest.raises(UsageError, match="it is a character device"):
        check_output_path(Path("/dev/null"))


def test_the_parent_must_be_a_writable_directory(tmp_path: Path, monkeypatch) -> None:
    with pytest.raises(UsageError, match=r"directory .*/nodir does not exist$"):
        check_output_path(tmp_path / "nodir" / "x.json")
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="Not a directory"):
        check_output_path(tmp_path / "file" / "x.json")
    monkeypatch.setattr(os, "access", lambda path, mode: False)  # as a user without rights
    with pytest.raises(UsageError, match="is not writable"):
        check_output_path(tmp_path / "x.json")
    (tmp_path / "ro.json").write_text("")
    with pytest.raises(UsageError, match="the file is read-only"):
        check_output_path(tmp_path / "ro.json")


def test_dash_is_stdout_only_where_allowed() -> None:
    check_output_path("-", stdout_ok=True)
    with pytest.raises(UsageError, match=r"cannot go to stdout \(-\) here"):
        check_output_path("-")


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "the output path is empty"),
        ("{tmp}/missing-dir/", "{tmp}/missing-dir/ ends in /, so it names a directory, and "),
        ("{tmp}/dir/", "{tmp}/dir/ is a directory, not a file"),
        ("{tmp}/file/", "{tmp}/file/ ends in /, but {tmp}/file is not a directory"),
        ("{tmp}/dir//", "{tmp}/dir// is a directory, not a file"),
    ],
)
def test_a_path_is_checked_as_typed_before_path_changes_it(
    tmp_path: Path, typed: str, message: str
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("")
    raw = typed.replace("{tmp}", str(tmp_path))
    for check in (output.check_output_spelling, check_output_path):
        with pytest.raises(UsageError) as info:
            check(raw)
        assert info.value.message.startswith(message.replace("{tmp}", str(tmp_path)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir", "file"]


def test_the_root_and_plain_paths_pass_the_spelling_check() -> None:
    for raw in ("/", "out.json", "-", "dir/out.json"):
        output.check_output_spelling(raw)


def test_run_directories_may_be_created_but_not_under_a_file(tmp_path: Path) -> None:
    check_output_dir(tmp_path / "a" / "b" / "c")
    assert not (tmp_path / "a").exists()  # checking creates nothing
    (tmp_path / "file").write_text("")
    with pytest.raises(UsageError, match="file is a file, not a directory"):
        check_output_dir(tmp_path / "file" / "run")
    with pytest.raises(UsageError, match="it is a file, not a directory"):
        check_output_dir(tmp_path / "file")
    (tmp_path / "link").symlink_to(tmp_path / "a-dir")
    (tmp_path / "a-dir").mkdir()
    check_output_dir(tmp_path / "link")  # a linked run directory is fine: nothing is replaced


def test_a_replaced_file_keeps_its_mode_and_a_new_one_follows_the_umask(tmp_path: Path) -> None:
    private = tmp_path / "private.json"
    private.write_text("old")
    private.chmod(0o600)
    write_file(private, "new")
    assert private.read_text() == "new"
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    umask = os.umask(0o022)
    try:
        write_file(tmp_path / "fresh.json", "x")
    finally:
        os.umask(umask)
    assert stat.S_IMODE((tmp_path / "fresh.json").stat().st_mode) == 0o644
    setuid = tmp_path / "setuid"
    setuid.write_text("old")
    setuid.chmod(0o4755)
    write_file(setuid, "text")
    assert stat.S_IMODE(setuid.stat().st_mode) == 0o755  # never a setuid text file


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another owner")
def test_root_keeps_the_owner_of_what_it_replaces(tmp_path: Path) -> None:
    theirs = tmp_path / "theirs.json"
    theirs.write_text("old")
    os.chown(theirs, 1234, 1234)
    write_file(theirs, "new")
    assert (theirs.stat().st_uid, theirs.stat().st_gid) == (1234, 1234)


def test_a_group_is_written_together_and_removes_stale_companions(tmp_path: Path) -> None:
    (tmp_path / "p.json").write_text("old profile")
    (tmp_path / "p.summary.json").write_text("old summary")
    write_files(
        [OutputFile(tmp_path / "p.json", "new"), OutputFile(tmp_path / "p.summary.json", None)]
    )
    assert (tmp_path / "p.json").read_text() == "new"
    assert files_in(tmp_path) == ["p.json"]
    write_files([OutputFile(tmp_path / "q.json", None)])  # nothing to remove is fine


def test_a_failure_before_the_renames_changes_nothing(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "p.json").write_text("old profile")
    real = output._write_temporary
    calls = []

    def second_fails(path: Path, text: str) -> str:
        calls.append(path)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        return real(path, text)

    monkeypatch.setattr(output, "_write_temporary", second_fails)
    with pytest.raises(OSError, match="No space left"):
        write_files(
            [OutputFile(tmp_path / "p.json", "new"), OutputFile(tmp_path / "s.json", "new")]
        )
    assert (tmp_path / "p.json").read_text() == "old profile"
    assert files_in(tmp_path) == ["p.json"]  # no temporaries left


def test_a_failed_rename_puts_back_what_was_replaced(tmp_path: Path, monkeypatch) -> None:
    (tmp_path / "p.json").write_text("old profile")
    (tmp_path / "r.json").write_text("old r")
    real = os.replace
    calls = []

    def second_rename_fails(source, target):
        calls.append(target)
        if Path(target).name == "s.json":
            raise OSError(16, "Device or resource busy")
        return real(source, target)

    monkeypatch.setattr(output.os, "replace", second_rename_fails)
    with pytest.raises(OSError, match="busy"):
        write_files(
            [
                OutputFile(tmp_path / "p.json", "new profile"),
                OutputFile(tmp_path / "r.json", None),
                OutputFile(tmp_path / "s.json", "new summary"),
            ]
        )
    assert (tmp_path / "p.json").read_text() == "old profile"
    assert (tmp_path / "r.json").read_text() == "old r"
    assert files_in(tmp_path) == ["p.json", "r.json"]


def test_an_interrupt_during_the_group_leaves_nothing_half_done(
    tmp_path: Path, monkeypatch
) -> None:
    (tmp_path / "p.json").write_text("old")

    def interrupted(path: Path, text: str) -> str:
        raise KeyboardInterrupt

    monkeypatch.setattr(output, "_write_temporary", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_files([OutputFile(tmp_path / "p.json", "new")])
    assert files_in(tmp_path) == ["p.json"]
    assert (tmp_path / "p.json").read_text() == "old"


def test_stopwatch_laps_each_step_in_order() -> None:
    from profiler.vocabulary import Stopwatch

    watch = Stopwatch()
    watch.lap("first")
    watch.add((("inner", 2.5),), prefix="bench: ")
    watch.lap("last")
    assert [step for step, _ in watch.laps] == ["first", "bench: inner", "last"]
    assert watch.laps[1][1] == 2.5 and all(seconds >= 0 for _, seconds in watch.laps)
