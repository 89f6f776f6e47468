"""`docker cilo doctor [--fix]`: every check, and the repairs.

The engine is the truth. Checks are gathered here (engine, compose, state, DNS) and from
reconcile.plan() (environments, orphans, subnets); `--fix` applies the planned actions
through the lifecycle code, then re-renders DNS. `doctor` alone changes nothing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import lifecycle, ownership, paths, reconcile, repairs
from .envrecord import refresh
from .errors import CiloError
from .model import record_key
from .network import envnet
from .queries import Context, get_env
from .reconcile import Action, Check, Observed
from .state import store

MIN_COMPOSE = (2, 24, 0)  # `!reset` arrived in 2.24.0 (`include` in 2.20.0)


PROBE_TIMEOUT = 5.0  # seconds an engine has to answer doctor before it counts as unreachable


def _engine_checks(ctx: Context, name: str = "engine", current: bool = True) -> list[Check]:
    """The engine answers (within PROBE_TIMEOUT), compose runs, the reach mode. Another
    engine than the current one that does not answer is a warning: its copies cannot be
    checked, the others can."""
    try:
        version = ctx.engine.ping(PROBE_TIMEOUT)
    except CiloError as e:
        from . import hosts

        where = hosts.here(ctx.engine.opts)
        if current:
            return [Check("engine.reachable", "fail", name, str(e),
                          "start dockerd, or check --context / DOCKER_HOST")]
        return [Check("engine.reachable", "warn", name,
                      f"engine {name} ({where.context or where.endpoint}) is unreachable: {e}; its copies "
                      "were not checked", f"start it, or check its context; docker cilo doctor --host {name} "
                      "checks it alone")]
    out = [Check("engine.reachable", "ok", name, f"Docker engine {version} answers")]
    try:
        compose = ctx.engine.compose_version()
    except CiloError as e:
        return out + [Check("compose.available", "fail", "compose", str(e),
                            "install Docker Compose v2 (./install.sh does)")]
    nums = tuple(int(n) for n in re.findall(r"\d+", compose)[:3])
    if nums < MIN_COMPOSE:
        out.append(Check("compose.available", "fail", "compose",
                         f"docker compose {compose} is older than 2.24.0 (no !reset)",
                         "upgrade Docker Compose v2 (./install.sh installs a current one)"))
    else:
        out.append(Check("compose.available", "ok", "compose", f"docker compose {compose}"))
    try:
        from .reach.router import reach_of

        reach = reach_of(ctx)
        out.append(Check("reach.mode", "ok", "reach", f"reach {reach.mode}: {reach.reason}"))
    except CiloError as e:
        out.append(Check("reach.mode", "warn", "reach", str(e), "check the engine, or set CILO_REACH"))
    return out


def _router_checks(ctx: Context, doc: dict[str, Any]) -> list[Check]:
    """In router mode: the router runs when a copy needs it, on every running copy's
    network, with the Caddyfile state renders; and it does not run when none needs it."""
    from . import settings
    from .binding import current_host
    from .errors import NotFound
    from .reach import router, routes

    home = ownership.home_id(doc)
    if home is None:
        return []
    host = current_host(ctx)
    wanted = routes.routes(doc, settings.current().dns_suffix, host) if router.reach_of(ctx).mode == "router" else []
    found = router.find(ctx, home)
    fix, act = "docker cilo doctor --fix", (Action("router", "router"),)
    if not wanted:
        return [Check("router.needed", "warn", found.name, "cilo's router runs, but no copy needs it", fix, act)
                ] if found else []
    copies = len({r.key for r in wanted})
    if found is None or found.state != "running":
        return [Check("router.running", "fail", "router", f"cilo's router is not running, so the names of "
                      f"{copies} running cop{'y' if copies == 1 else 'ies'} do not answer", fix, act)]
    envs = routes.zone.environments(doc, host)
    missing = sorted({envs[r.key]["network"] for r in wanted} - set(found.addresses))
    try:
        config = ctx.engine.read_file(found.name, router.CONFIG_PATH)
    except NotFound:
        config = ""
    if missing or config != routes.caddyfile(wanted):
        what = f"is not on the networks {', '.join(missing)}" if missing else "serves other routes than state's"
        return [Check("router.in_sync", "fail", found.name, f"cilo's router {what}", fix, act)]
    return [Check("router.in_sync", "ok", found.name, f"cilo's router serves {len(wanted)} routes of "
                  f"{copies} cop{'y' if copies == 1 else 'ies'}")]


def _lock_is_free() -> bool:
    """flock-based: a lock of a dead process is free; only a live holder counts."""
    from filelock import FileLock, Timeout

    if not paths.lock_path().exists():
        return True
    lock = FileLock(str(paths.lock_path()), timeout=0)
    try:
        lock.acquire()
    except Timeout:
        return False
    lock.release()
    return True


def _state_checks() -> tuple[list[Check], dict[str, Any] | None]:
    path = paths.state_path()
    try:
        doc = store.read_state().doc
    except CiloError as e:
        return [Check("state.valid", "fail", str(path), str(e),
                      f"restore {path} from a backup, or move it away to start afresh")], None
    out = [Check("state.valid", "ok", str(path), f"state file valid (version {doc['version']})")]
    problems = store.permission_problems()
    if problems:
        out.append(Check("state.permissions", "warn", str(path), "; ".join(problems),
                         f"chmod 700 {path.parent} && chmod 600 {path}"))
    if _lock_is_free():
        out.append(Check("state.lock", "ok", str(paths.lock_path()), "state lock is free"))
    else:
        out.append(Check("state.lock", "warn", str(paths.lock_path()),
                         "state lock is held by a running cilo command",
                         "wait for it to finish (a lock of a dead process is released at once)"))
    return out, doc


def _dns_checks(ctx: Context, doc: dict[str, Any]) -> list[Check]:
    from .dns import query

    fix = "docker cilo doctor --fix (or: docker cilo dns restart)"
    status = ctx.dns.status(doc)
    out: list[Check] = []
    dns_fix = (Action("dns", "dns"),)
    if status.binary is None:
        return [Check("dns.running", "fail", "dnsmasq", "dnsmasq is not installed",
                      "install dnsmasq (Debian: apt-get install dnsmasq-base)")]
    if status.running:
        out.append(Check("dns.running", "ok", "dnsmasq",
                         f"cilo's dnsmasq runs (pid {status.pid}, 127.0.0.1:{status.port})"))
    else:
        out.append(Check("dns.running", "fail", "dnsmasq",
                         f"cilo's dnsmasq is not running on 127.0.0.1:{status.port}", fix, dns_fix))
    try:
        files = ctx.dns.render_files(doc)
    except CiloError as e:
        return out + [Check("dns.in_sync", "fail", "dnsmasq", str(e), "fix the labels named above")]
    stale = sorted(str(p) for p, text in files.items() if _read(p) != text and not p.name.endswith(".servers"))
    if stale or (status.running and not status.current):
        what = f"{', '.join(stale)} differ from a fresh render of state" if stale else \
            "the running dnsmasq serves an older configuration"
        out.append(Check("dns.in_sync", "fail", "dnsmasq", what, fix, dns_fix))
    else:
        out.append(Check("dns.in_sync", "ok", "dnsmasq", "served configuration equals a fresh render"))
    live = sorted(status.names.items())
    exact = [(n, ips) for n, ips in live if not n.startswith("*.")]
    if exact and status.running:
        name, want = exact[0]
        try:
            got: tuple[str, ...] = tuple(query.query(name, port=status.port, timeout=1.0).addresses)
        except OSError:
            got = ()
        if sorted(got) == sorted(want):
            out.append(Check("dns.answers", "ok", name, f"{name} answers {', '.join(want)}"))
        else:
            out.append(Check("dns.answers", "fail", name,
                             f"{name} answers {', '.join(got) or 'nothing'}, expected {', '.join(want)}",
                             fix, dns_fix))
    route = status.system_route
    if route.get("routed"):
        out.append(Check("dns.system_route", "ok", "system", route.get("detail", "")))
    else:
        out.append(Check("dns.system_route", "warn", "system",
                         f"the system does not send *.{status.suffix} to cilo ({route.get('detail', '')})",
                         "docker cilo init"))
    return out


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def observe(ctx: Context, doc: dict[str, Any]) -> Observed:
    """What the engine holds of cilo's, against the environments `doc` gives it."""
    from .envrecord import host_routes

    cilo = {"cilo": "true"}
    records = [r for h in doc["hosts"].values() for r in h["environments"].values()]
    return Observed(
        containers=ctx.engine.containers(cilo),
        networks=ctx.engine.networks(cilo),
        volumes=ctx.engine.volumes(cilo),
        missing_workspaces=frozenset(
            record_key(r) for r in records if reconcile.workspace_missing(r)),
        overlaps=envnet.drift(records, envnet.engine_taken(ctx.engine, host_routes(ctx))),
    )


