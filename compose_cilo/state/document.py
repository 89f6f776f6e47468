"""The state document: the host key and `State`, the accessors over the parsed JSON.

Light on purpose (no I/O, nothing imported): the DNS zone and the migrations read the
host key from here without loading the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

LOCAL_HOST = "local"  # the key under "hosts" of this machine's engine


def new_host(host_id: str) -> dict[str, Any]:
    """A host entry with no environments."""
    return {"id": host_id, "provider": "docker", "environments": {}}


class State:
    """The parsed state document with a few accessors; the dict stays the source of truth."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def environments(self, host: str = LOCAL_HOST) -> dict[str, dict[str, Any]]:
        hosts = self.doc["hosts"]
        if host not in hosts:
            hosts[host] = new_host(host)
        envs: dict[str, dict[str, Any]] = hosts[host]["environments"]
        return envs

    def all_environments(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for host_id, host in sorted(self.doc["hosts"].items()):
            for key, env in sorted(host["environments"].items()):
                yield host_id, key, env


StateLike = State | Mapping[str, Any]  # what readers of the document accept


def document_of(state: StateLike) -> Mapping[str, Any]:
    """The JSON document: a State's `doc`, or the mapping itself."""
    return state.doc if isinstance(state, State) else state
