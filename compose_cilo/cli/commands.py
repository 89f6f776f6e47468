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
    raw: bool = False  # every word after the command is its own (compose's verbs, `with`)


# compose's commands: `docker cilo VERB ARGS` is `docker compose VERB ARGS` against the
# selected copy (or `docker cilo VERB ENV ARGS`), in the order completion offers them
COMPOSE_VERBS = ("up", "down", "ps", "logs", "exec", "run", "create", "config", "build", "pull",
                 "push", "images", "port", "top", "cp", "start", "stop", "restart", "kill", "pause",
                 "unpause", "rm", "scale", "wait", "watch", "attach", "events", "stats", "commit",
                 "export", "volumes", "bridge", "publish")


LIST = Command("list", aliases=("ls",))
VERSION = Command("version")

# in the order completion offers them
COMMANDS: tuple[Command, ...] = (
    *(Command(verb, compose_verb=True, raw=True) for verb in COMPOSE_VERBS[:7]),
    Command("destroy", takes_env=True),
    LIST,
    Command("status", takes_env=True),
    Command("path", takes_env=True),
    Command("use", takes_env=True),
    Command("with", raw=True),  # with [ENV] -- CMD...: a host command with the copy's variables
    Command("compose", takes_env=True, passthrough=1),  # compose ENV ARGS...
    Command("doctor"),
    Command("dns"),
    Command("init"),
    Command("trust"),
    Command("state"),
    VERSION,
    *(Command(verb, compose_verb=True, raw=True, hidden=verb == "publish") for verb in COMPOSE_VERBS[7:]),
)

_BY_WORD = {word: c for c in COMMANDS for word in (c.name, *c.aliases)}


def find(word: str) -> Command | None:
    """The command a word on the command line names (an alias included)."""
    return _BY_WORD.get(word)


def offered() -> list[str]:
    """The names completion offers: neither hidden commands nor aliases."""
    return [c.name for c in COMMANDS if not c.hidden]
