"""Each environment's docker networks and their /24s: allocation inside the state lock.

An environment has its own network (the user's `default`) and one network of its own
for each other network of the user's project that is not external, each on a /24 of
cilo's pool, never one of dockerd's default address pools (which hold about 31
networks for the whole engine, the user's own stacks included). A subnet is free only if
it overlaps no docker network on the target engine, no host route and no other
environment in state. Allocation happens inside the lock, so two concurrent creates
never get the same subnet; the network itself is created outside
the lock, and if the engine refuses it (someone took the range meanwhile) the subnet is
released and the next free one tried, a bounded number of times.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from ..engine.api import EngineAPI, NetworkSpec
from ..errors import CiloError, SubnetConflict
from ..model import LABEL_NETWORK, PARENT_DRIVERS, NetworkModel, cilo_labels, record_key
from ..override import address_range
from ..state.store import State
from . import subnets

# driver options that name something of the host, which a second network cannot have too
HOST_GLOBAL_OPTS = ("com.docker.network.bridge.name",)
IPV6_PREFIX = "fd63:696c"  # ULA prefix ("cil"): each copy network's /64 derives from its /24

MAX_ATTEMPTS = 5


def engine_taken(
    engine: EngineAPI, host_routes: list[subnets.Taken], own_network: str | None = None,
    own_subnet: str | None = None,
) -> list[subnets.Taken]:
    """Docker networks' subnets (one batched call) and the host's routes.

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
    routes = [r for r in host_routes if not (own_bridge and r.by.startswith(own_bridge))]
    return taken + routes


def record_subnets(record: dict) -> list[str]:
    """Every subnet an environment holds: its own network's, then its other networks'."""
    return [record["subnet"], *(n["subnet"] for _, n in sorted(record.get("networks", {}).items()))]


def state_taken(st: State, host: str, except_key: str | None = None) -> list[subnets.Taken]:
    """The subnets the environments of one engine hold (another engine's are its own to
    use: two engines may give the same /24 to different copies)."""
    return [
        subnets.Taken.environment(ipaddress.IPv4Network(subnet), key)
        for key, env in sorted(st.environments(host).items())
        if key != except_key
        for subnet in record_subnets(env)
    ]


def allocate(
    st: State, host: str, key: str, external: list[subnets.Taken], exclude: list[ipaddress.IPv4Network]
) -> str:
    """A free subnet for environment `key` of engine `host`: free of that engine's networks
    and routes (`external`) and of what its other environments hold."""
    pool = subnets.configured_pool()
    return str(subnets.allocate(pool, [*external, *state_taken(st, host, key)], exclude=exclude))


def allocate_many(st: State, host: str, key: str, external: list[subnets.Taken], count: int,
                  keep: list[str]) -> list[str]:
    """`count` more free subnets for environment `key`, besides the ones it `keep`s."""
    held = [ipaddress.IPv4Network(s) for s in keep]
    out: list[str] = []
    for _ in range(count):
        out.append(allocate(st, host, key, external, [*held, *map(ipaddress.IPv4Network, out)]))
    return out


def ipv6_subnet(subnet: str) -> str:
    """The IPv6 /64 of a copy network: derived from its IPv4 /24, so unique the same way."""
    a, b, c, _ = ipaddress.IPv4Network(subnet).network_address.packed
    return ipaddress.IPv6Network(f"{IPV6_PREFIX}:{a:02x}{b:02x}:{c:02x}00::/64").compressed


def network_spec(name: str, subnet: str, key: str, project: str, env: str,
                 user: NetworkModel | None, home: str | None = None) -> NetworkSpec:
    """The network cilo creates for one of the copy's networks (pure).

    The user's driver, flags and options are kept, but not what names something of the
    host (a bridge name, a macvlan/ipvlan parent interface: without one, docker gives
    the network a private dummy parent), nor fixed subnets, ranges and addresses.
    """
    gateway, ip_range, _ = address_range(subnet)
    own = {**cilo_labels(project, env, home=home), LABEL_NETWORK: key}
    if user is None:
        return NetworkSpec(name, subnet, gateway, ip_range, own)
    driver = user.driver or "bridge"
    options = {k: v for k, v in user.driver_opts.items()
               if k not in HOST_GLOBAL_OPTS and not (driver in PARENT_DRIVERS and k == "parent")}
    return NetworkSpec(
        name, subnet, gateway, ip_range, {**user.labels, **own}, driver=driver,
        options=options, internal=user.internal, attachable=user.attachable,
        ipv6_subnet=ipv6_subnet(subnet) if user.enable_ipv6 else None,
        ipam_driver=user.ipam_driver or "default", ipam_options=dict(user.ipam_options),
    )


def drift(records: list[dict], external: list[subnets.Taken]) -> dict[str, list[str]]:
    """Environments whose subnet now overlaps a host route or a foreign docker network.

    `external` is engine_taken() without exclusions; each environment's own network and
    the bridge route docker adds for it are not counted against it.
    """
    out: dict[str, list[str]] = {}
    for r in records:
        names = [r["network"], *(n["name"] for n in r.get("networks", {}).values())]
        own = tuple(f'docker network "{n}"' for n in names) + tuple(
            f"host route {s} dev br-" for s in record_subnets(r))
        hits = [
            t.by for s in record_subnets(r)
            for t in subnets.overlapping(ipaddress.IPv4Network(s), external)
            if not t.by.startswith(own)
        ]
        if hits:
            out[record_key(r)] = hits
    return out


def create_with_retry(
    engine: EngineAPI,
    spec_for: Callable[[str], NetworkSpec],
    subnet: str,
    reallocate: Callable[[list[ipaddress.IPv4Network]], str],
) -> str:
    """Create the network; on an overlap refusal move to the next free subnet and retry."""
    refused: list[ipaddress.IPv4Network] = []
    spec = spec_for(subnet)
    for _ in range(MAX_ATTEMPTS):
        spec = spec_for(subnet)
        try:
            engine.create_network(spec)
            return subnet
        except SubnetConflict:
            refused.append(ipaddress.IPv4Network(subnet))
            subnet = reallocate(refused)
    raise CiloError(
        f"docker refused network {spec.name} {MAX_ATTEMPTS} times "
        f"(subnets {', '.join(map(str, refused))} overlap networks created meanwhile); "
        "run the command again, or set CILO_BASE_SUBNET to a quieter range"
    )
