"""The host's IPv4 routes, as ranges an environment network must not overlap.

A VPN route (wireguard, openvpn, tailscale subnet routes...) shadowed by a docker
bridge breaks the host's access to that network, so every route counts except
default routes, local/broadcast/multicast entries and cloned per-host entries.
All routing tables are read on Linux: policy routing for VPNs lives outside `main`
(wg-quick uses table 51820). Best effort: when no source can be read, no routes.

`host_routes(source)` takes a `RouteSource`: `system_routes` reads this host (the
default), `fixed_routes([...])` answers given routes, so callers and tests can be handed
one instead of running `ip`.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys
from collections.abc import Iterable
from ipaddress import IPv4Network
from typing import Any, Literal, Protocol

from .subnets import Taken

IP_ROUTE = ["ip", "-j", "-4", "route", "show", "table", "all"]
NETSTAT = ["netstat", "-rn", "-f", "inet"]
PROC_NET_ROUTE = "/proc/net/route"
TIMEOUT = 10

# Route types that claim no network: addresses of this host, broadcast, multicast,
# and `throw` (which sends the lookup on to the next table).
SKIPPED_TYPES = frozenset({"local", "broadcast", "multicast", "anycast", "throw", "nat"})
MAIN_TABLES = frozenset({"main", "254"})
MULTICAST = IPv4Network("224.0.0.0/4")


class RouteSource(Protocol):
    """Where the host's routes come from: `system_routes` (the default), or fixed routes
    (`fixed_routes`) that a caller such as a test hands in instead."""

    def __call__(self) -> list[Taken]: ...


def host_routes(source: RouteSource | None = None) -> list[Taken]:
    """The routes an environment network must not overlap, from `source` (default: this host)."""
    return list((source or system_routes)())


def fixed_routes(routes: Iterable[Taken]) -> RouteSource:
    """A source that always answers `routes` and runs nothing."""
    frozen = list(routes)
    return lambda: list(frozen)


def system_routes() -> list[Taken]:
    """The routes of this host: `ip`, else /proc/net/route on Linux; netstat on macOS."""
    if sys.platform == "darwin":
        text = _run(NETSTAT)
        return parse_netstat(text) if text is not None else []
    if not sys.platform.startswith("linux"):
        return []
    text = _run(IP_ROUTE)
    if text is not None:
        try:
            return parse_ip_json(text)
        except ValueError:
            pass
    text = _read(PROC_NET_ROUTE)
    return parse_proc_net_route(text) if text is not None else []


def _run(argv: list[str]) -> str | None:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=TIMEOUT, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read()
    except OSError:
        return None


# --- Linux: ip -j route show table all ---------------------------------------------


def parse_ip_json(text: str) -> list[Taken]:
    """Routes from `ip -j route show table all`; raises ValueError on malformed JSON."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise ValueError("ip -j route: expected a JSON list")
    return _unique(t for t in map(_ip_route, data) if t is not None)


def _ip_route(entry: Any) -> Taken | None:
    if not isinstance(entry, dict):
        return None
    kind, table = str(entry.get("type", "unicast")), str(entry.get("table", "main"))
    if kind in SKIPPED_TYPES or table == "local":
        return None
    network = _network(str(entry.get("dst", "")))
    if network is None:
        return None
    notes = ([] if kind == "unicast" else [kind]) + (
        [] if table in MAIN_TABLES else [f"table {table}"]
    )
    return _taken(network, _devices(entry), notes)


def _devices(entry: dict[str, Any]) -> list[str]:
    """The route's interface, or those of its multipath next hops."""
    if entry.get("dev"):
        return [str(entry["dev"])]
    hops = entry.get("nexthops")
    if not isinstance(hops, list):
        return []
    return [str(h["dev"]) for h in hops if isinstance(h, dict) and h.get("dev")]


def _network(dst: str) -> IPv4Network | None:
    """A route destination as a network; None for default, IPv6, multicast or junk.

    A destination without a prefix length is a host route (/32).
    """
    if not dst or dst == "default":
        return None
    try:
        network = ipaddress.ip_network(dst, strict=False)
    except ValueError:
        return None
    if not isinstance(network, IPv4Network) or network.prefixlen == 0:
        return None
    return None if network.subnet_of(MULTICAST) else network