def engines(ctx: Context, doc: dict[str, Any], only: str | None = None) -> list[tuple[str, Context, bool]]:
    """(short name, Context, is-current) of every engine doctor checks: each host state
    knows and the current engine (only --host's engine with `only`)."""
    from . import hosts
    from .binding import current_host, on_host

    here = current_host(ctx)
    if only is not None:
        key = hosts.resolve(doc, only)
        if key is None:
            raise hosts.unknown(doc, only)
        return [(doc["hosts"][key].get("name", key), on_host(ctx, key, doc), key == here)]
    out = [] if here in doc["hosts"] else [("engine", ctx, True)]
    for key, entry in sorted(doc["hosts"].items(), key=lambda kv: (kv[0] != here, kv[1].get("name", kv[0]))):
        out.append((entry.get("name", key), on_host(ctx, key, doc), key == here))
    return out


def _one_host(doc: dict[str, Any], host: str | None) -> dict[str, Any]:
    """The state document as one engine's checks see it: only that host's environments."""
    return {**doc, "hosts": {k: v for k, v in doc["hosts"].items() if k == host}}


def _host_checks(ctx: Context, doc: dict[str, Any], name: str, current: bool, adopt_foreign: bool
                 ) -> list[Check]:
    from dataclasses import replace

    from .binding import current_host

    checks = _engine_checks(ctx, name, current)
    if all(c.status == "ok" for c in checks if c.id == "engine.reachable"):
        mine = _one_host(doc, current_host(ctx))
        checks += reconcile.plan(mine, observe(ctx, mine), adopt_foreign)
        checks += _router_checks(ctx, doc)
    return [replace(c, host=name) for c in checks]


