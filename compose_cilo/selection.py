"""Which environment a command is for, and why (issue 13: "the copy chosen once").

First found wins: the `--env` option, the `CILO_ENV` variable (empty counts as unset),
then the choice `docker cilo use` remembered for the project folder. Every value is
checked as an environment name, and a bad one is refused naming where it came from.
`auto` (`CILO_ENV=auto`, or a remembered `use --auto`) is the environment named after the
branch of the git worktree the command runs in (`branch_env_name`); `--env auto` is the
environment literally named "auto".

Remembered choices live in one file of cilo's home, `selections.json`, never in the
user's tree: `{"version": 1, "projects": {"/abs/project/dir": "env-name" | "auto"}}`.
Writes take `selections.json.lock`, re-read the file inside it and replace it atomically,
so concurrent `use` commands never lose each other's entry. A corrupt file, or one from a
newer cilo, is refused naming the file, never replaced.
Standard library only (and filelock when writing): every command may call `select`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import string
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import paths
from .errors import CiloError, UsageError
from .names import check_env_name

if TYPE_CHECKING:
    from .project import ComposeOptions

AUTO = "auto"
VERSION = 1
MAX_LABEL = 63
HASH_DIGITS = 6
GIT_TIMEOUT = 10.0  # seconds; git answers these from local files in milliseconds
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


class Selection(NamedTuple):
    env: str
    source: str  # where it came from, in words a user reads: "--env", "CILO_ENV", ...


def project_folder(compose: ComposeOptions, cwd: Path) -> str:
    """The folder a `use` choice is remembered for: the project's, else (no compose file
    here) the current one."""
    from .project import NoComposeFile, resolve_target

    try:
        return resolve_target(compose, cwd).project_dir
    except NoComposeFile:
        return str(cwd)


def select(cli_env: str | None, project_dir: str, environ: Mapping[str, str],
           cwd: Path) -> Selection | None:
    """The environment chosen for this command and why; None when nothing chooses one."""
    if cli_env is not None:
        return Selection(_checked(cli_env, f'--env "{_shown(cli_env)}"'), "--env")
    from_env = environ.get("CILO_ENV", "")
    if from_env == AUTO:
        return _auto(cwd, "CILO_ENV=auto")
    if from_env:
        return Selection(_checked(from_env, f'CILO_ENV="{_shown(from_env)}"'), "CILO_ENV")
    choice = remembered(project_dir)
    if choice is None:
        return None
    where = f"remembered for {_key(project_dir)}"
    if choice == AUTO:
        return _auto(cwd, f"docker cilo use --auto ({where})")
    shown = f'docker cilo use "{_shown(choice)}" ({where} in {selections_path()})'
    return Selection(_checked(choice, shown, "; or run: docker cilo use --clear"),
                     f"docker cilo use ({where})")


def _checked(name: str, where: str, fix: str = "") -> str:
    try:
        return check_env_name(name)
    except UsageError as e:
        raise UsageError(f"{where}: {e}{fix}") from None


def _shown(text: str) -> str:
    return text.encode("unicode_escape").decode()


# ---------------------------------------------------------------- auto: the git branch


def branch_env_name(branch: str) -> str:
    """A git branch name as an environment name (a DNS label), always the same for a branch.

    ASCII letters are lowercased; every run of other characters than a-z and 0-9 becomes
    one '-'; '-' is trimmed from both ends. A result over 63 characters keeps its first
    56 (without a trailing '-') and ends in '-' and the first 6 hex digits of the SHA-256
    of the branch name, so long branches that differ only late stay distinct. Short names
    are not hashed, so they stay readable: `feature/x` and `feature-x` are both
    `feature-x` (that collision is accepted), `café` is `caf`.
    """
    label = "-".join(_runs(branch.translate(_ASCII_LOWER)))
    if not label:
        raise CiloError(
            f'git branch "{_shown(branch)}" has no letters or digits to name an environment '
            "after; check out a branch with a plainer name, or set CILO_ENV=NAME")
    if len(label) <= MAX_LABEL:
        return label
    digest = hashlib.sha256(branch.encode("utf-8", "surrogateescape")).hexdigest()
    return f"{label[:MAX_LABEL - HASH_DIGITS - 1].rstrip('-')}-{digest[:HASH_DIGITS]}"


def _runs(text: str) -> list[str]:
    """The runs of a-z and 0-9 in `text`."""
    keep = set(string.ascii_lowercase + string.digits)
    return "".join(c if c in keep else " " for c in text).split()


class GitHead(NamedTuple):
    worktree: str  # the worktree's top folder
    branch: str | None  # None: a detached HEAD


def git_head(cwd: Path, why: str = "CILO_ENV=auto") -> GitHead:
    """The worktree `cwd` is in and its checked-out branch (main or linked worktree)."""
    top = _git(cwd, "rev-parse", "--show-toplevel")
    if top.returncode != 0 or not top.stdout.strip():
        raise CiloError(f"{why} needs a git repository: {cwd} is not in one; "
                        "set CILO_ENV=NAME instead")
    # symbolic-ref, unlike `rev-parse --abbrev-ref HEAD`, also names a branch with no
    # commit yet, and the full ref is the branch's own name, never a shortened one
    ref = _git(cwd, "symbolic-ref", "-q", "HEAD")
    name = ref.stdout.strip()
    branch = name.removeprefix("refs/heads/") if ref.returncode == 0 and name else None
    return GitHead(top.stdout.rstrip("\n"), branch)


def _git(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """The one place cilo runs git: `git -C CWD ARGS`, output as text (bytes kept)."""
    try:
        return subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True,
                              encoding="utf-8", errors="surrogateescape", timeout=GIT_TIMEOUT)
    except FileNotFoundError:
        raise CiloError("CILO_ENV=auto needs git, which is not on PATH; install git, or "
                        "set CILO_ENV=NAME instead") from None
    except subprocess.TimeoutExpired:
        raise CiloError(f"git did not answer within {GIT_TIMEOUT:g} s in {cwd}; "
                        "set CILO_ENV=NAME instead") from None


def _auto(cwd: Path, why: str) -> Selection:
    head = git_head(cwd, why)
    if head.branch is None:
        raise CiloError(f"{why} names the environment after the git branch, but worktree "
                        f"{head.worktree} has a detached HEAD; check out a branch, or set "
                        "CILO_ENV=NAME")
    return Selection(branch_env_name(head.branch),
                     f"{why}: git branch {head.branch} of worktree {head.worktree}")


# ---------------------------------------------------------------- remembered choices


def selections_path() -> Path:
    return paths.cilo_home() / "selections.json"


def remembered(project_dir: str) -> str | None:
    """The environment name, or "auto", that `use` remembered for the project folder."""
    return _read(selections_path()).get(_key(project_dir))


def remember(project_dir: str, env_or_auto: str) -> None:
    """Remember a choice for the project folder (`docker cilo use ENV` / `use --auto`)."""
    if env_or_auto != AUTO:
        check_env_name(env_or_auto)
    with _locked() as projects:
        projects[_key(project_dir)] = env_or_auto


def forget(project_dir: str) -> bool:
    """Forget the project folder's choice (`use --clear`); False if there was none."""
    with _locked() as projects:
        return projects.pop(_key(project_dir), None) is not None


