"""The one way the tool writes files: checked before the work, whole or not at all.

- ``check_output_path`` runs first thing in every command that writes, so a path that
  cannot be written fails in a second instead of after an hour of Spark runs. The parent
  must be a writable directory; an existing path must be a regular file (a device node,
  FIFO, socket, directory or symbolic link is refused: replacing ``/dev/null`` or a link
  to ``/proc/self/fd/1`` with a regular file harms the system or the caller).
- ``write_files`` writes a group of files (a profile and its summary, a report's three
  files) as a unit: every file goes to a temporary name in its directory and is synced,
  and only then are they renamed into place; if anything fails before the renames, no
  file changed; if a rename fails, the ones already renamed are put back. A file given
  without text is removed in the same step (a stale summary beside a new profile).
- A replaced file keeps its permission bits (and, where allowed, owner and group): a
  profile made private with ``chmod 600`` stays private.

``-`` means stdout; only commands that write one file accept it (``STDOUT``).

A path is checked as the user spelt it (``check_output_spelling``), before ``Path`` turns
``""`` into ``.`` and drops the trailing ``/`` that says "a directory": ``--out dir/``
would otherwise write a file named ``dir``.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from profiler.errors import UsageError

STDOUT = "-"

_KINDS = (
    (stat.S_ISLNK, "a symbolic link"),
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def is_stdout(path: Path | str | None) -> bool:
    return path is not None and str(path) == STDOUT


@dataclass(frozen=True)
class OutputFile:
    """One file of a group written together; ``text=None`` removes what is at ``path``."""

    path: Path
    text: str | None


def _kind_of(mode: int) -> str | None:
    return next((name for test, name in _KINDS if test(mode)), None)


def check_output_spelling(raw: str) -> None:
    """Refuse a file path as typed that ``Path`` would quietly turn into another one."""
    if not raw:
        raise UsageError("the output path is empty", "give a file path")
    if raw.endswith("/") and raw.strip("/"):
        folder = raw.rstrip("/")
        if os.path.isdir(folder):
            raise UsageError(
                f"{raw} is a directory, not a file", f"give a file path inside it, e.g. {raw}NAME"
            )
        if os.path.lexists(folder):
            raise UsageError(
                f"{raw} ends in /, but {folder} is not a directory", "drop the trailing /"
            )
        raise UsageError(
            f"{raw} ends in /, so it names a directory, and {folder} does not exist",
            f"give a file path, e.g. {raw}NAME after mkdir -p {folder}",
        )


def check_output_path(path: Path | str, *, what: str = "output", stdout_ok: bool = False) -> None:
    """Refuse, before any work, an output path the tool cannot or must not replace."""
    if isinstance(path, str):
        check_output_spelling(path)
    if is_stdout(path):
        if stdout_ok:
            return
        raise UsageError(
            f"{what} cannot go to stdout (-) here: this command writes more than one file "
            "or uses stdout for its results",
            "give a file path",
        )
    path = Path(path)
    try:
        info: os.stat_result | None = os.lstat(path)
    except FileNotFoundError:
        info = None
    except OSError as exc:  # a parent that is a file (ENOTDIR), a loop of links (ELOOP)...
        raise UsageError(
            f"cannot write {what} {path}: {exc.strerror}", "choose a path in a writable directory"
        ) from exc
    if info is not None:
        kind = _kind_of(info.st_mode)
        if kind is not None:
            fix = (
                "give a file path inside it"
                if kind == "a directory"
                else "write to a regular file path instead"
            )
            raise UsageError(
                f"refusing to write {what} to {path}: it is {kind}, and only regular files "
                "are replaced",
                fix,
            )
        if not os.access(path, os.W_OK):
            raise UsageError(
                f"cannot write {what} {path}: the file is read-only",
                "make it writable (chmod u+w) or choose another path",
            )
    parent = path.parent
    try:
        parent_info = os.stat(parent)
    except FileNotFoundError:
        raise UsageError(
            f"cannot write {what} {path}: directory {parent} does not exist",
            f"create it first with mkdir -p {parent}",
        ) from None
    except OSError as exc:
        raise UsageError(
            f"cannot write {what} {path}: {parent}: {exc.strerror}",
            "choose a path in a writable directory",
        ) from exc
    if not stat.S_ISDIR(parent_info.st_mode):
        raise UsageError(
            f"cannot write {what} {path}: {parent} is not a directory",
            "choose a path in a writable directory",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot write {what} {path}: directory {parent} is not writable",
            "choose a path in a writable directory",
        )


def check_distinct_outputs(outputs: Mapping[str, Path | str | None]) -> None:
    """Refuse two options naming the same file: the second write would replace the first."""
    seen: dict[str, str] = {}
    for option, path in outputs.items():
        if path is None or is_stdout(path):
            continue
        key = os.path.realpath(path)
        if key in seen:
            raise UsageError(
                f"{seen[key]} and {option} name the same file ({path})",
                "give two different files",
            )
        seen[key] = option


def check_output_dir(path: Path | str, *, what: str = "run directory") -> None:
    """Refuse a directory the tool will create or write into when it cannot be one.

    An existing directory (through symbolic links) must be writable; a missing one must
    have a writable directory as its nearest existing ancestor, so it can be created.
    """
    path = Path(path)
    probe = path
    while True:
        try:
            info = os.stat(probe)
            break
        except (FileNotFoundError, NotADirectoryError):
            if probe.parent == probe:
                raise UsageError(f"cannot create {what} {path}", "choose another path") from None
            probe = probe.parent
        except OSError as exc:
            raise UsageError(
                f"cannot use {what} {path}: {exc.strerror}", "choose another directory"
            ) from exc
    if not stat.S_ISDIR(info.st_mode):
        where = "it" if probe == path else str(probe)
        kind = _kind_of(info.st_mode) or "a file"
        raise UsageError(
            f"cannot use {what} {path}: {where} is {kind}, not a directory",
            "choose another directory",
        )
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(
            f"cannot use {what} {path}: directory {probe} is not writable",
            "choose a directory you can write to",
        )


def check_output_files(directory: Path, names: Sequence[str], *, what: str = "output") -> None:
    """``check_output_path`` for files a command will write into ``directory`` (existing
    or to be created): only what already exists there can be in the way."""
    directory = Path(directory)
    if not directory.is_dir():
        return
    for name in names:
        check_output_path(directory / name, what=what)


def write_file(path: Path | str, text: str) -> None:
    """Write one file whole or not at all (see ``write_files``)."""
    write_files([OutputFile(Path(path), text)])


def write_files(files: Sequence[OutputFile]) -> None:
    """Write and remove a group of files together: all of them, or none of them."""
    for item in files:
        check_output_path(item.path)
    temporaries: list[tuple[OutputFile, str]] = []
    try:
        for item in files:
            if item.text is not None:
                temporaries.append((item, _write_temporary(item.path, item.text)))
        _commit(files, {item.path: temp for item, temp in temporaries})
    finally:
        for _, temporary in temporaries:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
    for directory in sorted({Path(item.path).parent for item in files}):
        _sync_directory(directory)


def _write_temporary(path: Path, text: str) -> str:
    """The text in a synced temporary file beside ``path``, with the mode ``path`` has."""
    path = Path(path)
    try:
        existing: os.stat_result | None = os.stat(path)
    except FileNotFoundError:
        existing = None
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        if existing is None:
            # mkstemp makes 0600; new profiles and reports are meant to be read.
            os.chmod(temporary, 0o666 & ~_umask())
        else:
            # Permission bits only: a text file must not inherit setuid from what it replaces.
            os.chmod(temporary, stat.S_IMODE(existing.st_mode) & 0o777)
            if (existing.st_uid, existing.st_gid) != (os.geteuid(), os.getegid()):
                with contextlib.suppress(PermissionError):
                    os.chown(temporary, existing.st_uid, existing.st_gid)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
    return temporary


def _commit(files: Sequence[OutputFile], temporaries: dict[Path, str]) -> None:
    """Rename every temporary into place and remove the files given without text; on a
    failure half-way, put back what was already replaced or removed."""
    # (path, hard link to what was there or None, whether something was there)
    undo: list[tuple[Path, str | None, bool]] = []
    backups: list[str] = []
    try:
        for item in files:
            existed = os.path.lexists(item.path)
            backup = _backup(item.path) if existed else None
            if backup is not None:
                backups.append(backup)
            if item.text is None:
                if existed:
                    os.unlink(item.path)
                    undo.append((item.path, backup, True))
                continue
            os.replace(temporaries[item.path], item.path)
            undo.append((item.path, backup, existed))
    except BaseException:
        for path, backup, existed in reversed(undo):
            with contextlib.suppress(OSError):
                if backup is not None:
                    os.replace(backup, path)
                elif not existed:
                    os.unlink(path)
        raise
    finally:
        for backup in backups:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(backup)


def _backup(path: Path) -> str | None:
    """A hard link to the file now at ``path`` (None when there is none), so a failed group
    can be put back; where hard links are refused, the group just cannot be undone."""
    backup = str(Path(path).with_name(f".{Path(path).name}.{uuid.uuid4().hex[:8]}.old"))
    try:
        os.link(path, backup, follow_symlinks=False)
    except OSError:
        return None
    return backup


def _sync_directory(directory: Path) -> None:
    """Make the renames durable: without it a crash can bring back the old names."""
    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current
