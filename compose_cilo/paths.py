"""Where cilo keeps its files. The only place that reads CILO_HOME and friends."""

from __future__ import annotations

import os
from pathlib import Path


def cilo_home() -> Path:
    """The cilo home (`CILO_HOME`, default ~/.cilo)."""
    env = os.environ.get("CILO_HOME")
    return Path(env).expanduser().absolute() if env else Path.home() / ".cilo"


def state_path() -> Path:
    """The state file (`CILO_STATE_PATH` overrides the file itself)."""
    env = os.environ.get("CILO_STATE_PATH")
    return Path(env).expanduser().absolute() if env else cilo_home() / "state.json"


def lock_path() -> Path:
    return state_path().with_name(state_path().name + ".lock")


def envs_dir() -> Path:
    return cilo_home() / "envs"


def env_dir(project: str, env: str) -> Path:
    """Per-environment folder: the generated override and, with --copy, the workspace copy."""
    return envs_dir() / project / env


def ensure_private_dir(path: Path) -> Path:
    """Create `path` (and parents) as 0700 folders; tighten an existing cilo home."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)
    return path
