"""Where each engine's environments sit in the zone: their zone keys. Pure: no I/O.

The zone key of an environment is PROJECT/ENV, its names follow from it (zone.py). State
keeps one host per Docker engine, and two engines may hold the same PROJECT/ENV: the
one made first keeps the key (and its names); each other one's is PROJECT/ENV.HOST, so
its names are SVC.ENV.HOST.S and SVC.P.ENV.HOST.S (HOST: the engine's short name).
Names never change owner because another engine gained a copy.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..errors import CiloError
from ..names import ENV_NAME_RE, PROJECT_NAME_RE
from ..state.document import LOCAL_HOST, StateLike, document_of, host_name
from .labels import shown as _shown


def placed(state_doc: StateLike) -> dict[str, tuple[str, dict[str, Any]]]:
    """Every environment of every engine by its zone key, with its host."""
    doc = document_of(state_doc)
    by_key: dict[str, list[tuple[str, str, dict[str, Any]]]] = {}
    for host, entry in sorted((doc.get("hosts") or {}).items()):
        for key, record in (entry.get("environments") or {}).items():
            project, sep, env = key.partition("/")
            if not (sep and PROJECT_NAME_RE.fullmatch(project) and ENV_NAME_RE.fullmatch(env)):
                raise CiloError(
                    f'state has an environment "{_shown(key)}" that is not PROJECT/ENV; '
                    "run docker cilo doctor or restore the state file"
                )
            by_key.setdefault(key, []).append((str(record.get("created_at", "")), host, record))
    out: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, found in sorted(by_key.items()):
        for n, (_, host, record) in enumerate(sorted(found, key=lambda f: (f[0], f[1]))):
            out[key if n == 0 else f"{key}.{host_name(doc, host)}"] = (host, record)
    return out


def served_hosts(doc: Mapping[str, Any]) -> set[str]:
    """The hosts whose copies' names are served: this machine's own engine (its container
    addresses are routed here), and any engine with a recorded reach (direct as chosen,
    or through its router). A remote engine nobody decided for is not: packets to its
    container addresses would leave the machine."""
    return {k for k, e in (doc.get("hosts") or {}).items() if k == LOCAL_HOST or e.get("local") or e.get("reach")}


def environments(state_doc: StateLike, host: str | None = None) -> dict[str, dict[str, Any]]:
    """The environments by zone key (see `placed`): every engine's, or one host's."""
    return {k: r for k, (h, r) in placed(state_doc).items() if host is None or h == host}


def zone_key(state_doc: StateLike, host: str, key: str) -> str | None:
    """The zone key of environment PROJECT/ENV `key` of `host`."""
    return next((z for z, (h, r) in placed(state_doc).items()
                 if h == host and z.partition(".")[0] == key), None)
