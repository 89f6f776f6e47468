"""The state document: host entries and `State`, the accessors over the parsed JSON.

Since version 6 the document keeps one host entry per Docker engine, keyed by the
engine's own ID, and every environment belongs to one of them (compose_cilo/hosts.py
decides which). `local` is the key of the one host of an older file until this
machine's engine claims it.

Light on purpose (no I/O, nothing imported): the DNS zone and the migrations read the
host entries from here without loading the store.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

LOCAL_HOST = "local"  # the key of an older file's one host, until its engine claims it


def new_host(host_id: str, name: str | None = None) -> dict[str, Any]:
    """A host entry with no environments."""
    return {"id": host_id, "provider": "docker", "name": name or host_id, "environments": {}}


class State:
    """The parsed state document with a few accessors; the dict stays the source of truth."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc

    def environments(self, host: str) -> dict[str, dict[str, Any]]:
        """The environments of one host (its entry is made if the document has none;
        hosts.register makes a real engine's, with its endpoint)."""
        hosts = self.doc["hosts"]
        if host not in hosts:
            hosts[host] = new_host(host)
        envs: dict[str, dict[str, Any]] = hosts[host]["environments"]
        return envs

    def host(self, host: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.doc["hosts"].get(host)
        return found

    def find(self, key: str) -> list[tuple[str, dict[str, Any]]]:
        """(host, record) of every environment PROJECT/ENV `key`, on any host."""
        return [(h, entry["environments"][key]) for h, entry in sorted(self.doc["hosts"].items())
                if key in entry["environments"]]

    def all_environments(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        for host_id, host in sorted(self.doc["hosts"].items()):
            for key, env in sorted(host["environments"].items()):
                yield host_id, key, env


StateLike = State | Mapping[str, Any]  # what readers of the document accept


def document_of(state: StateLike) -> Mapping[str, Any]:
    """The JSON document: a State's `doc`, or the mapping itself."""
    return state.doc if isinstance(state, State) else state


def host_name(doc: Mapping[str, Any], host: str) -> str:
    """The short name people know a host by (its key when the entry has none)."""
    entry = doc.get("hosts", {}).get(host) or {}
    return str(entry.get("name") or host)
