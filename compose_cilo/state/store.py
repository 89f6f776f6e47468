"""The state store: one JSON file, locked, validated on read and before every write, atomic.

`read_state()` is for read-only commands; `mutate()` is the only way to change the file:

    with mutate() as st:
        st.environments()["shop/dev"] = record

The lock covers only the read-modify-write; slow engine work happens outside it. A file
of an older version is migrated the first time any command reads it (inside the lock,
after copying the original to `state.json.v<N>.backup`); a newer one is refused.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

from . import migrations
from .. import paths
from ..errors import StateError
from ..fsutil import TMP_PREFIX, atomic_write

STATE_VERSION = migrations.LATEST
LOCAL_HOST = "local"
DEFAULT_LOCK_TIMEOUT = 30.0

_validators: dict[int, Any] = {}


def empty_state() -> dict[str, Any]:
    return {
        "version": STATE_VERSION,
        "hosts": {LOCAL_HOST: {"id": LOCAL_HOST, "provider": "docker", "environments": {}}},
    }


class State:
    """The parsed state document with a few accessors; the dict stays the source of truth."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def environments(self, host: str = LOCAL_HOST) -> dict[str, dict[str, Any]]:
        hosts = self.doc["hosts"]
        if host not in hosts:
            hosts[host] = {"id": host, "provider": "docker", "environments": {}}
        return hosts[host]["environments"]

    def all_environments(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for host_id, host in sorted(self.doc["hosts"].items()):
            for key, env in sorted(host["environments"].items()):
                yield host_id, key, env


# --- schemas and validation ---------------------------------------------------------------


def schema(version: int = STATE_VERSION) -> dict[str, Any]:
    """The JSON Schema of a state version, shipped inside the package."""
    from importlib import resources

    text = resources.files("compose_cilo.state").joinpath(f"schemas/state.v{version}.schema.json")
    return json.loads(text.read_text())


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with local `$ref`s replaced by their targets (same meaning).

    jsonschema resolves every `$ref` at each use; on a state with a hundred environments
    inlining makes validation about 1.5x faster, and it runs inside the lock.
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/") and len(node) == 1:
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def _validator(version: int = STATE_VERSION) -> Any:
    if version not in _validators:
        import jsonschema  # slow import: only where a state is validated

        full = schema(version)
        _validators[version] = jsonschema.Draft202012Validator(
            _inline_refs(full, full.get("$defs", {}))
        )
    return _validators[version]


def validate(doc: Any, path: Path, version: int = STATE_VERSION) -> None:
    """Raise StateError naming the file and every invalid field."""
    errors = sorted(_validator(version).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in errors[:5]
        )
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        which = "" if version == STATE_VERSION else f" (version {version})"
        raise StateError(
            f"state file {path}{which} is invalid: {details}{more}; fix or move the file away "
            "(cilo never replaces it silently)"
        )


# --- proof of validation ------------------------------------------------------------------
# Validating a state of a hundred environments costs tens of milliseconds, and read-only
# commands such as `list` should start faster than that. After cilo validates (or writes)
# the file, `state.json.valid` records a digest of the schema and the exact bytes; a
# reader whose bytes match it needs no jsonschema. Any other bytes (a hand edit, a newer
# write, a corrupted file) get the full validation. The marker only ever skips work.


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".valid")


def _digest(raw: bytes) -> str:
    import hashlib

    # The schema file beside this module (what importlib.resources would return for an
    # installed package), read directly: importlib.resources costs ~8 ms to import.
    schema_file = Path(__file__).with_name("schemas") / f"state.v{STATE_VERSION}.schema.json"
    return hashlib.sha256(schema_file.read_bytes() + b"\0" + raw).hexdigest()


def _proven(raw: bytes, path: Path) -> bool:
    try:
        return _marker(path).read_text().strip() == _digest(raw)
    except OSError:
        return False


