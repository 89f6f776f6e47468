"""What the user's compose project is: its files (found as compose finds them) and its model.

Discovery mirrors compose v2: `-f` files, else COMPOSE_FILE (environment, then the `.env`
of the working folder), else compose.yaml / compose.yml / docker-compose.yaml /
docker-compose.yml in the working folder or the nearest parent, plus the first
`*.override.y*ml` beside it. We must know the files because the generated override is
passed as the last `-f`, and an explicit `-f` turns compose's own auto-loading off.

The model itself always comes from `docker compose config`, so extends, include,
profiles, anchors and interpolation are compose's own work.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from .errors import CiloError
from .model import ProjectModel, ServiceModel, model_from_config  # noqa: F401 (re-exported)

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = (
    "compose.override.yml",
    "compose.override.yaml",
    "docker-compose.override.yml",
    "docker-compose.override.yaml",
)
INGRESS_LABEL = "cilo.ingress"
HOSTNAMES_LABEL = "cilo.hostnames"


class ComposeOptions(NamedTuple):
    """compose's own project options, as given before the cilo command."""

    files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    env_files: tuple[str, ...] = ()
    project_directory: str | None = None
    project_name: str | None = None


class ComposeTarget(NamedTuple):
    """Everything needed to run compose against one project (the user's or a copy)."""

    files: tuple[str, ...]
    project_dir: str
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    project_name: str | None = None


def read_dotenv(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a .env file (enough for COMPOSE_* settings)."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def _setting(name: str, workdir: Path, env_files: tuple[str, ...]) -> str | None:
    if os.environ.get(name):
        return os.environ[name]
    for env_file in env_files or (str(workdir / ".env"),):
        value = read_dotenv(Path(env_file)).get(name)
        if value:
            return value
    return None


def _absolute(path: str, base: Path) -> str:
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (base / p)).rstrip("/") or "/"


def _find_default_files(start: Path) -> list[Path]:
    folder = start
    while True:
        found = [folder / n for n in DEFAULT_FILES if (folder / n).is_file()]
        if found:
            overrides = [folder / n for n in OVERRIDE_FILES if (folder / n).is_file()]
            return [found[0], *overrides[:1]]
        if folder.parent == folder:
            raise CiloError(
                f"no compose file found in {start} or any parent folder (looked for "
                f"{', '.join(DEFAULT_FILES)}); cd into your project or pass -f FILE"
            )
        folder = folder.parent


def resolve_target(opts: ComposeOptions, cwd: Path | None = None) -> ComposeTarget:
    """Find the compose files, project folder, env files and profiles, like compose."""
    cwd = (cwd or Path.cwd()).absolute()
    workdir = Path(_absolute(opts.project_directory, cwd)) if opts.project_directory else cwd
    env_files = tuple(_absolute(f, cwd) for f in opts.env_files)
    for f in env_files:
        if not Path(f).is_file():
            raise CiloError(f"env file {f} not found; fix the --env-file path")
    if opts.files:
        files = [_absolute(f, cwd) for f in opts.files]
    elif compose_file := _setting("COMPOSE_FILE", workdir, env_files):
        sep = os.environ.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
        files = [_absolute(f, workdir) for f in compose_file.split(sep) if f]
    else:
        files = [str(p) for p in _find_default_files(workdir)]
    for f in files:
        if f != "-" and not Path(f).is_file():
            raise CiloError(f"compose file {f} not found; fix the -f / COMPOSE_FILE path")
    project_dir = str(workdir) if opts.project_directory else str(Path(files[0]).parent)
    profiles = opts.profiles
    if not profiles and (env_profiles := os.environ.get("COMPOSE_PROFILES")):
        profiles = tuple(p.strip() for p in env_profiles.split(",") if p.strip())
    return ComposeTarget(
        files=tuple(files),
        project_dir=project_dir,
        env_files=env_files,
        profiles=profiles,
        project_name=opts.project_name,
    )
