"""cilo's router: one Caddy container per cilo home and engine, started when a copy needs
it and removed when none does. Its configuration is rendered from state (routes.py) and
applied after every change of what runs, with the order that keeps every request
answered: join the networks of copies that start, reload, then leave those of copies
that stopped (Caddy's reload is graceful).

It carries `cilo.router` and `cilo.home`, never `cilo` (the mark of a copy's objects), so
doctor and destroy never take it for part of a copy.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import TYPE_CHECKING, Any

from .. import settings
from ..engine.api import ContainerInfo, RouterSpec
from ..model import LABEL_HOME, LABEL_ROUTER
from . import routes
from .mode import Reach, decide, is_loopback

if TYPE_CHECKING:
    from ..queries import Context

CONFIG_PATH = "/etc/caddy/Caddyfile"


def reach_of(ctx: Context) -> Reach:
    """How this host reaches the engine's copies (decided once per command)."""
    cached: Reach | None = ctx.reach
    if cached is None:
        from ..engine.socketapi import resolve_host

        opts = ctx.engine.opts
        setting = settings.current().reach
        kind = ctx.engine.info().operating_system if setting == "auto" else ""
        cached = decide(setting, resolve_host(opts.host, opts.context, opts.config), kind)
        ctx.reach = cached
    return cached


def router_address(reach: Reach) -> str:
    """The IPv4 address names answer in router mode: the engine host's."""
    try:
        return str(ipaddress.IPv4Address(reach.host))
    except ValueError:
        pass
    try:
        return socket.gethostbyname(reach.host)
    except OSError:
        return "127.0.0.1"


def recorded(reach: Reach) -> dict[str, str]:
    """The host entry's `reach` (state v4): what DNS renders names with."""
    return {"mode": reach.mode, "address": router_address(reach) if reach.mode == "router" else "127.0.0.1",
            "reason": reach.reason[:500]}


def bind_address(reach: Reach) -> str:
    """The engine-host address that the router's and copies' published ports bind to: the
    loopback address of a local engine or Docker Desktop, a remote engine's own address
    when the endpoint names one, else every address of that host."""
    address = router_address(reach)
    return address if is_loopback(address) or _is_ip(reach.host) else "0.0.0.0"


def publish_address(ctx: Context, record: dict[str, Any]) -> str | None:
    """Where the copy's declared ports are published, or None when they are not: as the
    copy's `publish` says (up --publish / --no-publish), else in router mode only."""
    reach = reach_of(ctx)
    wanted = record.get("publish")
    if wanted is None:
        wanted = reach.mode == "router"
    return bind_address(reach) if wanted else None


def engine_address(ctx: Context) -> str:
    """The address to connect to for a port published on every address of the engine host."""
    return router_address(reach_of(ctx))


def spec(home: str, reach: Reach, image: str) -> RouterSpec:
    s = settings.current()
    bind = bind_address(reach)
    return RouterSpec(name=f"cilo_router_{home}", image=image, labels={LABEL_ROUTER: "true", LABEL_HOME: home},
                      ports=(f"{bind}:{s.router_http_port}:80", f"{bind}:{s.router_https_port}:443"),
                      config_path=CONFIG_PATH)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def sync(ctx: Context, doc: dict[str, Any], home: str | None, existing: ContainerInfo | None = None) -> None:
    """Make the router match state: routes of running copies, on their networks.
    `existing`: the router, when the caller has just looked it up."""
    if home is None:
        return
    reach = reach_of(ctx)
    found = routes.routes(doc, settings.current().dns_suffix) if reach.mode == "router" else []
    existing = existing or _router(ctx, home)
    if not found:
        if existing:
            ctx.engine.remove_containers([existing.id])
        return
    envs = routes.zone.local_environments(doc)
    networks = sorted({envs[r.key]["network"] for r in found})
    config = routes.caddyfile(found)
    if existing and existing.state != "running":
        ctx.engine.remove_containers([existing.id])
        existing = None
    if existing is None:
        ctx.engine.start_router(spec(home, reach, settings.current().router_image), config, networks)
        return
    joined = set(existing.addresses)
    for net in networks:
        if net not in joined:
            ctx.engine.connect_network(net, existing.name)
    ctx.engine.reload_router(existing.name, CONFIG_PATH, config)
    for net in sorted(joined - set(networks)):
        ctx.engine.disconnect_network(net, existing.name)


def leave(ctx: Context, record: dict[str, Any], home: str | None) -> None:
    """Before a copy's networks are removed: its routes go, then the router leaves them."""
    existing = _router(ctx, home) if home else None
    if existing is None or record["network"] not in existing.addresses:
        return
    import copy

    from ..model import record_key
    from ..state import store

    doc = copy.deepcopy(store.read_state().doc)
    doc["hosts"]["local"]["environments"].pop(record_key(record), None)
    sync(ctx, doc, home, existing)


def running(ctx: Context, home: str) -> ContainerInfo | None:
    """This home's router when it runs."""
    found = _router(ctx, home)
    return found if found and found.state == "running" else None


def _router(ctx: Context, home: str) -> ContainerInfo | None:
    found = ctx.engine.containers({LABEL_ROUTER: "true", LABEL_HOME: home})
    return found[0] if found else None
