"""Validating a state document against the JSON Schema of its version, and the proof of
validation that lets read-only commands skip jsonschema.

The schemas ship inside the package (schemas/state.v<N>.schema.json). jsonschema is
imported only where a document is actually validated.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import StateError
from ..fsutil import atomic_write
from . import migrations
from .migrations import LATEST

_validators: dict[int, Any] = {}


def schema(version: int = LATEST) -> dict[str, Any]:
    """The JSON Schema of a state version, shipped inside the package."""
    from importlib import resources

    text = resources.files("compose_cilo.state").joinpath(f"schemas/state.v{version}.schema.json")
    loaded: dict[str, Any] = json.loads(text.read_text())
    return loaded


def _inline_refs(node: Any, defs: dict[str, Any]) -> Any:
    """The schema with local `$ref`s replaced by their targets (same meaning).

    jsonschema resolves every `$ref` at each use; inlining them makes validation of a
    large state measurably faster, and it runs inside the lock (bench/RESULTS.md,
    "Measurements behind design choices").
    """
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            # beside a $ref, only annotations (description) are used here: they change nothing
            return _inline_refs(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline_refs(v, defs) for k, v in node.items() if k != "$defs"}
    if isinstance(node, list):
        return [_inline_refs(v, defs) for v in node]
    return node


def validator(version: int = LATEST) -> Any:
    """The compiled validator of a version (jsonschema is imported on the first call)."""
    if version not in _validators:
        import jsonschema  # slow import: only where a state is validated

        full = schema(version)
        _validators[version] = jsonschema.Draft202012Validator(
            _inline_refs(full, full.get("$defs", {}))
        )
    return _validators[version]


def validate(doc: Any, path: Path, version: int = LATEST) -> None:
    """Raise StateError naming the file and every invalid field."""
    errors = sorted(validator(version).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        details = "; ".join(
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
            for e in errors[:5]
        )
        more = f" (and {len(errors) - 5} more)" if len(errors) > 5 else ""
        which = "" if version == LATEST else f" (version {version})"
        raise StateError(
            f"state file {path}{which} is invalid: {details}{more}; fix or move the file away "
            "(cilo never replaces it silently)"
        )


def check_for(path: Path) -> migrations.Check:
    """The check the migrations run before and after every step."""
    return lambda doc, version: validate(doc, path, version)


# --- proof of validation ------------------------------------------------------------------
# Validating a large state costs more than read-only commands such as `list` may spend
# on start-up (bench/RESULTS.md, "Measurements behind design choices"). After cilo
# validates (or writes) the file, `state.json.valid` records a digest of the schema and
# the exact bytes; a reader whose bytes match it needs no jsonschema. Any other bytes (a
# hand edit, a newer write, a corrupted file) get the full validation. The marker only
# ever skips work.


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".valid")


def _digest(raw: bytes) -> str:
    import hashlib

    # The schema file beside this module (what importlib.resources would return for an
    # installed package), read directly: importing importlib.resources would cost this
    # fast path more than the read itself.
    schema_file = Path(__file__).with_name("schemas") / f"state.v{LATEST}.schema.json"
    return hashlib.sha256(schema_file.read_bytes() + b"\0" + raw).hexdigest()


def _proven(raw: bytes, path: Path) -> bool:
    try:
        return _marker(path).read_text().strip() == _digest(raw)
    except OSError:
        return False


def prove(raw: bytes, path: Path) -> None:
    """Record that these exact bytes of `path` are a valid current-version state."""
    try:
        atomic_write(_marker(path), _digest(raw) + "\n", 0o600)
    except OSError:
        pass  # only an optimisation: the next reader validates in full


def validate_raw(raw: bytes, doc: dict[str, Any], path: Path) -> None:
    """Validate a current-version document unless these exact bytes are proven valid."""
    if not _proven(raw, path):
        validate(doc, path)
        prove(raw, path)