def run_checks(ctx: Context, adopt_foreign: bool = False, only: str | None = None) -> list[Check]:
    """Every check: the state, each engine's (its copies, orphans, router; one that does
    not answer is one warning), DNS."""
    state_checks, doc = _state_checks()
    if doc is None:
        return _engine_checks(ctx) + state_checks
    checks = []
    for name, hctx, current in engines(ctx, doc, only):
        checks += _host_checks(hctx, doc, name, current, adopt_foreign)
    return checks + state_checks + _dns_checks(ctx, doc)


def fix(ctx: Context, checks: list[Check], confirm: Callable[[str], bool], only: str | None = None
        ) -> list[str]:
    """Apply every planned action once, in a safe order, each through its engine; return
    what was done."""
    doc = store.read_state().doc
    contexts = {name: hctx for name, hctx, _ in engines(ctx, doc, only)}
    actions: list[tuple[Context, Action]] = []
    for c in checks:
        for a in c.actions:
            item = (contexts.get(c.host, ctx), a)
            if item not in actions:
                actions.append(item)
    return _fix(ctx, actions, confirm)


def _fix(ctx: Context, actions: list[tuple[Context, Action]], confirm: Callable[[str], bool]) -> list[str]:
    order = ["adopt", "network", "up", "stop", "record", "remove_container", "remove_network",
             "remove_volume", "router", "dns"]
    done: list[str] = []
    removals = [a for _, a in actions if a.destructive]
    if removals and not confirm(
        "remove " + ", ".join(f"{a.kind.removeprefix('remove_')} {a.subject[:12]}" for a in removals)
    ):
        actions = [(c, a) for c, a in actions if not a.destructive]
        done.append("skipped removals (not confirmed)")
    for kind in order:
        for on, a in ((c, a) for c, a in actions if a.kind == kind):
            try:
                done.append(_apply(on, a))
            except CiloError as e:  # one repair that cannot be made does not stop the others
                done.append(f"could not {kind.replace('_', ' ')} {a.subject[:40]}: {e}")
    if actions and not any(a.kind == "dns" for _, a in actions):
        done.append(_apply(ctx, Action("dns", "dns")))  # any repair can change the names
    return done


def _apply(ctx: Context, a: Action) -> str:
    if a.kind == "adopt":
        assert a.adoption is not None
        repairs.adopt(ctx, a.adoption)
        return f"adopted {a.subject} back into state"
    if a.kind == "network":
        repairs.repair_network(ctx, a.subject)
        return f"recreated the network of {a.subject}"
    if a.kind == "up":
        lifecycle.up(ctx, a.subject)
        return f"started {a.subject} again"
    if a.kind == "stop":
        lifecycle.stop(ctx, a.subject)
        return f"stopped {a.subject}"
    if a.kind == "record":
        refresh(ctx, get_env(ctx, a.subject))
        return f"recorded the real addresses of {a.subject}"
    if a.kind == "remove_container":
        ctx.engine.remove_containers([a.subject])
        return f"removed container {a.subject[:12]}"
    if a.kind == "remove_network":
        ctx.engine.remove_networks([a.subject])
        return f"removed network {a.subject}"
    if a.kind == "remove_volume":
        ctx.engine.remove_volumes([a.subject])
        return f"removed volume {a.subject}"
    if a.kind == "router":
        from .reach import router

        router.sync(ctx, ownership.home_id(store.read_state().doc), force=True)
        return "made cilo's router match state (its routes and networks)"
    result = ctx.dns.restart()
    return "re-rendered DNS and restarted dnsmasq" + ("" if result.served else f" ({result.message})")


def report(checks: list[Check]) -> str:
    groups: dict[str, list[Check]] = {}
    for c in checks:  # per engine: "env (remote):"
        groups.setdefault(f"{c.id.split('.')[0]}{f' ({c.host})' if c.host else ''}", []).append(c)
    mark = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    lines: list[str] = []
    for group, items in groups.items():
        lines.append(f"{group}:")
        for c in items:
            lines.append(f"  {mark[c.status]} {c.id:<18} {c.message}")
            if c.status != "ok" and c.fix:
                lines.append(f"       fix: {c.fix}")
    failed = sum(c.status == "fail" for c in checks)
    warned = sum(c.status == "warn" for c in checks)
    lines.append(f"\n{failed} failed, {warned} warnings, {len(checks) - failed - warned} ok")
    return "\n".join(lines)


def as_json(checks: list[Check]) -> dict[str, Any]:
    return {"ok": not any(c.status == "fail" for c in checks),
            "checks": [c.as_json() for c in checks]}

