"""The one error family. Known errors exit 1 with one clear line at the CLI boundary."""

from __future__ import annotations

import sys


class CiloError(Exception):
    """A failure the user can act on: the message names the object, the problem and the fix."""

    exit_code = 1


class UsageError(CiloError):
    """The command line itself is wrong (exit 2, like docker and compose)."""

    exit_code = 2


class NoSuchEnvironment(CiloError):
    """No environment of that name in state."""


class DestroyedMeanwhile(CiloError):
    """A destroy of the same environment ran while this command was creating it."""

    def __init__(self, key: str) -> None:
        super().__init__(f"environment {key} was destroyed while cilo was preparing it; "
                         "run the command again to create it anew")


class StateError(CiloError):
    """The state file cannot be read, validated or written."""


class EngineError(CiloError):
    """The Docker engine or compose refused or failed a request."""


class EngineUnreachable(EngineError):
    """The engine does not answer: not running, another host or context, or its socket
    refuses this user. Nothing was asked of it, so nothing changed."""


class NotFound(EngineError):
    """The object named does not exist (any more): to a removal, the work is done."""


class Conflict(EngineError):
    """The name is already taken by another object of the same kind."""


class SubnetConflict(EngineError):
    """The engine refused a network's subnet: it overlaps another network or one of the
    engine's address pools, so another free subnet may still be accepted."""


def report(err: CiloError) -> int:
    """The one way a known error reaches the user: one line on stderr, its exit status."""
    print(f"error: {err}", file=sys.stderr)
    return err.exit_code
