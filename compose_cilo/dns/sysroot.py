"""The folder that stands for "/" when cilo reads or writes the system's resolver files.

CILO_ROOT (default "/") lets tests run `init` and upstream detection against a fake root;
with a fake root no command touches the real system.
"""

from __future__ import annotations

import os
from pathlib import Path


def root_dir() -> Path:
    """The folder that stands for "/" (CILO_ROOT; tests point it at a temporary folder)."""
    return Path(os.environ.get("CILO_ROOT") or "/")


def is_fake_root(root: Path) -> bool:
    return root.resolve() != Path("/")


def system_path(root: Path, path: Path) -> str:
    """The path as the system sees it: /etc/..., whatever the root."""
    return "/" + str(path.relative_to(root))
