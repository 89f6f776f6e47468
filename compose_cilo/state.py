"""The state store: one JSON file, locked, validated on read and before every write, atomic.

`read_state()` is for read-only commands; `mutate()` is the only way to change the file:

    with mutate() as st:
        st.environments()["shop/dev"] = record

The lock covers only the read-modify-write; slow engine work happens outside it.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

from . import paths
from .errors import StateError
from .fsutil import TMP_PREFIX, atomic_write

STATE_VERSION = 2
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


def schema(version: int = STATE_VERSION) -> dict[str, Any]:
    """The JSON Schema of a state version, shipped inside the package."""
    text = resources.files("compose_cilo").joinpath(f"schemas/state.v{version}.schema.json")
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
        raise StateError(
            f"state file {path} is invalid: {details}{more}; fix or move the file away "
            "(cilo never replaces it silently)"
        )


def _parse(raw: bytes, path: Path) -> dict[str, Any]:
    if not raw.strip():
        raise StateError(
            f"state file {path} is empty (a truncated write?); restore it or move it away"
        )
    try:
        doc = json.loads(raw)
    except ValueError as e:
        raise StateError(
            f"state file {path} is not valid JSON ({e}); restore it or move it away"
        ) from None
    if not isinstance(doc, dict):
        raise StateError(f"state file {path} does not hold a JSON object; restore it or move it away")
    version = doc.get("version", 1)
    if not isinstance(version, int) or version > STATE_VERSION:
        raise StateError(
            f"state file {path} has version {version!r}, newer than this cilo understands "
            f"(version {STATE_VERSION}); upgrade compose-cilo"
        )
    if version < STATE_VERSION:
        raise StateError(
            f"state file {path} has version {version}; this cilo reads version {STATE_VERSION}"
        )
    return doc


def load(path: Path | None = None, *, check: bool = True) -> State:
    """Read the state (an empty one when the file does not exist yet)."""
    path = path or paths.state_path()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return State(empty_state())
    except OSError as e:
        raise StateError(f"cannot read state file {path}: {e.strerror}") from None
    doc = _parse(raw, path)
    if check:
        validate(doc, path)
    return State(doc)


def read_state() -> State:
    """A validated snapshot for read-only commands (no lock: writes are atomic renames)."""
    return load()


def lock_timeout() -> float:
    raw = os.environ.get("CILO_LOCK_TIMEOUT")
    if not raw:
        return DEFAULT_LOCK_TIMEOUT
    try:
        return float(raw)
    except ValueError:
        raise StateError(f'CILO_LOCK_TIMEOUT="{raw}" is not a number of seconds') from None


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
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def mutate() -> Iterator[State]:
    """Lock, read the current file, let the caller change it, validate, write atomically.

    If the body raises, nothing is written.
    """
    path = paths.state_path()
    _validator()  # import and compile before taking the lock: others wait on every ms inside
    with locked():
        st = load(path)
        yield st
        validate(st.doc, path)
        _cleanup_temp_files(path)
        try:
            atomic_write(path, json.dumps(st.doc, indent=2, sort_keys=True) + "\n", 0o600)
        except OSError as e:
            raise StateError(
                f"cannot write state file {path} ({e.strerror}); the previous state is intact"
            ) from None


def _cleanup_temp_files(path: Path) -> None:
    """Remove temp files a killed writer left behind (we hold the lock, so none is live)."""
    for tmp in path.parent.glob(f"{TMP_PREFIX}{path.name}.*"):
        with contextlib.suppress(OSError):
            tmp.unlink()
