"""The router's CA certificate as this cilo home keeps it: the file `trust` hands to
browsers and tools, and what `up` compares the router's against."""

from __future__ import annotations

from pathlib import Path

from .. import paths
from ..fsutil import atomic_write


def ca_file() -> Path:
    """Where the CA certificate is written (one per cilo home)."""
    return paths.cilo_home() / "router" / "root.crt"


def save(pem: str) -> tuple[Path, bool]:
    """Write the CA file atomically; (its path, whether it changed)."""
    path = ca_file()
    changed = not path.is_file() or path.read_text() != pem
    if changed:
        paths.ensure_private_dir(path.parent)
        atomic_write(path, pem, 0o644)
    return path, changed
