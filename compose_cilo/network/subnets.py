"""Choosing each environment's /24 from the base subnet (the pool). Pure: no I/O.

A candidate /24 is free when it overlaps nothing already taken: other environments,
docker networks and host routes (VPNs included). Default routes never count: they
catch everything and a more specific docker route does not hijack anything from them.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Iterator
from ipaddress import IPv4Network
from typing import NamedTuple

from .. import settings
from ..errors import CiloError
from ..rules import ENV_PREFIX, parse_pool

# Routes this wide are default routes: 0.0.0.0/0 and the two /1 halves OpenVPN
# installs for `redirect-gateway def1`. They overlap no network in particular.
DEFAULT_ROUTE_MAX_PREFIX = 1

# (prefix of Taken.by, kind, how the kind reads in a count), in attribution order:
# a /24 taken by several holders is counted once, for the first kind listed here.
KINDS = (
    ("environment ", "environment", "by environments"),
    ("docker network ", "docker network", "by docker networks"),
    ("host route ", "host route", "by host routes"),
    ("", "other", "by others"),
    ("", "excluded", "excluded"),
)
EXCLUDED = "excluded"
LABELS_SHOWN = 3


class SubnetsExhausted(CiloError):
    """Every /24 of the pool overlaps something already taken."""

    def __init__(self, message: str, pool: IPv4Network, counts: dict[str, int]) -> None:
        super().__init__(message)
        self.pool = pool
        self.counts = counts


class Taken(NamedTuple):
    """An IPv4 range already in use, and by what (`docker network "vpn"`,
    `host route 10.224.2.0/24 dev wg0`, `environment shop/dev`)."""

    network: IPv4Network
    by: str

    @classmethod
    def environment(cls, network: IPv4Network, key: str) -> Taken:
        return cls(network, f"environment {key}")

    @classmethod
    def docker_network(cls, network: IPv4Network, name: str) -> Taken:
        return cls(network, f'docker network "{name}"')

    @classmethod
    def host_route(cls, network: IPv4Network, detail: str) -> Taken:
        """`detail` follows the network, e.g. "dev wg0 (table 51820)"."""
        return cls(network, f"host route {network} {detail}".rstrip())

    @property
    def kind(self) -> str:
        """One of: environment, docker network, host route, other."""
        for prefix, kind, _ in KINDS:
            if prefix and self.by.startswith(prefix):
                return kind
        return "other"

    @property
    def label(self) -> str:
        """The holder without its kind: `shop/dev`, `vpn`, `10.224.2.0/24 dev wg0`."""
        for prefix, kind, _ in KINDS:
            if prefix and kind == self.kind:
                return self.by[len(prefix) :].strip().strip('"')
        return self.by


# --- the pool ---------------------------------------------------------------------


def configured_pool() -> IPv4Network:
    """The pool from CILO_BASE_SUBNET, then config.json, then the default."""
    current = settings.current()
    return parse_pool(current.base_subnet, current.base_subnet_source)


def env_prefix(pool: IPv4Network) -> int:
    """The prefix length of one environment's network: /24 (never larger than the pool)."""
    return max(ENV_PREFIX, pool.prefixlen)


def candidates(pool: IPv4Network) -> Iterator[IPv4Network]:
    """The environment-sized subnets of the pool, lowest first."""
    return pool.subnets(new_prefix=env_prefix(pool))


# --- overlap ----------------------------------------------------------------------


def can_overlap(network: object) -> bool:
    """Whether a taken range can overlap anything: IPv4 and not a default route."""
    return isinstance(network, IPv4Network) and network.prefixlen > DEFAULT_ROUTE_MAX_PREFIX


def overlapping(subnet: IPv4Network, taken: Iterable[Taken]) -> list[Taken]:
    """The taken ranges that overlap `subnet` in either direction."""
    return [t for t in taken if can_overlap(t.network) and subnet.overlaps(t.network)]


def allocate(
    pool: IPv4Network, taken: Iterable[Taken], exclude: Iterable[IPv4Network] = ()
) -> IPv4Network:
    """The lowest candidate of `pool` that overlaps nothing taken nor excluded."""
    holders = [*taken, *(Taken(net, EXCLUDED) for net in exclude)]
    found = _first_gap(pool, _intervals(pool, holders))
    if found is None:
        raise _exhausted(pool, holders)
    return found


def _span(network: IPv4Network) -> tuple[int, int]:
    """First and last address as integers (cheaper than broadcast_address)."""
    first = int(network.network_address)
    return first, first | (0xFFFFFFFF >> network.prefixlen)


def _intervals(pool: IPv4Network, holders: Iterable[Taken]) -> list[tuple[int, int]]:
    """The holders' address ranges that touch the pool, as sorted integer pairs."""
    first, last = _span(pool)
    spans = (_span(t.network) for t in holders if can_overlap(t.network))
    return sorted((lo, hi) for lo, hi in spans if lo <= last and hi >= first)


def _first_gap(pool: IPv4Network, blocked: list[tuple[int, int]]) -> IPv4Network | None:
    """Walk the sorted ranges once, moving the candidate past each one it hits."""
    prefix = env_prefix(pool)
    size = 1 << (32 - prefix)
    first, last = _span(pool)
    candidate = first
    for lo, hi in blocked:
        if hi < candidate:
            continue
        if lo > candidate + size - 1:
            break
        candidate = _align_up(hi + 1, first, size)
        if candidate > last:
            return None
    if candidate + size - 1 > last:
        return None
    return IPv4Network((candidate, prefix))


