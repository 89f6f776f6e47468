"""Where cilo keeps its files (CILO_HOME and friends, read and checked by settings.py)."""

from __future__ import annotations

import os
from pathlib import Path

from . import settings


def cilo_home() -> Path:
    """The cilo home (`CILO_HOME`, default ~/.cilo)."""
    return settings.current().home


def state_path() -> Path:
    """The state file (`CILO_STATE_PATH` overrides the file itself)."""
    return settings.current().state_path


def lock_path() -> Path:
    return state_path().with_name(state_path().name + ".lock")


def envs_dir() -> Path:
    return cilo_home() / "envs"


def env_dir(project: str, env: str) -> Path:
    """Per-environment folder: the generated override and, with --copy, the workspace copy."""
    return envs_dir() / project / env


def env_lock(project: str, env: str) -> Path:
    """The lock that gives one create or up of an environment at a time."""
    return cilo_home() / "locks" / project / f"{env}.lock"


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and its missing parents as 0700 folders.

    A folder that exists is left as it is: cilo never chmods a folder it did not create
    (as root, CILO_STATE_PATH=/tmp/x.json once made /tmp private for every user). Shared
    folders are refused before this, by settings.load().
    """
    missing = []
    for p in (path, *path.parents):
        if p.is_dir():
            break
        missing.append(p)
    for p in reversed(missing):
        try:
            p.mkdir(mode=0o700)
        except FileExistsError:
            if not p.is_dir():
                raise
            continue  # a concurrent cilo made it: not ours to chmod
        os.chmod(p, 0o700)  # mkdir's mode is masked by the umask; ours is exactly 0700
    return path
