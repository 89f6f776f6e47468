"""Which engine a command speaks to: the host entry of its docker options, or of the
environment it acts on (hosts.py has the entries themselves). A command is bound to one
engine at a time (Context.bind); work on another engine's environments gets a Context
of its own (`on_host`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from . import hosts
from .errors import CiloError
from .state import store

if TYPE_CHECKING:
    from .context import Context

PROBE_TIMEOUT = 5.0  # seconds another engine has to answer `list --all`


def current_host(ctx: Context, st: store.State | None = None) -> str | None:
    """The state's key of the host the command's engine is (no engine request): the one
    bound, else the one whose endpoint the docker options name; None when state does not
    know this engine yet (it has no environments here)."""
    if ctx.host is None:
        ctx.host = hosts.by_endpoint((st or store.read_state()).doc, hosts.here(ctx.engine.opts))
    return ctx.host


def ctx_host(ctx: Context) -> str:
    """The host of the environment the command works on (bound when it was found)."""
    host = current_host(ctx)
    if host is None:
        raise CiloError("cilo does not know this engine yet: it has no environments here "
                        "(docker cilo list --all shows every engine's)")
    return host


def use_host(ctx: Context, host: str, doc: Mapping[str, Any], why: str = "") -> None:
    """Bind the command to `host`'s engine; say so when the docker options name another."""
    if host == current_host(ctx):
        return
    entry = doc["hosts"][host]
    now = hosts.here(ctx.engine.opts)
    ctx.bind(ctx.connect(hosts.options_for(entry, ctx.engine.opts)), host)
    ctx.say(f"{why or 'acting'} on engine {hosts.shown(entry)}; the current docker context points at "
            f"{now.context or now.endpoint or 'the default engine'}")


def on_host(ctx: Context, host: str, doc: Mapping[str, Any]) -> Context:
    """The command's Context for work on `host`'s engine (itself when that is its own)."""
    if host == current_host(ctx):
        return ctx
    return ctx.on(ctx.connect(hosts.options_for(doc["hosts"][host], ctx.engine.opts)), host)


def chosen_host(ctx: Context, doc: Mapping[str, Any], name: str | None) -> str | None:
    """The host named by HOST: or --host: a known engine's name (bound now), or a docker
    context or endpoint cilo has not used yet (the engine it names, bound; None: not in
    state yet)."""
    name = name or ctx.host_option
    if name is None:
        return None
    key = hosts.resolve(doc, name)
    if key is not None:
        use_host(ctx, key, doc, "as asked,")
        return key
    from .engine.options import DockerOptions
    from .engine.socketapi import resolve_host

    current = ctx.engine.opts
    if "://" in name:  # an endpoint, as -H names one
        opts = DockerOptions(host=name, config=current.config, log_level=current.log_level)
    elif resolve_host(None, name, current.config) is not None:
        opts = DockerOptions(context=name, config=current.config, log_level=current.log_level)
    else:
        raise hosts.unknown(doc, name)
    here = hosts.here(current)
    if here.endpoint == hosts.here(opts).endpoint:  # the engine the command already speaks to
        ctx.bind(ctx.engine, hosts.by_endpoint(doc, here))
        return ctx.host
    engine = ctx.connect(opts)
    ctx.bind(engine, hosts.by_endpoint(doc, hosts.here(opts)))
    return ctx.host


def probe(ctx: Context, doc: Mapping[str, Any], keys: list[str]) -> dict[str, bool]:
    """Whether each of these hosts' engines answers within PROBE_TIMEOUT, asked at once;
    each one that does not is said (its copies are shown as last recorded)."""
    if not keys:
        return {}
    from concurrent.futures import ThreadPoolExecutor

    def ask(key: str) -> str | None:
        try:
            on_host(ctx, key, doc).engine.ping(PROBE_TIMEOUT)
            return None
        except CiloError as e:
            return str(e)

    with ThreadPoolExecutor(max_workers=min(8, len(keys))) as pool:
        problems = dict(zip(keys, pool.map(ask, keys), strict=True))
    for key, problem in problems.items():
        if problem is not None:
            ctx.say(f"engine {hosts.shown(doc['hosts'][key])} is unreachable ({problem}): its copies are "
                    "shown as last recorded")
    return {key: problem is None for key, problem in problems.items()}