def _taken(network: IPv4Network, devices: list[str], notes: list[str]) -> Taken:
    """`host route 10.224.2.0/24 dev wg0 (table 51820)`."""
    detail = f"dev {','.join(devices)}" if devices else ""
    if notes:
        detail += f" ({', '.join(notes)})"
    return Taken.host_route(network, detail.strip())


def _unique(routes: Iterable[Taken]) -> list[Taken]:
    return list(dict.fromkeys(routes))


# --- Linux fallback: /proc/net/route (main table only) ------------------------------


def parse_proc_net_route(
    text: str, byteorder: Literal["little", "big"] = sys.byteorder
) -> list[Taken]:
    """Routes from /proc/net/route: hex addresses in the host's byte order."""
    lines = [line.split() for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    header = [h.lower() for h in lines[0]]
    try:
        cols = [header.index(name) for name in ("iface", "destination", "mask")]
    except ValueError:
        return []
    routes = (_proc_route(row, cols, byteorder) for row in lines[1:] if len(row) == len(header))
    return _unique(t for t in routes if t is not None)


def _proc_route(
    row: list[str], cols: list[int], byteorder: Literal["little", "big"]
) -> Taken | None:
    iface, dest, mask = (row[i] for i in cols)
    try:
        address = _hex_address(dest, byteorder)
        netmask = _hex_address(mask, byteorder)
    except ValueError:
        return None
    network = _network(f"{address}/{netmask}")
    return None if network is None else _taken(network, [iface], [])


def _hex_address(text: str, byteorder: Literal["little", "big"]) -> str:
    return str(ipaddress.IPv4Address(int(text, 16).to_bytes(4, byteorder)))


# --- macOS: netstat -rn -f inet ------------------------------------------------------


def parse_netstat(text: str) -> list[Taken]:
    """Routes from macOS `netstat -rn -f inet`.

    netstat drops trailing zero octets and prints `/len` only when the mask differs
    from the address's classful mask: `10.8/16`, `192.168.1` (/24), `127` (/8).
    Host routes (flag H) are /32; cloned entries (flag W: ARP and per-destination
    caches of other routes) and multicast ones (flag m) claim nothing of their own.
    """
    routes: list[Taken] = []
    header: list[str] | None = None
    for line in text.splitlines():
        fields = line.split()
        if fields[:1] == ["Destination"]:
            header = fields
        elif header and len(fields) >= 3:
            route = _netstat_route(dict(zip(header, fields, strict=False)))  # rows may be short
            if route is not None:
                routes.append(route)
        elif not fields:
            header = None
    return _unique(routes)


def _netstat_route(row: dict[str, str]) -> Taken | None:
    flags = row.get("Flags", "")
    if "W" in flags or "m" in flags:
        return None
    network = _netstat_network(row.get("Destination", ""), host="H" in flags)
    if network is None:
        return None
    iface = row.get("Netif", "")
    return _taken(network, [iface] if iface else [], [])


def _netstat_network(dest: str, host: bool) -> IPv4Network | None:
    address, _, length = dest.partition("/")
    address = address.split("%")[0]
    octets = address.split(".")
    if dest == "default" or not 1 <= len(octets) <= 4 or not all(o.isdigit() for o in octets):
        return None
    padded = ".".join(octets + ["0"] * (4 - len(octets)))
    if length:
        return _network(f"{padded}/{length}")
    if host:
        return _network(padded)
    return _network(f"{padded}/{_classful_prefix(padded)}")


def _classful_prefix(address: str) -> int:
    """The mask netstat leaves unprinted; 32 when the address does not fit it (no mask)."""
    first = int(address.split(".")[0])
    prefix = 8 if first < 128 else 16 if first < 192 else 24
    try:
        IPv4Network(f"{address}/{prefix}")
    except ValueError:
        return 32
    return prefix
