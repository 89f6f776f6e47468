"""cilo's router: one Caddy container per cilo home and engine, started when a copy needs
it and removed when none does. Its configuration is rendered from state (routes.py) and
applied after every change of what runs, with the order that keeps every request
answered: join the networks of copies that start, reload, then leave those of copies
that stopped (Caddy's reload is graceful).

It carries `cilo.router` and `cilo.home`, never `cilo` (the mark of a copy's objects), so
doctor and destroy never take it for part of a copy.
"""

from __future__ import annotations

import copy
import ipaddress
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import settings
from ..engine.api import ContainerInfo, RouterSpec
from ..errors import EngineError
from ..model import LABEL_HOME, LABEL_ROUTER
from ..override import CA_DIR
from . import routes
from .mode import Reach, decide, is_loopback

if TYPE_CHECKING:
    from ..queries import Context

CONFIG_PATH = "/etc/caddy/Caddyfile"
COPY_NETWORK_PREFIX = "cilo_"  # copies' networks (cilo_PROJECT_ENV...); the router's own stays
DATA_PATH = "/data"  # Caddy's data (XDG_DATA_HOME): its local CA, in a volume that outlives the router
CA_PATH = "/data/caddy/pki/authorities/local/root.crt"
CA_FILE = "root.crt"
CA_WAIT = 10.0  # seconds for a new router to make its CA
# Caddy reloads by opening a new SO_REUSEPORT listener and closing the old one; the
# kernel resets connections still queued on the old one (measured: 17 of 22,899 requests
# during 120 reloads) unless it moves them to the new listener (0 of 48,006; Linux 5.14+)
SYSCTLS = {"net.ipv4.tcp_migrate_req": "1"}


def data_volume(home: str) -> str:
    return f"cilo_router_{home}_data"


def ca_volume(home: str) -> str:
    """The volume holding only the router's CA certificate, mounted read-only in copies."""
    return f"cilo_router_{home}_ca"


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
    if is_loopback(reach.host) or _is_ip(reach.host):
        return router_address(reach)
    return "0.0.0.0"  # a host by name: its addresses are its own to know


def publish_address(ctx: Context, record: dict[str, Any]) -> str | None:
    """Where the copy's declared ports are published, or None when they are not: as the
    copy's `publish` says (up --publish / --no-publish), else in router mode only."""
    reach = reach_of(ctx)
    wanted = record.get("publish")
    if wanted is None:
        wanted = reach.mode == "router"
    return bind_address(reach) if wanted else None


def ca_mount(ctx: Context, home: str) -> str | None:
    """Router mode: the CA volume a copy mounts read-only at CA_DIR (the router is made
    to run, with its CA, first); None in direct mode, and when the router cannot start
    (a warning: the copy runs, as it does when the router fails later)."""
    if reach_of(ctx).mode != "router":
        return None
    try:
        ensure_ca(ctx, home)
    except EngineError as e:
        ctx.say(f"warning: cilo's router: {e}; the copy runs without its CA (/etc/cilo/ca) and its "
                "names may not answer until docker cilo doctor --fix")
        return None
    return ca_volume(home)


def engine_address(ctx: Context) -> str:
    """The address to connect to for a port published on every address of the engine host."""
    return router_address(reach_of(ctx))


def spec(home: str, reach: Reach, image: str) -> RouterSpec:
    s = settings.current()
    bind = bind_address(reach)
    return RouterSpec(name=f"cilo_router_{home}", image=image, labels={LABEL_ROUTER: "true", LABEL_HOME: home},
                      ports=(f"{bind}:{s.router_http_port}:80", f"{bind}:{s.router_https_port}:443"),
                      config_path=CONFIG_PATH,
                      volumes=((data_volume(home), DATA_PATH), (ca_volume(home), CA_DIR)),
                      sysctls=dict(SYSCTLS))


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
        return True
    except ValueError:
        return False


def sync(ctx: Context, home: str | None, *, keep: bool = False, force: bool = False,
         without: str | None = None) -> ContainerInfo | None:
    """Make the router match state: routes of running copies, on their networks (where it
    also answers to the copy's routed names, so its services reach each other over
    HTTPS). One change at a time per home, each from the state it reads under the
    router's lock, so two commands never undo each other's joins. `keep`: run it even
    without routes (a copy is about to start); `force`: reload even when the applied
    configuration looks current (doctor); `without`: leave out that copy (destroy).
    The router, if one runs after."""
    if home is None:
        return None
    from ..binding import current_host
    from ..fsutil import turn
    from ..state import store

    host = current_host(ctx)
    with turn(_files(host) / "sync.lock", "changing cilo's router"):
        doc = store.read_state().doc
        if without and host in doc["hosts"]:
            doc = copy.deepcopy(doc)
            doc["hosts"][host]["environments"].pop(without, None)
        return _sync(ctx, doc, host, home, keep, force)


def _files(host: str | None) -> Path:
    """cilo's files about one engine's router: its lock, what it was last given."""
    from .. import paths

    return paths.cilo_home() / "router" / "engines" / (host or "unknown")


