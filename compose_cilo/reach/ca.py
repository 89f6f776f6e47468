"""The router's CA certificate as this cilo home keeps it: the file `trust` hands to
browsers and tools, and what `up` compares the router's against."""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..fsutil import atomic_write


def ca_file(engine: str = "local") -> Path:
    """Where the CA certificate of one engine's router is written: router/root.crt for
    this machine's engine (`local`), router/ENGINE/root.crt for another one's (each
    engine's router has its own CA)."""
    folder = paths.cilo_home() / "router"
    return folder / "root.crt" if engine == "local" else folder / engine / "root.crt"


def save(pem: str, engine: str = "local") -> tuple[Path, bool]:
    """Write the CA file atomically; (its path, whether it changed)."""
    path = ca_file(engine)
    changed = not path.is_file() or path.read_text() != pem
    if changed:
        paths.ensure_private_dir(path.parent)
        atomic_write(path, pem, 0o644)
    return path, changed
