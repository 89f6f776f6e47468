"""The state's later migration steps (version 2 to 6), each a pure pair of converters
on plain dicts; migrations.py holds the table, the chain and version 1 <-> 2."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from .document import LOCAL_HOST

Doc = dict[str, Any]


class Unconvertible(Exception):
    """A document the converter cannot express in the other version (field, problem)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# --- version 2 <-> version 3 --------------------------------------------------------------
# Version 3 records, beside each environment's own network, the other networks cilo
# creates for it (one per network of the user's project that is not external), each with
# its subnet from cilo's pool. Version 2 environments had none.


def _hosts_map(doc: Doc, version: int, change: Callable[[Doc], None]) -> Doc:
    out = copy.deepcopy(doc)
    out["version"] = version
    for host in out["hosts"].values():
        for rec in host["environments"].values():
            change(rec)
    return out


def v2_to_v3(doc: Doc) -> Doc:
    return _hosts_map(doc, 3, lambda rec: rec.setdefault("networks", {}))


def _drop_v3_fields(rec: Doc) -> None:
    rec.pop("networks", None)
    rec.pop("dotenv_dir", None)
    rec.pop("foreign_home", None)


def v3_to_v2(doc: Doc) -> Doc:
    out = _hosts_map(doc, 2, _drop_v3_fields)
    out.pop("home_id", None)
    return out


# --- version 3 <-> version 4 --------------------------------------------------------------
# Version 4 records how the host reaches each engine's copies (`hosts.H.reach`: direct, or
# through cilo's router) and each service's HTTP port for the router. Both are optional:
# `up` records them; version 3 had neither.


def v3_to_v4(doc: Doc) -> Doc:
    return _hosts_map(doc, 4, lambda rec: None)


def _drop_v4_fields(rec: Doc) -> None:
    for svc in rec.get("services", {}).values():
        svc.pop("http_port", None)


def v4_to_v3(doc: Doc) -> Doc:
    out = _hosts_map(doc, 3, _drop_v4_fields)
    for host in out["hosts"].values():
        host.pop("reach", None)
    return out


# --- version 4 <-> version 5 --------------------------------------------------------------
# Version 5 records whether a copy publishes its services' ports on ephemeral host ports
# (`publish`) and the ports the engine published (`published`, on services and replicas).
# All optional: version 4 copies published nothing.


def v4_to_v5(doc: Doc) -> Doc:
    return _hosts_map(doc, 5, lambda rec: None)


def _drop_v5_fields(rec: Doc) -> None:
    rec.pop("publish", None)
    for svc in rec.get("services", {}).values():
        svc.pop("published", None)
        for replica in svc.get("replicas", []):
            replica.pop("published", None)


def v5_to_v4(doc: Doc) -> Doc:
    return _hosts_map(doc, 4, _drop_v5_fields)


# --- version 5 <-> version 6 --------------------------------------------------------------
# Version 6 keeps one host entry per Docker engine, keyed by the engine's own ID, with a
# short name for people and the endpoint and context that reached it. A version-5 file
# holds one host, `local`, whose engine nobody identified: it keeps that key until the
# first command that reaches this machine's own engine claims it (hosts.claim). Its
# environments may gain `remote_workspace` (the folder an ssh:// engine's machine holds).


def v5_to_v6(doc: Doc) -> Doc:
    out = _hosts_map(doc, 6, lambda rec: None)
    out["hosts"] = {k: h for k, h in out["hosts"].items() if h["environments"]}  # named by their key
    return out


def _home_host(hosts: Doc) -> str | None:
    """The key of this machine's own engine's entry, if any (claimed or not)."""
    if LOCAL_HOST in hosts:
        return LOCAL_HOST
    return next((k for k, h in sorted(hosts.items()) if h.get("local")), None)


def v6_to_v5(doc: Doc) -> Doc:
    home = _home_host(doc["hosts"])
    for key, host in sorted(doc["hosts"].items()):
        if key != home and host["environments"]:
            raise Unconvertible(
                f"hosts/{key}", f"version 5 holds only this machine's engine; destroy the "
                f"environments on {host.get('name', key)} first (docker cilo --host "
                f"{host.get('name', key)} destroy --all-projects)")
    out = _hosts_map(doc, 5, lambda rec: rec.pop("remote_workspace", None))
    hosts = out["hosts"]
    local = hosts[home] if home else {"environments": {}}
    entry = {"id": LOCAL_HOST, "provider": "docker", "environments": local["environments"]}
    if "reach" in local:
        entry["reach"] = local["reach"]
    out["hosts"] = {LOCAL_HOST: entry}
    return out
