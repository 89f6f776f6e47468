"""The hot paths, answered without typer: `--version`, `list` and shell completion.

typer (with the pydantic it now imports) costs 70-130 ms of start-up, more than all of
`docker compose ls`; these commands run in prompts, scripts and agents' inner loops.
Only their exact forms are handled here; anything else (help, unknown flags, compose
options) goes to the typer CLI, which defines the same commands.
"""

from __future__ import annotations

import sys

from .. import __version__
from . import commands

LIST_FLAGS = {"--all": "all", "-a": "all", "--json": "json"}


def handle(args: list[str], docker_opts: object) -> int | None:
    """Answer `args` if it is a hot-path form; None hands it to the full CLI."""
    if args in (["--version"], ["-v"], [commands.VERSION.name]):
        print(f"docker cilo version {__version__}")
        return 0
    if args[:1] == ["__complete"]:
        return complete(args[1:])
    if args and commands.find(args[0]) is commands.LIST and all(a in LIST_FLAGS for a in args[1:]):
        return list_(args[1:], docker_opts)
    return None


def list_(flags: list[str], docker_opts: object) -> int:
    from . import output
    from .. import queries
    from ..engine.client import Engine

    ctx = queries.Context(engine=Engine(docker_opts))  # type: ignore[arg-type]
    wanted = {LIST_FLAGS[f] for f in flags}
    records, overlaps = queries.list_records(ctx, "all" in wanted)
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


def main_fast(argv: list[str]) -> int | None:
    if argv[:1] == ["docker-cli-plugin-metadata"]:
        return None
    from .argv import split
    from ..errors import CiloError, report

    try:
        opts, args = split(argv)
        return handle(args, opts)
    except CiloError as e:
        return report(e)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main_fast(sys.argv[1:]) or 0)
