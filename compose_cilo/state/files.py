"""The state's files on disk: reading and parsing state.json, the lock, atomic writes,
backups, and the permissions of all of them.

No validation and no migration here (validation.py, migrations.py); store.py puts the
pieces together.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import paths
from ..errors import StateError
from ..fsutil import TMP_PREFIX, atomic_write
from .migrations import LATEST
from .validation import prove

# --- reading ---------------------------------------------------------------------------


def read_bytes(path: Path) -> bytes | None:
    """The file's bytes, or None when there is no state yet."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(
            f"cannot read state file {path} ({e.strerror}); check that it is a file you can read"
        ) from None


def parse(raw: bytes, path: Path) -> dict[str, Any]:
    """A JSON object; a clear error naming the file otherwise."""
    if not raw.strip():
        raise StateError(
            f"state file {path} is empty (a truncated write?); restore it or move it away"
        )
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError) as e:
        reason = str(e) if isinstance(e, ValueError) else "nested too deeply"
        raise StateError(
            f"state file {path} is not valid JSON ({reason[:200]}); restore it or move it away"
        ) from None
    if not isinstance(doc, dict):
        raise StateError(f"state file {path} does not hold a JSON object; restore it or move it away")
    return doc


# --- the lock ----------------------------------------------------------------------------


def lock_timeout() -> float:
    return paths.settings.current().lock_timeout  # CILO_LOCK_TIMEOUT, checked in settings.py


@contextlib.contextmanager
def locked() -> Iterator[None]:
    """Hold the exclusive state lock. flock-based: a dead holder never blocks anyone."""
    from filelock import FileLock, Timeout

    lock_file = paths.lock_path()
    paths.ensure_private_dir(lock_file.parent)
    timeout = lock_timeout()
    lock = FileLock(str(lock_file), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise StateError(
            f"state lock {lock_file} is still held after {timeout:g} s by another cilo "
            "command; wait for it to finish or raise CILO_LOCK_TIMEOUT"
        ) from None
    except OSError as e:
        raise StateError(
            f"cannot open state lock {lock_file} ({e.strerror}); check the folder's "
            "owner and permissions"
        ) from None
    try:
        _make_private(lock_file)
        yield
    finally:
        lock.release()


def _make_private(path: Path) -> None:
    """A lock file created by an older cilo or another umask may be group-readable."""
    with contextlib.suppress(OSError):
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)


# --- writing -----------------------------------------------------------------------------


def write(path: Path, doc: dict[str, Any], previous: str = "") -> None:
    """Write `doc` atomically; every caller validated it before (the lock is held)."""
    _cleanup_temp_files(path)
    raw = (json.dumps(doc, indent=2, sort_keys=True) + "\n").encode()
    try:
        atomic_write(path, raw, 0o600)
    except OSError as e:
        was = f" ({previous})" if previous else ""
        raise StateError(
            f"cannot write state file {path} ({e.strerror}); the previous state{was} is "
            "intact; free some space or fix the folder's permissions and run the command again"
        ) from None
    if doc.get("version") == LATEST:
        prove(raw, path)  # every caller validated `doc` before writing it


def _cleanup_temp_files(path: Path) -> None:
    """Remove temp files a killed writer left behind (we hold the lock, so none is live)."""
    for tmp in path.parent.glob(f"{TMP_PREFIX}{path.name}.*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


# --- backups -----------------------------------------------------------------------------


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.v{version}.backup")


def backup(path: Path, raw: bytes, version: int) -> Path:
    """Copy the original bytes to `state.json.v<N>.backup`, never over an existing backup.

    An existing backup with other bytes is kept; the copy then goes to `.backup.2`, ...
    """
    base = backup_path(path, version)
    for n in range(1, 1000):
        target = base if n == 1 else base.with_name(f"{base.name}.{n}")
        if not os.path.lexists(target) and _write_new(target, raw):
            return target
        with contextlib.suppress(OSError):
            if target.read_bytes() == raw:
                return target
    raise StateError(f"too many backups beside {path}; move old {base.name}.* files away")


def _write_new(target: Path, raw: bytes) -> bool:
    """Write `target` whole or not at all, failing if it exists (a hard link never replaces)."""
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=f"{TMP_PREFIX}{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o600)
        os.link(tmp, target)
        return True
    except FileExistsError:
        return False
    except OSError as e:
        raise StateError(
            f"cannot write backup {target} ({e.strerror}); the state file is unchanged; free "
            "some space or fix the folder's permissions and run the command again"
        ) from None
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def backups(path: Path | None = None) -> list[Path]:
    path = path or paths.state_path()
    return sorted(p for p in path.parent.glob(f"{path.name}.v*.backup*") if p.is_file())


# --- permissions -------------------------------------------------------------------------


def permission_problems() -> list[str]:
    """Cilo's private files that others can read or that belong to someone else (for doctor)."""
    state_file = paths.state_path()
    checks = [(paths.cilo_home(), "cilo home", 0o700)]
    if state_file.parent != paths.cilo_home():
        checks.append((state_file.parent, "state folder", 0o700))
    checks += [(state_file, "state file", 0o600), (paths.lock_path(), "state lock", 0o600)]
    checks += [(p, "state backup", 0o600) for p in backups(state_file)]
    return [p for path, what, mode in checks if (p := _permission_problem(path, what, mode))]


def _permission_problem(path: Path, what: str, mode: int) -> str | None:
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_uid != os.getuid():
        return (f"{what} {path} belongs to user id {st.st_uid}, not you ({os.getuid()}); "
                f"run: chown {os.getuid()} {path}")
    actual = stat.S_IMODE(st.st_mode)
    if not actual & 0o077:
        return None
    access = "readable" if actual & 0o044 else "writable" if actual & 0o022 else "accessible"
    return (f"{what} {path} is {access} by other users (mode {actual:04o}); "
            f"run: chmod {mode:o} {path}")