def _align_up(address: int, first: int, size: int) -> int:
    """The first candidate start at or after `address`."""
    return first + -(-(address - first) // size) * size


# --- when the pool is full --------------------------------------------------------


def _exhausted(pool: IPv4Network, holders: list[Taken]) -> SubnetsExhausted:
    attribution = _attribute(pool, holders)
    total = sum(1 for _ in candidates(pool))
    prefix = env_prefix(pool)
    parts = [_phrase(kind, n, labels) for kind, (n, labels) in attribution.items()]
    example = _suggest_pool(pool, holders)
    fix = "set CILO_BASE_SUBNET to a larger or other free range"
    fix += f", e.g. {example}" if example else ""
    if "environment" in attribution:
        fix += ", or destroy unused environments"
    if "docker network" in attribution:
        fix += ", or remove unused docker networks"
    message = (
        f"base subnet {pool} has no free /{prefix}: all {total} /{prefix}s are taken "
        f"({', '.join(parts)}); {fix}"
    )
    counted = {kind: n for kind, (n, _) in attribution.items()}
    return SubnetsExhausted(message, pool, counted)


def _kind_of(holder: Taken) -> str:
    return EXCLUDED if holder.by == EXCLUDED else holder.kind


def _attribute(pool: IPv4Network, holders: list[Taken]) -> dict[str, tuple[int, list[str]]]:
    """Per kind: how many candidates it takes first (in KINDS order) and by whom."""
    size = 1 << (32 - env_prefix(pool))
    first, _ = _span(pool)
    owned = [False] * (pool.num_addresses // size)
    result: dict[str, tuple[int, list[str]]] = {}
    for _, kind, _ in KINDS:
        mine = [h for h in holders if _kind_of(h) == kind]
        slots = [_slots(h.network, first, size, len(owned)) for h in mine]
        new = _claim(owned, [s for s in slots if s is not None])
        if new:
            marks = _prefix_sums(new, len(owned))
            labels = [
                h.label if kind != EXCLUDED else str(h.network)
                for h, s in sorted(zip(mine, slots, strict=True), key=lambda p: p[0].network)
                if s is not None and marks[s[1] + 1] > marks[s[0]]
            ]
            result[kind] = (len(new), list(dict.fromkeys(labels)))
    return result


def _slots(network: IPv4Network, first: int, size: int, n: int) -> tuple[int, int] | None:
    """The candidate indexes a holder overlaps, or None (default route, outside)."""
    if not can_overlap(network):
        return None
    lo, hi = _span(network)
    a, b = max(0, (lo - first) // size), min(n - 1, (hi - first) // size)
    return (a, b) if a <= b else None


def _claim(owned: list[bool], slots: list[tuple[int, int]]) -> set[int]:
    """Mark the unowned indexes covered by `slots`; each index is visited once."""
    new: set[int] = set()
    reach = -1
    for a, b in sorted(slots):
        for i in range(max(a, reach + 1), b + 1):
            if not owned[i]:
                owned[i] = True
                new.add(i)
        reach = max(reach, b)
    return new


def _prefix_sums(indexes: set[int], n: int) -> list[int]:
    sums = [0] * (n + 1)
    for i in range(n):
        sums[i + 1] = sums[i] + (i in indexes)
    return sums


def _phrase(kind: str, n: int, labels: list[str]) -> str:
    phrase = next(p for _, k, p in KINDS if k == kind)
    shown = labels[:LABELS_SHOWN]
    if len(labels) > LABELS_SHOWN:
        shown.append(f"and {len(labels) - LABELS_SHOWN} more")
    return f"{n} {phrase} ({', '.join(shown)})" if shown else f"{n} {phrase}"


def _suggest_pool(pool: IPv4Network, holders: list[Taken]) -> IPv4Network | None:
    """The first private /16 after the pool that nothing holds, if any."""
    spans = sorted(_span(h.network) for h in holders if can_overlap(h.network))
    reach = _running_max([hi for _, hi in spans])
    starts = [lo for lo, _ in spans]
    for option in _private_16s(pool):
        lo, hi = _span(option)
        i = bisect_right(starts, hi)  # holders starting at or before the option's end
        if not option.overlaps(pool) and (i == 0 or reach[i - 1] < lo):
            return option
    return None


def _running_max(values: list[int]) -> list[int]:
    out: list[int] = []
    for v in values:
        out.append(max(v, out[-1]) if out else v)
    return out


def _private_16s(pool: IPv4Network) -> Iterator[IPv4Network]:
    """10.x/16 starting after the pool (wrapping), then 172.16-31.x, then 192.168."""
    tens = list(IPv4Network("10.0.0.0/8").subnets(new_prefix=16))
    after = int(pool.network_address) >> 16
    start = next((i for i, n in enumerate(tens) if int(n.network_address) >> 16 > after), 0)
    yield from tens[start:] + tens[:start]
    yield from IPv4Network("172.16.0.0/12").subnets(new_prefix=16)
    yield IPv4Network("192.168.0.0/16")
