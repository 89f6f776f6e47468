"""Which Docker engine an environment lives on: host entries of the state (version 6).

The engine is chosen as docker chooses it (`docker --context NAME`, `-H`, DOCKER_HOST,
DOCKER_CONTEXT, the current context). State keeps one host entry per engine, keyed by
the engine's own ID (`docker info`'s ID), with a short name for people (the context's
name, `local`, or the endpoint's host), the endpoint and context that last reached it,
and whether it is this machine's own engine. A command about an existing environment
goes to that environment's engine whatever the current context is; `create`/`up` of a
new one goes to the current engine.

Pure functions over the document, but for `options_for` (which reads docker's context
store, a file). Knowing which entry the current endpoint names costs no engine request;
only registering an engine (a new environment) needs its ID.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, NamedTuple

from .engine.options import DockerOptions
from .errors import CiloError
from .state.document import LOCAL_HOST, new_host

Doc = Mapping[str, Any]
_NOT_LABEL = re.compile(r"[^a-z0-9-]+")
_QUALIFIED = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*):(.+)$")


class Here(NamedTuple):
    """The engine the docker options name, as far as it can be told without asking it."""

    endpoint: str | None  # unix:///var/run/docker.sock, tcp://h:2375, ssh://u@h; None: unknown
    context: str | None  # the docker context in use, unless it is `default`


def here(opts: DockerOptions) -> Here:
    """The endpoint and context docker would use with `opts` (no engine request)."""
    from .engine.socketapi import context_name, resolve_host

    context = context_name(opts.host, opts.context, opts.config)
    return Here(resolve_host(opts.host, opts.context, opts.config), None if context == "default" else context)


def is_local_endpoint(endpoint: str | None) -> bool:
    """A socket on this machine (which may still be Docker Desktop's VM)."""
    return endpoint is None or endpoint.startswith(("unix://", "fd://"))


def shown(entry: Mapping[str, Any]) -> str:
    """`name (endpoint)` for messages."""
    endpoint = entry.get("endpoint")
    return f"{entry.get('name', entry.get('id'))}{f' ({endpoint})' if endpoint else ''}"


# --------------------------------------------------------------- finding entries


def by_endpoint(doc: Doc, where: Here) -> str | None:
    """The key of the host entry the current endpoint last reached; an older file's
    unclaimed `local` host for a local socket; None when state does not know it."""
    hosts = doc.get("hosts", {})
    for key, entry in sorted(hosts.items()):
        if where.endpoint and entry.get("endpoint") == where.endpoint:
            return str(key)
    if LOCAL_HOST in hosts and "endpoint" not in hosts[LOCAL_HOST] and is_local_endpoint(where.endpoint):
        return LOCAL_HOST
    return None


def split_qualified(ref: str) -> tuple[str | None, str]:
    """`HOST:PROJECT/ENV` or `HOST:ENV` -> (HOST, the rest); anything else -> (None, ref)."""
    match = _QUALIFIED.match(ref)
    return (match.group(1), match.group(2)) if match else (None, ref)


def resolve(doc: Doc, name: str) -> str | None:
    """The key of the host people call `name`: its short name, its engine ID (or a prefix of
    at least 6 characters of it), its context or its endpoint; None when none matches."""
    hosts = doc.get("hosts", {})
    for test in (lambda k, e: e.get("name") == name, lambda k, e: k == name,
                 lambda k, e: e.get("context") == name, lambda k, e: e.get("endpoint") == name):
        found = [k for k, e in sorted(hosts.items()) if test(k, e)]
        if found:
            return str(found[0])
    prefix = [k for k in sorted(hosts) if len(name) >= 6 and k.lower().startswith(name.lower())]
    return str(prefix[0]) if len(prefix) == 1 else None


def unknown(doc: Doc, name: str) -> CiloError:
    names = ", ".join(sorted(shown(e) for e in doc.get("hosts", {}).values())) or "none yet"
    return CiloError(f"no engine {name!r}: cilo knows {names}; name one of them, or a docker context "
                     "(docker context ls)")


# --------------------------------------------------------------- registering


def suggested_name(where: Here, native: bool) -> str:
    """A short name for a new engine: its context's, `local`, or its endpoint's host."""
    if where.context:
        base = where.context
    elif native:
        base = "local"
    elif where.endpoint and "://" in where.endpoint:
        base = urllib.parse.urlsplit(where.endpoint).hostname or "engine"
    else:
        base = "engine"
    label = _NOT_LABEL.sub("-", base.lower()).strip("-")[:50].strip("-")
    return label or "engine"


def unique_name(doc: Doc, base: str, mine: str | None = None) -> str:
    taken = {e.get("name") for k, e in doc.get("hosts", {}).items() if k != mine}
    name, n = base, 2
    while name in taken:
        name, n = f"{base}-{n}", n + 1
    return name


def register(doc: dict[str, Any], engine_id: str, where: Here, native: bool) -> str:
    """The key of this engine's entry, made or updated (inside the state lock).

    An older file's `local` host is claimed by this machine's own engine. Another entry
    that last reached this endpoint names another engine now: it keeps its environments
    and forgets the endpoint.
    """
    hosts: dict[str, Any] = doc["hosts"]
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9:._-]{0,199}", engine_id):
        raise CiloError(f"the engine at {where.endpoint or 'the default endpoint'} reports the ID "
                        f"{engine_id!r}, which cilo cannot key its state by; check `docker info`")
    for key, entry in hosts.items():
        if key != engine_id and where.endpoint and entry.get("endpoint") == where.endpoint:
            entry.pop("endpoint", None)
    entry = hosts.get(engine_id)
    if entry is None:
        if native and LOCAL_HOST in hosts and "endpoint" not in hosts[LOCAL_HOST]:
            entry = hosts.pop(LOCAL_HOST)
            entry["id"] = engine_id
            entry.setdefault("name", unique_name(doc, suggested_name(where, native)))
        else:
            entry = new_host(engine_id, unique_name(doc, suggested_name(where, native)))
        hosts[engine_id] = entry
    if where.endpoint:
        entry["endpoint"] = where.endpoint
    if where.context:
        entry["context"] = where.context
    else:
        entry.pop("context", None)
    entry["local"] = native
    return engine_id


def unregister(doc: dict[str, Any], engine_id: str, before: dict[str, Any]) -> None:
    """Undo `register` for a create that failed (inside the lock, after its record went):
    the entries it made or claimed as they were (`before`: copies of them then, by key),
    so bad input changes nothing. Entries something else changed meanwhile stay."""
    hosts: dict[str, Any] = doc["hosts"]
    then = before.get(engine_id) or before.get(LOCAL_HOST)
    now = hosts.get(engine_id)
    if now is None or now["environments"] != (then or {}).get("environments", {}):
        return
    del hosts[engine_id]
    for key, entry in before.items():
        hosts[key] = entry


# --------------------------------------------------------------- reaching an entry's engine


def options_for(entry: Mapping[str, Any], current: DockerOptions) -> DockerOptions:
    """Docker options that reach this host's engine: its context when that context still
    names its endpoint (TLS settings live in the context), else its endpoint."""
    from .engine.socketapi import resolve_host

    context, endpoint = entry.get("context"), entry.get("endpoint")
    if context and (endpoint is None or resolve_host(None, context, current.config) == endpoint):
        return DockerOptions(context=context, config=current.config, log_level=current.log_level)
    if endpoint:
        return DockerOptions(host=endpoint, config=current.config, log_level=current.log_level)
    return current  # an older file's `local`: the default engine
