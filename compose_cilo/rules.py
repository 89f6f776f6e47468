"""The rules for values that end up in config files, used where settings are loaded and
again where the values are rendered (dnsmasq's config, /etc/resolver): defence in depth.
Pure functions; each raises ValueError with the rule."""

from __future__ import annotations

import json
import re
from typing import TYPE_CHECKING

from .errors import CiloError

if TYPE_CHECKING:
    from ipaddress import IPv4Network

MAX_SUFFIX = 200  # room for <host>.<project>.<env>. under DNS's 253
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # an interface name (IFNAMSIZ) or index
SUFFIX_RULE = ("must be DNS labels joined by dots (lowercase letters, digits and '-', 1-63 "
               f"characters each, not starting or ending with '-', at most {MAX_SUFFIX} in all, "
               "the last one not all digits), e.g. test or dev.internal")
UPSTREAM_RULE = "not an IP address or IP#port (IPv6 scope: fe80::1%eth0)"
MIN_POOL_PREFIX = 16  # the largest base subnet
ENV_PREFIX = 24  # one environment's network
EXAMPLE_POOL = "10.224.0.0/16"


def shown(value: object, limit: int = 200) -> str:
    """A value as it can be printed on one line: escaped, cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value)
    out = text.encode("unicode_escape", "backslashreplace").decode("ascii").replace('"', '\\"')
    return out if len(out) <= limit else out[:limit] + f"... ({len(text)} characters)"


def check_suffix(value: str) -> str:
    """The DNS suffix as written into config files and /etc/resolver/<suffix>; ValueError if bad."""
    labels = value.split(".")
    if (not value or len(value) > MAX_SUFFIX or not all(_LABEL.fullmatch(x) for x in labels)
            or labels[-1].isdigit()):
        raise ValueError(SUFFIX_RULE)
    return value


def parse_upstream(value: str) -> str:
    """One upstream resolver, IP or IP#port, as dnsmasq writes it; ValueError if bad.

    Python accepts any text as an IPv6 scope ("fe80::1%eth0\\nlisten-address=0.0.0.0"),
    so the scope must look like an interface name.
    """
    import ipaddress

    host, sep, port = value.partition("#")
    addr_text, pct, scope = host.partition("%")
    if pct and not _SCOPE.fullmatch(scope) or sep and not re.fullmatch(r"[0-9]{1,5}", port):
        raise ValueError(UPSTREAM_RULE)
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        raise ValueError(UPSTREAM_RULE) from None
    if pct and addr.version != 6 or sep and not 0 < int(port) < 65536:
        raise ValueError(UPSTREAM_RULE)
    text = f"{addr}%{scope}" if pct else str(addr)
    return f"{text}#{int(port)}" if sep else text


def parse_pool(text: str, source: str = "CILO_BASE_SUBNET or config base_subnet") -> IPv4Network:
    """The base subnet: an IPv4 CIDR from /16 to /24 with no host bits set."""
    import ipaddress  # not at import time: `list` with the default pool never needs it
    value = str(text).strip()
    where = f'base subnet "{value}" ({source})'
    fix = f"use an IPv4 range from /{MIN_POOL_PREFIX} to /{ENV_PREFIX}, e.g. {EXAMPLE_POOL}"
    try:
        given = ipaddress.ip_interface(value)
    except ValueError:
        raise CiloError(f"{where} is not an IPv4 CIDR range; {fix}") from None
    if "/" not in value:
        raise CiloError(f"{where} has no prefix length; {fix}")
    pool = given.network
    if not isinstance(pool, ipaddress.IPv4Network):
        raise CiloError(f"{where} is not an IPv4 range; {fix}")
    if pool.prefixlen < MIN_POOL_PREFIX:
        raise CiloError(f"{where} is larger than /{MIN_POOL_PREFIX}; {fix}")
    if pool.prefixlen > ENV_PREFIX:
        problem = f"is smaller than /{ENV_PREFIX} and cannot hold one environment"
        raise CiloError(f"{where} {problem}; {fix}")
    if given.ip != pool.network_address:
        raise CiloError(f"{where} has host bits set; use {pool} instead")
    if pool.is_loopback or pool.is_multicast or pool.is_reserved:
        raise CiloError(f"{where} is a loopback, multicast or reserved range; {fix}")
    return pool
