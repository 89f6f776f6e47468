"""The command table: every command's name and the facts the front ends need about it.

Read by the hot paths (completion, `list`, `version`) without importing typer, and by the
typer app for pass-through parsing; a unit test checks the typer app against it, so a
command added to one and not the other fails the tests instead of the user's TAB.
"""

from __future__ import annotations

from typing import NamedTuple


class Command(NamedTuple):
    """One command, as completion and argument parsing must know it."""

    name: str
    takes_env: bool = False  # its first argument is an environment: complete env names
    passthrough: int = 0  # >0: after this many positionals, every word is the command's own
    aliases: tuple[str, ...] = ()  # other spellings, accepted but not offered or listed
    hidden: bool = False  # accepted but not offered or listed
    compose_verb: bool = False  # docker compose's own command, run against the copy as it is


# compose's commands that cilo has no verb of its own for: `docker cilo VERB ARGS` is
# `docker compose VERB ARGS` against the selected copy (or `docker cilo VERB ENV ARGS`)
COMPOSE_VERBS = ("ps", "config", "build", "pull", "push", "images", "port", "top", "cp", "start",
                 "stop", "restart", "kill", "pause", "unpause", "rm", "scale", "wait", "watch",
                 "attach", "events", "stats")


LIST = Command("list", aliases=("ls",))
VERSION = Command("version")

# in the order completion offers them
COMMANDS: tuple[Command, ...] = (
    Command("up", takes_env=True),
    Command("create", takes_env=True),
    Command("down", takes_env=True),
    Command("destroy", takes_env=True),
    LIST,
    Command("status", takes_env=True),
    Command("logs", takes_env=True),
    Command("exec", takes_env=True, passthrough=2),  # exec ENV SERVICE CMD...
    Command("compose", takes_env=True, passthrough=1),  # compose ENV ARGS...
    Command("path", takes_env=True),
    Command("use", takes_env=True),
    Command("run", takes_env=True, passthrough=1),  # run ENV CMD...
    Command("doctor"),
    Command("dns"),
    Command("init"),
    Command("state"),
    VERSION,
    *(Command(verb, compose_verb=True) for verb in COMPOSE_VERBS),
)

_BY_WORD = {word: c for c in COMMANDS for word in (c.name, *c.aliases)}


def find(word: str) -> Command | None:
    """The command a word on the command line names (an alias included)."""
    return _BY_WORD.get(word)


def offered() -> list[str]:
    """The names completion offers: neither hidden commands nor aliases."""
    return [c.name for c in COMMANDS if not c.hidden]
