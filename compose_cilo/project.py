"""What the user's compose project is: its files (found as compose finds them) and its model.

Discovery mirrors compose v2.40 (cmd/compose/compose.go, compose-go's cli/options.go):
`-f` files, else COMPOSE_FILE (environment, then the working folder's `.env`; relative
paths against the current folder), else compose.yaml / compose.yml / docker-compose.yaml /
docker-compose.yml in the working folder or the nearest parent, plus the first
`*.override.y*ml` beside it. We must know the files because the generated override is
passed as the last `-f`, and an explicit `-f` turns compose's own auto-loading off.

The working folder is `--project-directory`, else the first `-f` file's folder, else the
current folder. Compose reads its `.env` first, then the `.env` beside the first compose
file; for each variable the environment wins, then the first file that sets it. When the
two differ (COMPOSE_FILE into a subfolder, a compose file found in a parent folder) the
target records the working folder (`dotenv_dir`), so compose can be given both files
explicitly from anywhere later: see `dotenv_files`.

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
    # the folder compose ran in, when its `.env` is not the project folder's (see dotenv_files)
    dotenv_dir: str | None = None


class NoComposeFile(CiloError):
    """No compose file here: not in a project folder (and no option names one)."""


def read_dotenv(path: Path) -> dict[str, str]:
    """The KEY=VALUE lines of a .env file, read by compose's rules (enough for COMPOSE_*
    settings): UTF-8 with invalid bytes replaced, `export`, quotes, and `# comments` after
    whitespace in unquoted values (`x#y` keeps its `#`)."""
    values: dict[str, str] = {}
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except (OSError, ValueError):  # missing, a folder, unreadable, a name too long
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = _dotenv_value(value.strip())
    return values


_DOUBLE_QUOTED_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"'}


def _dotenv_value(raw: str) -> str:
    import re

    if raw[:1] in ("'", '"'):
        quote, body = raw[0], raw[1:]
        end = body.find(quote) if quote == "'" else _closing_double_quote(body)
        if end >= 0:
            inner = body[:end]
            if quote == '"':
                inner = re.sub(r"\\(.)", lambda m: _DOUBLE_QUOTED_ESCAPES.get(m.group(1), "\\" + m.group(1)), inner)
            return inner
    return re.sub(r"\s+#.*$", "", raw)


def _closing_double_quote(body: str) -> int:
    i = 0
    while i < len(body):
        if body[i] == "\\":
            i += 2
            continue
        if body[i] == '"':
            return i
        i += 1
    return -1


def _setting(name: str, dotenvs: tuple[str, ...]) -> str | None:
    """A COMPOSE_* setting as compose reads it: the environment, then each `.env` in turn."""
    if os.environ.get(name):
        return os.environ[name]
    for env_file in dotenvs:
        value = read_dotenv(Path(env_file)).get(name)
        if value:
            return value
    return None


def chooses_files_or_profiles(opts: ComposeOptions) -> bool:
    """Did the user choose files, env files or profiles (options, or compose's variables)?"""
    return any((opts.files, opts.env_files, opts.profiles, os.environ.get("COMPOSE_PROFILES"),
                os.environ.get("COMPOSE_FILE")))


def _is_file(path: Path | str) -> bool:
    """Path.is_file() that answers False for names the system cannot even look up
    (too long, a component over 255 bytes, NUL), instead of raising."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def dotenv_files(target: ComposeTarget) -> tuple[str, ...]:
    """The env files to pass compose so it reads what it read where the user ran it.

    `--env-file` is used as given. Otherwise, when the working folder's `.env` is not the
    project folder's, compose read both, the working folder's first (first to set a
    variable wins). Explicit env files are read in order with the last one winning, and
    each may refer to variables of the files before it: the working folder's file, the
    project folder's, then the working folder's again gives compose's result (the second
    pass restores the working folder's values, the first lets the project folder's file
    refer to them). Files are looked up now, as compose looks them up on every run.
    """
    if target.env_files:
        return target.env_files
    if not target.dotenv_dir or target.dotenv_dir == target.project_dir:
        return ()
    first, second = Path(target.dotenv_dir, ".env"), Path(target.project_dir, ".env")
    if not _is_file(first):
        return ()  # compose reads only the project folder's, as --project-directory does
    if not _is_file(second):
        return (str(first),)
    return (str(first), str(second), str(first))


def absolute_path(path: str, base: Path) -> str:
    """A path given on the command line, made absolute as compose makes it."""
    return _absolute(path, base)


def _absolute(path: str, base: Path) -> str:
    try:
        p = Path(path).expanduser()
    except RuntimeError:  # ~user of no such user: a name like any other, as for compose
        p = Path(path)
    return str(p if p.is_absolute() else (base / p)).rstrip("/") or "/"


def _find_default_files(start: Path) -> list[Path]:
    folder = start
    while True:
        found = [folder / n for n in DEFAULT_FILES if _is_file(folder / n)]
        if found:
            overrides = [folder / n for n in OVERRIDE_FILES if _is_file(folder / n)]
            return [found[0], *overrides[:1]]
        if folder.parent == folder:
            raise NoComposeFile(
                f"no compose file found in {start} or any parent folder (looked for "
                f"{', '.join(DEFAULT_FILES)}); cd into your project or pass -f FILE"
            )
        folder = folder.parent


def _working_dir(opts: ComposeOptions, cwd: Path) -> Path:
    """compose's working folder: --project-directory, else the first -f file's, else cwd."""
    if opts.project_directory:
        return Path(_absolute(opts.project_directory, cwd))
    if opts.files:
        return Path(_absolute(opts.files[0], cwd)).parent
    return cwd


def _find_files(opts: ComposeOptions, cwd: Path, workdir: Path, dotenvs: tuple[str, ...]) -> list[str]:
    if opts.files:
        return [_absolute(f, cwd) for f in opts.files]
    if compose_file := _setting("COMPOSE_FILE", dotenvs):
        sep = _setting("COMPOSE_PATH_SEPARATOR", dotenvs) or os.pathsep
        # compose makes these absolute against the current folder, whatever the project folder
        return [_absolute(f, cwd) for f in compose_file.split(sep) if f]
    return [str(p) for p in _find_default_files(workdir)]


def _profiles(opts: ComposeOptions, dotenvs: tuple[str, ...]) -> tuple[str, ...]:
    if opts.profiles:
        return opts.profiles
    env_profiles = _setting("COMPOSE_PROFILES", dotenvs) or ""
    return tuple(p.strip() for p in env_profiles.split(",") if p.strip())


def resolve_target(opts: ComposeOptions, cwd: Path | None = None) -> ComposeTarget:
    """Find the compose files, project folder, env files and profiles, like compose."""
    cwd = (cwd or Path.cwd()).absolute()
    if "-" in opts.files:
        raise CiloError(
            "compose file '-' (standard input) cannot be used: cilo reads the project again "
            "on later commands and layers its override on the files; save it to a file "
            "first, e.g. `cat > stack.yaml`, and pass -f stack.yaml")
    workdir = _working_dir(opts, cwd)
    env_files = tuple(_absolute(f, cwd) for f in opts.env_files)
    for f in env_files:
        if not _is_file(f):
            raise CiloError(f"env file {f} not found; fix the --env-file path")
    files = _find_files(opts, cwd, workdir, env_files or (str(workdir / ".env"),))
    for f in files:
        if not _is_file(f):
            raise CiloError(f"compose file {f} not found; fix the -f / COMPOSE_FILE path")
    project_dir = str(workdir) if opts.project_directory else str(Path(files[0]).parent)
    target = ComposeTarget(
        files=tuple(files),
        project_dir=project_dir,
        env_files=env_files,
        project_name=opts.project_name,
        dotenv_dir=None if env_files or str(workdir) == project_dir else str(workdir),
    )
    dotenvs = dotenv_files(target) or (str(Path(project_dir) / ".env"),)
    return target._replace(profiles=_profiles(opts, dotenvs))

