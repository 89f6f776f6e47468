"""Each environment's own docker network and /24: allocation inside the state lock.

A subnet is free only if it overlaps no docker network on the target engine, no host
route and no other environment in state. Allocation happens inside the lock, so two
concurrent creates never get the same subnet; the network itself is created outside
the lock, and if the engine refuses it (someone took the range meanwhile) the subnet is
released and the next free one tried, a bounded number of times.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from . import hostroutes, subnets
from .engine import Engine
from .errors import CiloError, EngineError
from .override import address_range, labels
from .state import State

MAX_ATTEMPTS = 5


def engine_taken(
    engine: Engine, own_network: str | None = None, own_subnet: str | None = None
) -> list[subnets.Taken]:
    """Docker networks' subnets (one batched call) and host routes.

    An environment's own network, and the bridge route docker adds for it, are not
    counted against it.
    """
    taken = [
        subnets.Taken.docker_network(ipaddress.IPv4Network(s, strict=False), n.name)
        for n in engine.networks()
        if n.name != own_network
        for s in n.subnets
        if ":" not in s
    ]
    own_bridge = f"host route {own_subnet} dev br-" if own_subnet else None
    routes = [r for r in hostroutes.host_routes() if not (own_bridge and r.by.startswith(own_bridge))]
    return taken + routes


def state_taken(st: State, except_key: str | None = None) -> list[subnets.Taken]:
    return [
        subnets.Taken.environment(ipaddress.IPv4Network(env["subnet"]), key)
        for _, key, env in st.all_environments()
        if key != except_key
    ]


def allocate(
    st: State, key: str, external: list[subnets.Taken], exclude: list[ipaddress.IPv4Network]
) -> str:
    pool = subnets.configured_pool()
    return str(subnets.allocate(pool, [*external, *state_taken(st, key)], exclude=exclude))


def drift(records: list[dict], external: list[subnets.Taken]) -> dict[str, list[str]]:
    """Environments whose subnet now overlaps a host route or a foreign docker network.

    `external` is engine_taken() without exclusions; each environment's own network and
    the bridge route docker adds for it are not counted against it.
    """
    out: dict[str, list[str]] = {}
    for r in records:
        own = (f'docker network "{r["network"]}"', f"host route {r['subnet']} dev br-")
        hits = [
            t.by for t in subnets.overlapping(ipaddress.IPv4Network(r["subnet"]), external)
            if not t.by.startswith(own)
        ]
        if hits:
            out[f"{r['project']}/{r['name']}"] = hits
    return out


def create_network(engine: Engine, name: str, subnet: str, project: str, env: str) -> None:
    gateway, ip_range, _ = address_range(subnet)
    engine.create_network(name, subnet, gateway, ip_range, labels(project, env))


def is_overlap_refusal(err: EngineError) -> bool:
    text = str(err).lower()
    return "overlap" in text or "pool" in text and "address" in text


def create_with_retry(
    engine: Engine,
    name: str,
    subnet: str,
    project: str,
    env: str,
    reallocate: Callable[[list[ipaddress.IPv4Network]], str],
) -> str:
    """Create the network; on an overlap refusal move to the next free subnet and retry."""
    refused: list[ipaddress.IPv4Network] = []
    for _ in range(MAX_ATTEMPTS):
        try:
            create_network(engine, name, subnet, project, env)
            return subnet
        except EngineError as e:
            if not is_overlap_refusal(e):
                raise
            refused.append(ipaddress.IPv4Network(subnet))
            subnet = reallocate(refused)
    raise CiloError(
        f"docker refused a network for environment {project}/{env} {MAX_ATTEMPTS} times "
        f"(subnets {', '.join(map(str, refused))} overlap networks created meanwhile); "
        "run the command again, or set CILO_BASE_SUBNET to a quieter range"
    )