def _key(project_dir: str) -> str:
    return os.path.abspath(project_dir)


def _read(path: Path) -> dict[str, str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise CiloError(f"cannot read {path} ({e.strerror}); check that it is a file you "
                        "can read, or move it away") from None
    return _parse(raw, path)


def _parse(raw: bytes, path: Path) -> dict[str, str]:
    def corrupt(why: str) -> CiloError:
        return CiloError(f"{path} {why}; move it away (cilo then forgets every "
                         "`docker cilo use` choice) and choose again")

    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise corrupt("is not valid JSON (a truncated write?)") from None
    if not isinstance(doc, dict):
        raise corrupt("does not hold a JSON object")
    version = doc.get("version")
    if isinstance(version, int) and not isinstance(version, bool) and version > VERSION:
        raise CiloError(f"{path} has version {version}, written by a newer cilo (this one "
                        f"reads version {VERSION}); upgrade cilo, or move the file away")
    if version != VERSION or isinstance(version, bool):
        raise corrupt(f'has "version": {json.dumps(version)} (expected {VERSION})')
    projects = doc.get("projects")
    if not isinstance(projects, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in projects.items()):
        raise corrupt('has no "projects" object of folder -> environment name strings')
    return projects


@contextlib.contextmanager
def _locked() -> Iterator[dict[str, str]]:
    """The remembered choices to change, read and written again inside the lock."""
    from filelock import FileLock, Timeout

    from .fsutil import atomic_write

    path = selections_path()
    paths.ensure_private_dir(path.parent)
    timeout = paths.settings.current().lock_timeout
    lock = FileLock(str(path.with_name(path.name + ".lock")), timeout=timeout, mode=0o600)
    try:
        lock.acquire()
    except Timeout:
        raise CiloError(f"{lock.lock_file} is still held after {timeout:g} s by another cilo "
                        "command; wait for it to finish or raise CILO_LOCK_TIMEOUT") from None
    try:
        projects = _read(path)
        before = dict(projects)
        yield projects
        if projects != before:
            doc = {"version": VERSION, "projects": dict(sorted(projects.items()))}
            try:
                atomic_write(path, json.dumps(doc, indent=2) + "\n", 0o600)
            except OSError as e:
                raise CiloError(f"cannot write {path} ({e.strerror}); the previous choices "
                                "are intact; free some space or fix the folder's "
                                "permissions") from None
    finally:
        lock.release()
