"""Safe file writes: destinations checked before the work, atomic renames, the user's umask.

A write goes to a temporary file beside its target (``.NAME.<random>.tmp``),
then is renamed over it, so a crash never leaves a half-written file under
a real name. Temporary files of an earlier process that was killed are
removed the next time the same target is written.
"""

from __future__ import annotations

import os
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


def check_writable_file(path: str | Path, option: str) -> Path:
    """Check, before any work, that ``path`` can be written as a file; raise :class:`OutputError` naming ``--option``."""
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"--{option} {path}: is a folder; give a file name.")
    try:
        check_writable_dir(path.parent if str(path.parent) else Path("."), option)
    except OutputError as exc:
        raise OutputError(f"--{option} {path}: cannot be written there ({exc.reason}); pick a writable location.", exc.reason) from None
    if path.exists() and not os.access(path, os.W_OK):
        raise OutputError(f"--{option} {path}: the file exists and is read-only; pick another name or make it writable.")
    return path


@contextmanager
def atomic_write(path: str | Path, mode: str = "wb") -> Iterator:
    """Open a temporary file beside ``path``; on success rename it to ``path``.

    If the block raises, the temporary file is removed and ``path`` keeps
    whatever it held before. The file gets the permissions of any new file
    (``0o666`` less the umask). OS errors become :class:`OutputError`
    naming the path.

    Examples
    --------
    >>> with atomic_write("out.json", "w") as f:  # doctest: +SKIP
    ...     f.write("{}")
    """
    path = Path(path)
    tmp = None
    try:
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
