"""Which reach mode a command uses, and why. Pure: decided from the setting, the engine's
endpoint and the operating system the engine reports; never by sending packets to
container addresses (a remote engine's are not local networks: packets to them would
leave the machine).

- `direct`: names answer container addresses; the host routes to a native Linux engine's
  container networks.
- `router`: names answer the router's address, the engine host's, where cilo's router
  publishes HTTP and HTTPS: Docker Desktop (the engine runs in a VM), `tcp://` and
  `ssh://` engines (another machine, or one this host cannot route into).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from typing import NamedTuple

MODES = ("auto", "direct", "router")
LOOPBACK = "127.0.0.1"


class Reach(NamedTuple):
    mode: str  # "direct" or "router"
    reason: str  # in words, for status and doctor
    host: str  # the engine host's address or name, where the router's ports answer


def engine_host(endpoint: str | None) -> str:
    """The host part of a tcp:// or ssh:// endpoint; the loopback address for a local one."""
    if not endpoint or "://" not in endpoint:
        return LOOPBACK
    scheme, _, _ = endpoint.partition("://")
    if scheme in ("unix", "npipe", "fd"):
        return LOOPBACK
    host = urllib.parse.urlsplit(endpoint).hostname or LOOPBACK
    return LOOPBACK if host == "localhost" else host


def decide(setting: str, endpoint: str | None, operating_system: str) -> Reach:
    """The reach mode for `setting` (auto, direct or router) on this engine."""
    host = engine_host(endpoint)
    where = endpoint or "the default engine"
    if setting == "direct":
        return Reach("direct", "reach is set to direct", host)
    if setting == "router":
        return Reach("router", "reach is set to router", host)
    if "docker desktop" in operating_system.lower():
        return Reach("router", f"auto: {where} is Docker Desktop, whose container addresses "
                     "this host cannot reach", host)
    scheme = endpoint.partition("://")[0] if endpoint and "://" in endpoint else "unix"
    if scheme in ("unix", "fd"):
        return Reach("direct", f"auto: {where} is a local engine, whose container networks this host routes to",
                     host)
    if scheme == "npipe":
        return Reach("router", f"auto: {where} is a Windows engine, whose container addresses this host "
                     "cannot reach", host)
    return Reach("router", f"auto: {where} is a {scheme}:// engine, whose container addresses are "
                 "not this host's networks", host)


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
