"""The daemon's refusals, as typed errors: the one place that reads their text.

Docker answers most refusals with a status (404, 409) that says what happened; a subnet
that overlaps another network or an address pool it answers only with a message (a 403
on some versions, a 400 or 500 on others), and the docker CLI turns every refusal into
text. Both implementations classify here, so no caller ever parses an error message.
"""

from __future__ import annotations

from ..errors import Conflict, EngineError, EngineUnreachable, NotFound, SubnetConflict

NOT_FOUND = 404
CONFLICT = 409


def refusal(action: str, reason: str, status: int | None = None) -> EngineError:
    """The typed error for the engine refusing `action` with `reason` (and an HTTP
    status, when the engine was spoken to directly)."""
    message = f"{action} failed: {reason}"
    text = reason.lower()
    if status == NOT_FOUND:
        return NotFound(message)
    if status == CONFLICT or "already exists" in text:
        return Conflict(message)
    if "overlap" in text or "pool" in text and "address" in text:
        return SubnetConflict(message)
    return EngineError(message)


def from_cli(action: str, stderr: str, reason: str) -> EngineError:
    """The typed error for a failed docker CLI or compose process, from what it printed
    (`reason`: the line that says why)."""
    if "Cannot connect to the Docker daemon" in stderr or "connect: " in reason:
        return unreachable(reason)
    if "could not find the file" in reason.lower():  # docker cp of a path the container lacks
        return NotFound(f"{action} failed: {reason}")
    return refusal(action, reason)


def unreachable(reason: str, where: str = "") -> EngineUnreachable:
    at = f" at {where}" if where else ""
    return EngineUnreachable(
        f"cannot reach the Docker engine{at} ({reason}); start dockerd or check "
        "--context / DOCKER_HOST")