def _prove(raw: bytes, path: Path) -> None:
    try:
        atomic_write(_marker(path), _digest(raw) + "\n", 0o600)
    except OSError:
        pass  # only an optimisation: the next reader validates in full


def _validate_raw(raw: bytes, doc: dict[str, Any], path: Path) -> None:
    """Validate a current-version document unless these exact bytes are proven valid."""
    if not _proven(raw, path):
        validate(doc, path)
        _prove(raw, path)


def _check(path: Path) -> migrations.Check:
    return lambda doc, version: validate(doc, path, version)


# --- reading ---------------------------------------------------------------------------


def _read(path: Path) -> bytes | None:
    """The file's bytes, or None when there is no state yet."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise StateError(
            f"cannot read state file {path} ({e.strerror}); check that it is a file you can read"
        ) from None


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
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


def _read_doc(path: Path) -> tuple[bytes, dict[str, Any], int] | None:
    """(bytes, document, version) of a file this cilo can read (older versions too)."""
    raw = _read(path)
    if raw is None:
        return None
    doc = _parse(raw, path)
    return raw, doc, migrations.version_of(doc, path)


def _current(doc: dict[str, Any], version: int, path: Path, check: bool = True) -> dict[str, Any]:
    """The document as the current version: older ones are migrated in memory."""
    if version < STATE_VERSION:
        return migrations.migrate(doc, STATE_VERSION, path, _check(path))
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
        _validator()
        with locked():
            return _load_locked(path)  # re-read: another command may have migrated it
    _validate_raw(raw, doc, path)
    return State(doc)


def _load_locked(path: Path) -> State:
    """Read the state while holding the lock; an older file is migrated on disk first."""
    found = _read_doc(path)
    if found is None:
        return State(empty_state())
    raw, doc, start = found
    if start == STATE_VERSION:
        _validate_raw(raw, doc, path)
        return State(doc)
    new = _current(doc, start, path)
    backup = _backup(path, raw, start)
    _write(path, new, f"version {start}, not migrated")
    _notice(f"migrated state file {path} from version {start} to {STATE_VERSION}; "
            f"the original is in {backup}")
    return State(new)


def _notice(message: str) -> None:
    print(f"cilo: {message}", file=sys.stderr)


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


@contextlib.contextmanager
def mutate() -> Iterator[State]:
    """Lock, read the current file, let the caller change it, validate, write atomically.

    If the body raises, nothing is written.
    """
    path = paths.state_path()
    _validator()  # import and compile before taking the lock: others wait on every ms inside
    with locked():
        st = _load_locked(path)
        yield st
        validate(st.doc, path)
        _write(path, st.doc)


def _write(path: Path, doc: dict[str, Any], previous: str = "") -> None:
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
    if doc.get("version") == STATE_VERSION:
        _prove(raw, path)  # every caller validated `doc` before writing it


def _cleanup_temp_files(path: Path) -> None:
    """Remove temp files a killed writer left behind (we hold the lock, so none is live)."""
    for tmp in path.parent.glob(f"{TMP_PREFIX}{path.name}.*"):
        with contextlib.suppress(OSError):
            tmp.unlink()


def backup_path(path: Path, version: int) -> Path:
    return path.with_name(f"{path.name}.v{version}.backup")


def _backup(path: Path, raw: bytes, version: int) -> Path:
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


# --- explicit migration, summary, permissions ---------------------------------------------


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
    _validator()
    with locked():
        found = _read_doc(path)
        if found is None:
            return Migrated(path, None, to)
        raw, doc, start = found
        if start == to:
            validate(doc, path, start)
            return Migrated(path, start, to)
        new = migrations.migrate(doc, to, path, _check(path))
        backup = _backup(path, raw, start)
        _write(path, new, f"version {start}, not migrated")
        return Migrated(path, start, to, backup, tuple(migrations.dropped(start, to)))


def backups(path: Path | None = None) -> list[Path]:
    path = path or paths.state_path()
    return sorted(p for p in path.parent.glob(f"{path.name}.v*.backup*") if p.is_file())


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
