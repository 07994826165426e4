"""Writing files safely: the one atomic-write helper every writer uses (photos, extras, settings, indexes).

A file is written to a hidden temp file in the destination's folder, flushed, fsynced and checked, then renamed
over the destination, so readers (and a crash) see the old file or the complete new one. Temp files carry the
writer's process id, so a later run can tell its own leftovers of a killed writer from files that are not ours.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from pathlib import Path

from frstudio.core.errors import PhotoError

__all__ = ["atomic_write", "atomic_write_bytes", "remove_stale_temp_files", "write_error_message"]

log = logging.getLogger(__name__)

# `.<start of the name>.<pid>-<8 hex>.part`; older versions wrote `.<name>.<8 hex>.part` (no pid).
_TEMP_NAME = re.compile(r"^\..+\.(?:(\d+)-)?[0-9a-f]{8}\.part$")
_NAME_BYTES_IN_TEMP = 100  # the temp name must stay under the 255-byte limit however long the destination's is
STALE_AFTER_S = 15 * 60  # a temp file untouched this long has no live writer (writes keep its mtime fresh)
_DEAD_WRITER_GRACE_S = 10  # ... or its writer process is gone and it is not brand new


def atomic_write(dest: Path, write: Callable[[Path], None], check: Callable[[Path], None] | None = None) -> Path:
    """Call write(temp) for a hidden temp file next to `dest`, check it, fsync it, rename it over `dest`.

    `check(temp)` raises PhotoError when the written file is not complete (e.g. a decoder of its header and
    length); an empty file always fails. On any failure the temp file is removed and `dest` is left as it was;
    OSErrors become PhotoError with a plain message about the folder or the disk.
    """
    dest = Path(dest)
    folder = dest.parent
    if not folder.is_dir():
        raise PhotoError(f"cannot write to {folder}: the folder does not exist")
    if dest.is_dir():
        raise PhotoError(f"cannot write {dest}: a folder with that name is already there")
    try:
        temp = _create_temp_file(folder, dest.name)
    except OSError as e:
        raise PhotoError(write_error_message(dest, e)) from e
    try:
        write(temp)
        _fsync(temp)
        # Checked after the fsync: a full disk may only say so when the data reaches it.
        if temp.stat().st_size == 0:
            raise PhotoError(f"cannot write {dest.name} to {folder}: nothing was written (the disk may be full)")
        if check is not None:
            check(temp)
        os.replace(temp, dest)
    except BaseException as e:
        temp.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise PhotoError(write_error_message(dest, e)) from e
        raise
    _fsync_folder(folder)
    return dest


def atomic_write_bytes(dest: Path, data: bytes) -> Path:
    """Atomically write `data`; the file is checked to hold exactly those bytes' length."""

    def check(temp: Path) -> None:
        if temp.stat().st_size != len(data):
            raise PhotoError(f"cannot write {Path(dest).name}: it was written short (the disk may be full)")

    return atomic_write(dest, lambda temp: temp.write_bytes(data), check)


def remove_stale_temp_files(folder: Path, now: float | None = None) -> list[Path]:
    """Remove the temp files of our own naming that a killed writer left in `folder`; returns them.

    Ours and stale: named like ours, and either untouched for STALE_AFTER_S or written by a process that is no
    longer running on this machine. Other hidden or `.part` files are never touched."""
    now = time.time() if now is None else now
    removed = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    for entry in entries:
        match = _TEMP_NAME.match(entry.name)
        if not match:
            continue
        try:
            if not entry.is_file(follow_symlinks=False):
                continue
            age = now - entry.stat(follow_symlinks=False).st_mtime
            pid = int(match[1]) if match[1] else None
            dead_writer = pid is not None and age > _DEAD_WRITER_GRACE_S and not _process_alive(pid)
            if age > STALE_AFTER_S or dead_writer:
                os.unlink(entry.path)
                removed.append(Path(entry.path))
        except OSError:
            log.debug("cannot remove stale temp file %s", entry.path, exc_info=True)
    return removed


def _process_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    if os.name != "posix":
        return True  # os.kill(pid, 0) would end the process on Windows: rely on the age alone there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: alive, someone else's
        return True
    return True


def _temp_name(name: str) -> str:
    short = name.encode("utf-8")[:_NAME_BYTES_IN_TEMP].decode("utf-8", "ignore")
    return f".{short}.{os.getpid()}-{secrets.token_hex(4)}.part"


def _create_temp_file(folder: Path, name: str) -> Path:
    # Not tempfile.mkstemp: it creates the file 0600, and the rename would carry that over to the
    # user's photo. os.open with 0o666 honours the umask, as a normal save does.
    for _ in range(100):
        temp = folder / _temp_name(name)
        try:
            fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue
        os.close(fd)
        return temp
    raise FileExistsError(errno.EEXIST, "no free temporary file name", str(folder))


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0))  # Windows needs a writable handle
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable; best effort (not possible on Windows, some file systems)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def write_error_message(dest: Path, error: OSError) -> str:
    folder = dest.parent
    code = error.errno
    if code in (errno.EACCES, errno.EPERM):
        return f"cannot write to {folder}: permission denied"
    if code == errno.EROFS:
        return f"cannot write to {folder}: the folder is read-only"
    if code in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)):
        return f"cannot write {dest.name} to {folder}: the disk is full"
    if code == errno.ENOENT:
        return f"cannot write to {folder}: the folder does not exist"
    if code == errno.ENAMETOOLONG:
        return f"cannot write {_shortened(dest.name)}: the file name is too long ({len(dest.name)} characters)"
    return f"cannot write {dest}: {error.strerror or error}"


def _shortened(name: str, keep: int = 40) -> str:
    return name if len(name) <= 2 * keep else f"{name[:keep]}…{name[-keep:]}"
