"""The hot paths, answered without typer: `--version`, `list` and shell completion.

Importing typer (and the pydantic it brings) takes longer than all of `docker compose ls`,
and these commands run in prompts, scripts and agents' inner loops.
Only their exact forms are handled here; anything else (help, unknown flags, compose
options) goes to the typer CLI, which defines the same commands.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .. import __version__
from . import commands

if TYPE_CHECKING:
    from .session import Session

LIST_FLAGS = {"--all": "all", "-a": "all", "--json": "json"}


def handle(args: list[str], session: Session) -> int | None:
    """Answer `args` if it is a hot-path form; None hands it to the full CLI."""
    if args in (["--version"], ["-v"], [commands.VERSION.name]):
        print(f"docker cilo version {__version__}")
        return 0
    if args[:1] == ["__complete"]:
        return complete(args[1:])
    if args and commands.find(args[0]) is commands.LIST and all(a in LIST_FLAGS for a in args[1:]):
        return list_(args[1:], session)
    return None


def list_(flags: list[str], session: Session) -> int:
    from .. import queries
    from . import output

    wanted = {LIST_FLAGS[f] for f in flags}
    listed, overlaps, elsewhere = queries.list_records(session.context({}), "all" in wanted)
    print(output.list_text(listed, overlaps, "json" in wanted, "all" in wanted, elsewhere))
    return 0


def complete(words: list[str]) -> int:
    """cobra's protocol: `__complete [cilo] WORDS... PARTIAL` -> one candidate a line,
    then `:4` (no file completion)."""
    if words[:1] == ["cilo"]:
        words = words[1:]
    partial = words[-1] if words else ""
    option_env, done = _words(words[:-1])
    candidates: list[str] = []
    command = commands.find(done[0]) if done else None
    if not done:
        candidates = commands.offered()
    elif len(done) == 1 and command and command.takes_env:
        candidates = _env_names()
    elif command and command.compose_verb:
        # compose's commands take services: the selected copy's, else ENV's named first
        env = _selected(option_env)
        if env is None and len(done) == 1:
            candidates = _env_names()
        else:
            candidates = _services(env or done[1])
    for c in candidates:
        if c.startswith(partial):
            print(c)
    print(":4")
    return 0


def _env_names() -> list[str]:
    try:
        from ..state import store

        return sorted({env["name"] for _, _, env in store.load(check=False).all_environments()})
    except Exception:  # noqa: BLE001 - completion must never fail the shell
        return []


def _words(words: list[str]) -> tuple[str | None, list[str]]:
    """(the value of --env, the words that are not options) of a partial command line."""
    option_env, done, skip = None, [], False
    for i, w in enumerate(words):
        if skip:
            skip = False
        elif w == "--env":
            option_env, skip = (words[i + 1] if i + 1 < len(words) else None), True
        elif not w.startswith("-"):
            done.append(w)
    return option_env, done


def _selected(option_env: str | None) -> str | None:
    try:
        import os
        from pathlib import Path

        from ..project import ComposeOptions
        from ..selection import project_folder, select

        chosen = select(option_env, project_folder(ComposeOptions(), Path.cwd()), os.environ, Path.cwd())
        return chosen.env if chosen else None
    except Exception:  # noqa: BLE001 - completion must never fail the shell
        return None


def _services(env: str) -> list[str]:
    """The services of environment `env` (of this folder's project when two projects
    have one of that name), from state: no compose process on a TAB."""
    try:
        from pathlib import Path

        from ..state import store

        found = [r for _, _, r in store.load(check=False).all_environments() if r["name"] == env]
        here = [r for r in found if Path.cwd().is_relative_to(r["project_dir"])]
        return sorted((here or found)[0]["services"]) if found else []
    except Exception:  # noqa: BLE001 - completion must never fail the shell
        return []

