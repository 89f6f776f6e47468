"""A copy's networks: which it needs, their subnets in state, and creating them.

An environment's own network (`record["network"]`, the user's `default`) and one network
per other non-external network of the user's project (`record["networks"]`), each on a
/24 of cilo's pool, allocated inside the state lock like the environment's own subnet.
cilo creates them all itself, with the user's driver and flags (envnet.network_spec),
and the override declares them external, so compose never takes an address pool of
dockerd's for a copy.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from .. import override, ownership
from ..engine.api import EngineAPI, NetworkSpec
from ..errors import CiloError, DestroyedMeanwhile
from ..model import LABEL_HOME, ProjectModel, env_key, record_key
from ..state import store
from . import envnet

Record = dict[str, Any]


def wanted(model: ProjectModel, env_network: str) -> dict[str, str]:
    """compose key -> docker network name, for the copy's networks besides its own."""
    return {n.key: override.network_name(env_network, n.key, model)
            for n in override.copy_networks(model)}


def reserve(st: store.State, host: str, record: Record, model: ProjectModel,
            external: list[Any]) -> None:
    """Record a subnet for each network the copy needs and has none for (inside the lock);
    forget those the project no longer has (their docker networks go at destroy)."""
    key = env_key(record["project"], record["name"])
    want = wanted(model, record["network"])
    nets = record.setdefault("networks", {})
    for gone in [k for k in nets if k not in want]:
        del nets[gone]
    missing = [k for k in sorted(want) if k not in nets]
    subnets = envnet.allocate_many(st, host, key, external, len(missing), envnet.record_subnets(record))
    for k, subnet in zip(missing, subnets, strict=True):
        nets[k] = {"name": want[k], "subnet": subnet}


def needs_reserve(record: Record, model: ProjectModel) -> bool:
    return set(wanted(model, record["network"])) != set(record.get("networks", {}))


def _spec_for(record: Record, model: ProjectModel, key: str | None,
              home: str | None) -> Callable[[str], NetworkSpec]:
    """The spec of the env network (key None) or of network `key`, for a given subnet."""
    compose_key = key or override.env_network_key(model)
    name = record["network"] if key is None else record["networks"][key]["name"]
    user = model.networks.get(compose_key)
    user = None if user is not None and user.external else user
    return lambda subnet: envnet.network_spec(
        name, subnet, compose_key, record["project"], record["name"], user, home)


def _reallocate(engine: EngineAPI, host: str, record: Record, key: str | None,
                routes: Callable[[], list[Any]]) -> Callable[[list[ipaddress.IPv4Network]], str]:
    env = env_key(record["project"], record["name"])

    def reallocate(refused: list[ipaddress.IPv4Network]) -> str:
        external = envnet.engine_taken(engine, routes())
        with store.mutate() as st:
            rec = st.environments(host).get(env)
            if rec is None:
                raise DestroyedMeanwhile(env)
            held = [ipaddress.IPv4Network(s) for s in envnet.record_subnets(rec)]
            subnet = envnet.allocate(st, host, env, external, [*refused, *held])
            if key is None:
                rec["subnet"] = subnet
            else:
                rec["networks"][key]["subnet"] = subnet
            return subnet

    return reallocate


def ensure(engine: EngineAPI, host: str, record: Record, model: ProjectModel, home: str | None,
           routes: Callable[[], list[Any]]) -> Record:
    """Create each of the copy's networks that the engine lacks; returns the record with
    the subnets they got (another one when the engine refused the recorded one).

    A network of the same environment made by another cilo home is not taken over: the
    names would be shared, and so would the containers compose starts on them.
    """
    from ..queries import selector

    found = engine.networks(selector(record))
    if theirs := ownership.foreign(found, ownership.record_home(record, home)):
        raise CiloError(
            f"environment {record_key(record)} also exists on this engine for "
            f"another cilo home ({theirs[0].labels.get(LABEL_HOME)}: network "
            f"{theirs[0].name}); use another environment name, or the other home's CILO_HOME")
    present = {n.name for n in found}
    record = {**record, "networks": {k: dict(v) for k, v in record.get("networks", {}).items()}}
    todo: list[tuple[str | None, str, str]] = [(None, record["network"], record["subnet"])]
    todo += [(k, n["name"], n["subnet"]) for k, n in sorted(record["networks"].items())]
    for key, name, subnet in todo:
        if name in present:
            continue
        spec = _spec_for(record, model, key, ownership.record_home(record, home))
        got = envnet.create_with_retry(engine, spec, subnet, _reallocate(engine, host, record, key, routes))
        if key is None:
            record["subnet"] = got
        else:
            record["networks"][key]["subnet"] = got
    return record


def names(record: Record) -> list[str]:
    return [record["network"], *(n["name"] for _, n in sorted(record.get("networks", {}).items()))]
