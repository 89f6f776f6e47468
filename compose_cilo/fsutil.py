"""Atomic file writes and workspace copies."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

TMP_PREFIX = ".cilo-tmp-"


def atomic_write(path: Path, data: str | bytes, mode: int = 0o600) -> None:
    """Write `data` to `path` so readers see the old or the new file, never a part of one.

    Temp file in the same folder (same filesystem), fsync, then rename; the folder is
    fsynced too so the rename itself survives a crash.
    """
    import tempfile

    raw = data.encode() if isinstance(data, str) else data
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TMP_PREFIX + path.name + ".", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(path.parent)


def _fsync_dir(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def copy_tree(src: Path, dst: Path) -> None:
    """Copy a project folder, keeping modes and symlinks, with reflinks where possible.

    GNU cp does copy-on-write clones (`--reflink=auto`) on btrfs/xfs and falls back to a
    plain copy elsewhere; Python's copytree is the fallback where cp is not GNU (macOS).
    """
    import shutil
    import subprocess

    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(dst.name + ".partial")
    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        proc = subprocess.run(
            ["cp", "-a", "--reflink=auto", f"{src}/.", str(tmp)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0:
            if tmp.exists():
                shutil.rmtree(tmp)
            shutil.copytree(src, tmp, symlinks=True)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


TURN_TIMEOUT = 600.0  # seconds: copying a big project or `compose up --build` takes a while


@contextmanager
def turn(lock: Path, what: str, timeout: float = TURN_TIMEOUT) -> Iterator[None]:
    """Hold an exclusive flock on `lock` while doing `what`; others wait their turn.

    flock: a holder that dies releases it, so a killed cilo never blocks the next one.
    """
    from filelock import FileLock, Timeout

    from . import paths
    from .errors import CiloError

    paths.ensure_private_dir(lock.parent)
    try:
        with FileLock(str(lock), timeout=timeout):
            yield
    except Timeout:
        raise CiloError(
            f"another cilo is still {what} after {timeout:.0f} s (lock {lock}); wait for it "
            "to finish, or end it and run the command again"
        ) from None


def ensure_copy(src: Path, dst: Path) -> bool:
    """Copy `src` to `dst` unless it is there; True if this call made it.

    Concurrent callers (two `up X --copy` of a new environment) take turns on a lock
    beside `dst`: the second waits, then finds the copy made. Under the lock a
    `.partial` left by a killed copier is nobody's and is removed.
    """
    with turn(dst.with_name(dst.name + ".lock"), f"copying {src} to {dst}"):
        if dst.exists():
            return False
        copy_tree(src, dst)
        return True


def remove_tree(path: Path) -> None:
    """Remove a file or folder; what is already gone (a concurrent destroy) is fine."""
    import shutil
    import sys

    def gone_already(exc: BaseException) -> None:
        if not isinstance(exc, FileNotFoundError):
            raise exc

    if path.is_symlink() or path.is_file():
        path.unlink(missing_ok=True)
    elif path.exists():
        if sys.version_info >= (3, 12):
            shutil.rmtree(path, onexc=lambda func, target, exc: gone_already(exc))
        else:
            shutil.rmtree(path, onerror=lambda func, target, info: gone_already(info[1]))


def remove_with_empty_parents(path: Path, top: Path) -> None:
    """Remove file or folder `path`, then each parent folder left empty, below `top`."""
    if path.is_dir() and not path.is_symlink():
        remove_tree(path)
    else:
        path.unlink(missing_ok=True)
    folder = path.parent
    while folder != top and folder.is_relative_to(top):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: another environment's
        folder = folder.parent
