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
    records, overlaps = queries.list_records(session.context({}), "all" in wanted)
    print(output.list_text(records, overlaps, "json" in wanted))
    return 0


def complete(words: list[str]) -> int:
    """cobra's protocol: `__complete [cilo] WORDS... PARTIAL` -> one candidate a line,
    then `:4` (no file completion)."""
    if words[:1] == ["cilo"]:
        words = words[1:]
    partial = words[-1] if words else ""
    done = [w for w in words[:-1] if not w.startswith("-")]
    candidates: list[str] = []
    if not done:
        candidates = commands.offered()
    elif len(done) == 1 and (command := commands.find(done[0])) and command.takes_env:
        candidates = _env_names()
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
