"""The state store: one JSON file, locked, validated on read and before every write, atomic.

`read_state()` is for read-only commands; `mutate()` is the only way to change the file:

    with mutate() as st:
        st.environments(host)["shop/dev"] = record

The lock covers only the read-modify-write; slow engine work happens outside it. A file
of an older version is migrated the first time any command reads it (inside the lock,
after copying the original to `state.json.v<N>.backup`); a newer one is refused.

This module is the state package's front: the pieces live in document.py (`State`, the
host key), validation.py (schemas, the proof of validation), files.py (reading, the lock,
atomic writes, backups, permissions) and migrations.py; the names other packages use are
re-exported here.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from .. import paths
from . import files, migrations
from .document import LOCAL_HOST, State
from .files import backup_path, backups, lock_timeout, locked, permission_problems
from .validation import check_for, validate, validate_raw, validator

__all__ = [
    "LOCAL_HOST", "STATE_VERSION", "Migrated", "State", "backup_path",
    "backups", "describe", "empty_state", "load", "lock_timeout", "locked", "migrate_file",
    "mutate", "permission_problems", "read_state", "validate",
]

STATE_VERSION = migrations.LATEST


def empty_state() -> dict[str, Any]:
    """A state with no engine yet: the first environment registers its engine's host."""
    return {"version": STATE_VERSION, "hosts": {}}


# --- reading ---------------------------------------------------------------------------


def _read_doc(path: Path) -> tuple[bytes, dict[str, Any], int] | None:
    """(bytes, document, version) of a file this cilo can read (older versions too)."""
    raw = files.read_bytes(path)
    if raw is None:
        return None
    doc = files.parse(raw, path)
    return raw, doc, migrations.version_of(doc, path)


def _current(doc: dict[str, Any], version: int, path: Path, check: bool = True) -> dict[str, Any]:
    """The document as the current version: older ones are migrated in memory."""
    if version < STATE_VERSION:
        return migrations.migrate(doc, STATE_VERSION, path, check_for(path))
    if check:
        validate(doc, path)
    return doc


def load(path: Path | None = None, *, check: bool = True) -> State:
    """Read the state (an empty one when the file does not exist yet).

    An older file is migrated in memory only; the file itself is migrated under the
    lock by `read_state()` and `mutate()`.
    """
    path = path or paths.state_path()
    found = _read_doc(path)
    if found is None:
        return State(empty_state())
    _, doc, version = found
    return State(_current(doc, version, path, check))


def read_state() -> State:
    """A validated snapshot for read-only commands (no lock: writes are atomic renames).

    An older file takes the lock once, to be migrated on disk.
    """
    path = paths.state_path()
    found = _read_doc(path)
    if found is None:
        return State(empty_state())
    raw, doc, version = found
    if version < STATE_VERSION:
        validator()
        with locked():
            return _load_locked(path)  # re-read: another command may have migrated it
    validate_raw(raw, doc, path)
    return State(doc)


def _load_locked(path: Path) -> State:
    """Read the state while holding the lock; an older file is migrated on disk first."""
    found = _read_doc(path)
    if found is None:
        return State(empty_state())
    raw, doc, start = found
    if start == STATE_VERSION:
        validate_raw(raw, doc, path)
        return State(doc)
    new = _current(doc, start, path)
    backup = files.backup(path, raw, start)
    files.write(path, new, f"version {start}, not migrated")
    _notice(f"migrated state file {path} from version {start} to {STATE_VERSION}; "
            f"the original is in {backup}")
    return State(new)


def _notice(message: str) -> None:
    print(f"cilo: {message}", file=sys.stderr)


# --- writing -----------------------------------------------------------------------------


@contextlib.contextmanager
def mutate() -> Iterator[State]:
    """Lock, read the current file, let the caller change it, validate, write atomically.

    If the body raises, nothing is written.
    """
    path = paths.state_path()
    validator()  # import and compile before taking the lock: others wait while it is held
    with locked():
        st = _load_locked(path)
        yield st
        validate(st.doc, path)
        files.write(path, st.doc)


# --- explicit migration, summary ----------------------------------------------------------


class Migrated(NamedTuple):
    """What `migrate_file` did: from_version is None when there was no file."""

    path: Path
    from_version: int | None
    to_version: int
    backup: Path | None = None
    dropped: tuple[str, ...] = ()


def migrate_file(to: int) -> Migrated:
    """Migrate the state file up or down to version `to`, under the lock, with a backup."""
    migrations.check_target(to)
    path = paths.state_path()
    validator()
    with locked():
        found = _read_doc(path)
        if found is None:
            return Migrated(path, None, to)
        raw, doc, start = found
        if start == to:
            validate(doc, path, start)
            return Migrated(path, start, to)
        new = migrations.migrate(doc, to, path, check_for(path))
        backup = files.backup(path, raw, start)
        files.write(path, new, f"version {start}, not migrated")
        return Migrated(path, start, to, backup, tuple(migrations.dropped(start, to)))


def describe() -> dict[str, Any]:
    """The state file as it is on disk: its version and counts (nothing is migrated)."""
    path = paths.state_path()
    found = _read_doc(path)
    version = found[2] if found else None
    st = State(_current(found[1], found[2], path)) if found else State(empty_state())
    envs = [env for _, _, env in st.all_environments()]
    return {
        "path": str(path),
        "exists": found is not None,
        "version": version,
        "current_version": STATE_VERSION,
        "hosts": len(st.doc["hosts"]) if found else 0,
        "projects": len({e["project"] for e in envs}),
        "environments": len(envs),
        "services": sum(len(e["services"]) for e in envs),
        "backups": [str(p) for p in backups(path)],
        "permission_problems": permission_problems(),
    }
