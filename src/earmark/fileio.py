"""Safe file writes: destinations checked before the work, atomic renames, the user's umask.

A write goes to a temporary file beside its target (``.NAME.<random>.tmp``),
then is renamed over it, so a crash never leaves a half-written file under
a real name. Temporary files of an earlier process that was killed are
removed the next time the same target is written.
"""

from __future__ import annotations

import os
import stat
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from earmark.errors import OutputError

_PROCESS_START = time.time()


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def remove_stale_temporaries(folder: Path, prefix: str = ".") -> int:
    """Delete ``<prefix>*.tmp`` files in ``folder`` last written before this process started; return how many."""
    removed = 0
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if entry.name.startswith(prefix) and entry.name.endswith(".tmp"):
            try:
                if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < _PROCESS_START:
                    os.unlink(entry.path)
                    removed += 1
            except OSError:
                pass
    return removed


def cache_root() -> Path:
    """Where earmark keeps what it can rebuild: ``$EARMARK_CACHE_DIR``, else the user cache folder."""
    if os.environ.get("EARMARK_CACHE_DIR"):
        return Path(os.environ["EARMARK_CACHE_DIR"])
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("earmark"))


def check_writable_dir(folder: str | Path, option: str) -> Path:
    """Create ``folder`` if needed and check it can be written; raise :class:`OutputError` naming ``--option``."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError):
        raise OutputError(f"--{option} {folder}: exists and is not a folder; pick another path.", f"{folder} is not a folder") from None
    except OSError as exc:
        raise OutputError(f"--{option} {folder}: cannot create the folder ({exc.strerror}); pick a writable location.", exc.strerror) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputError(f"--{option} {folder}: the folder is not writable; pick a writable location.", f"{folder} is not writable")
    return folder


def _kind(path: Path) -> str:
    """What ``path`` is, following links: ``missing``, ``file``, ``pipe`` (a FIFO or a terminal-like character
    device: written through), or ``other`` (a folder, block device, socket: refused)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "other"
    if stat.S_ISREG(st.st_mode):
        return "file"
    if stat.S_ISFIFO(st.st_mode) or stat.S_ISCHR(st.st_mode):
        return "pipe"
    return "other"


def output_target(path: str | Path) -> tuple[Path, bool]:
    """Where a write to ``path`` goes, and whether it is written through (a pipe or a device) rather than replaced.

    A regular file (or a new name) is replaced atomically; a symbolic link is
    never renamed over: the file it points to is replaced instead, so the
    link stays; a FIFO or a character device (``/dev/stdout``, a named pipe) is
    written through. Anything else raises :class:`OutputError`.
    """
    path = Path(path)
    kind = _kind(path)
    if kind == "pipe":
        return path, True
    if kind == "other":
        raise OutputError(f"{path}: is not a regular file (a folder, device or socket); give a file name.", "not a regular file")
    if path.is_symlink():
        if _through_proc(path):  # /dev/stdout and friends: the file the caller's descriptor is open on
            return path, True
        return Path(os.path.realpath(path)), False
    return path, False


def _through_proc(path: Path) -> bool:
    """Whether following ``path``'s links passes through ``/proc`` (a process's open descriptors)."""
    for _ in range(40):
        if str(path).startswith(("/proc/", "/dev/fd/")):
            return True
        if not path.is_symlink():
            return False
        path = path.parent / os.readlink(path)
    return False


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether ``a`` and ``b`` name one existing file (through links or other spellings)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def check_writable_file(path: str | Path, option: str, *, inputs=()) -> Path:
    """Check, before any work, that ``path`` can be written as a file; raise :class:`OutputError` naming ``--option``.

    ``inputs`` are files the command reads: writing over one of them (by any
    spelling or link) is refused.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"--{option} {path}: is a folder; give a file name.")
    for source in inputs:
        source = Path(source)
        if same_file(path, source):
            raise OutputError(f"--{option} {path}: is also an input of this command; writing it would destroy it. "
                              "Give another name.", "is an input")
    try:
        target, through = output_target(path)
    except OutputError as exc:
        raise OutputError(f"--{option} {exc}", exc.reason) from None
    if through:
        if not os.access(target, os.W_OK):
            raise OutputError(f"--{option} {path}: cannot be written (permission denied); pick a writable location.")
        return path
    try:
        check_writable_dir(target.parent if str(target.parent) else Path("."), option)
    except OutputError as exc:
        raise OutputError(f"--{option} {path}: cannot be written there ({exc.reason}); pick a writable location.", exc.reason) from None
    if target.exists() and not os.access(target, os.W_OK):
        raise OutputError(f"--{option} {path}: the file exists and is read-only; pick another name or make it writable.")
    return path


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    If the block raises, the temporary file is removed and ``path`` keeps
    whatever it held before. The file gets the permissions of any new file
    (``0o666`` less the umask). Only a regular file is ever replaced: a
    symbolic link is kept and the file it points to replaced, a FIFO or
    character device (``/dev/stdout``) is written through, anything else is
    refused (:func:`output_target`). OS errors become :class:`OutputError`
    naming the path.

    Examples
    --------
    >>> with atomic_write("out.json", "w") as f:  # doctest: +SKIP
    ...     f.write("{}")
    """
    path, through = output_target(path)
    tmp = None
    try:
        if through:  # appended, so a shell redirection behind /dev/stdout keeps what was written before
            with open(path, mode.replace("w", "a")) as f:
                yield f
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent, f".{path.name}.")
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, 0o666 & ~_UMASK)
        with os.fdopen(fd, mode) as f:
            yield f
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        reason = exc.strerror or str(exc)
        raise OutputError(f"{path}: cannot write ({reason}); check the location has space and is writable.", reason) from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