def _applied(host: str | None) -> Path:
    """What cilo last gave the router: its container id, then its Caddyfile."""
    return _files(host) / "applied"


def _sync(ctx: Context, doc: dict[str, Any], host: str | None, home: str, keep: bool, force: bool
          ) -> ContainerInfo | None:
    from ..errors import NotFound
    from ..fsutil import atomic_write

    reach = reach_of(ctx)
    found = routes.routes(doc, settings.current().dns_suffix, host) if reach.mode == "router" else []
    existing = find(ctx, home)
    if not found and not (keep and reach.mode == "router"):
        if existing:
            ctx.engine.remove_containers([existing.id])
        return None
    envs = routes.zone.environments(doc, host)
    aliases: dict[str, set[str]] = {}
    for r in found:
        aliases.setdefault(envs[r.key]["network"], set()).update(n for n in r.names if not n.startswith("*"))
    networks = sorted(aliases)
    config = routes.caddyfile(found)
    if existing and existing.state != "running":
        ctx.engine.remove_containers([existing.id])
        existing = None
    if existing is None:
        ctx.engine.start_router(spec(home, reach, settings.current().router_image), config, networks,
                                {n: tuple(sorted(a)) for n, a in aliases.items()})
        started = find(ctx, home)
        if started:
            atomic_write(_applied(host), f"{started.id}\n{config}")
        return started
    joined = set(existing.addresses)
    for net in networks:
        if net not in joined:
            try:
                ctx.engine.connect_network(net, existing.name, tuple(sorted(aliases[net])))
            except NotFound:  # the copy's network went meanwhile: its routes go with the next change
                pass
    stale = sorted(n for n in joined - set(networks) if n.startswith(COPY_NETWORK_PREFIX))
    if force or not _is_applied(host, existing.id, config):
        ctx.engine.reload_router(existing.name, CONFIG_PATH, config)
        atomic_write(_applied(host), f"{existing.id}\n{config}")
    for net in stale:
        ctx.engine.disconnect_network(net, existing.name)
    return existing


def _is_applied(host: str | None, router_id: str, config: str) -> bool:
    try:
        return _applied(host).read_text() == f"{router_id}\n{config}"
    except OSError:
        return False


def ensure_ca(ctx: Context, home: str) -> str:
    """Router mode, before a copy's containers start: the router runs and its CA
    certificate is in the CA volume that copies mount (CA_DIR). The certificate (PEM)."""
    from . import ca

    existing = find(ctx, home)
    cached = ca.ca_file(engine_name(ctx))
    if existing and existing.state == "running" and cached.is_file():
        return cached.read_text()
    for attempt in (1, 2):
        router = sync(ctx, home, keep=True)
        if router is None:
            raise EngineError(f"cilo's router for home {home} did not start")
        pem = _wait_for_ca(ctx, router.name)
        try:
            ctx.engine.write_file(router.name, f"{CA_DIR}/{CA_FILE}", pem)
            break
        except EngineError:
            if attempt == 2:
                raise
            # a router made before its CA volume existed (an older cilo): made again, on
            # the same data volume when it had one
            ctx.engine.remove_containers([router.id])
    ca.save(pem, engine_name(ctx))
    return pem


def _wait_for_ca(ctx: Context, name: str) -> str:
    """The router's CA certificate, once it has made it (a new router takes about a second)."""
    import time

    from ..errors import NotFound

    deadline = time.monotonic() + CA_WAIT
    while True:
        try:
            return ctx.engine.read_file(name, CA_PATH)
        except NotFound:
            if time.monotonic() > deadline:
                raise EngineError(f"cilo's router {name} made no CA in {CA_WAIT:.0f} s; see "
                                  f"docker logs {name}") from None
            time.sleep(0.1)


def leave(ctx: Context, record: dict[str, Any], home: str | None) -> None:
    """Before a copy's networks are removed: the copy is recorded as not running, so no
    later router change routes to it or joins its network, then its routes go and the
    router leaves its network (decided under the router's lock, whatever another
    command just did)."""
    existing = find(ctx, home) if home else None  # the engine answers before state changes
    from ..model import record_key
    from ..state import store

    key = record_key(record)
    if record.get("status") == "running":
        from ..binding import ctx_host

        with store.mutate() as st:
            envs = st.environments(ctx_host(ctx))
            if key in envs:
                envs[key]["status"] = "stopped"
    if existing is not None:
        sync(ctx, home, without=key)


def engine_name(ctx: Context) -> str:
    """The short name of the command's engine (`local` for one state does not know yet)."""
    from ..binding import current_host
    from ..state import store
    from ..state.document import host_name

    host = current_host(ctx)
    return host_name(store.read_state().doc, host) if host else "local"


def running(ctx: Context, home: str) -> ContainerInfo | None:
    """This home's router when it runs."""
    found = find(ctx, home)
    return found if found and found.state == "running" else None


def find(ctx: Context, home: str) -> ContainerInfo | None:
    found = ctx.engine.containers({LABEL_ROUTER: "true", LABEL_HOME: home})
    return found[0] if found else None
