"""The environment record: how it is made, what compose targets it names, and how the
engine's containers are written back into it. Every write goes through the state lock.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import ownership, paths, workspace
from .binding import ctx_host
from .dns import labels
from .engine.api import ContainerInfo
from .errors import CiloError
from .model import LABEL_HTTP_PORT, namespace_root, record_key
from .names import compose_project_name
from .project import ComposeTarget, ProjectModel
from .queries import Context, Record, selector
from .state import store
from .state.document import LOCAL_HOST


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def in_workspace(path: str, record: Record) -> str:
    if not record["copy"]:
        return path
    try:
        rel = Path(path).relative_to(record["project_dir"])
    except ValueError:
        return path  # a file outside the project folder is used where it is
    return str(Path(record["workspace"]) / rel)


def shared_layer_path(record: Record) -> Path:
    """With --copy: cilo's layer that keeps paths outside the project folder where they are."""
    return Path(record["override"]).with_name(workspace.LAYER_NAME)


def _layers(record: Record) -> tuple[str, ...]:
    layer = shared_layer_path(record)
    return (str(layer),) if record["copy"] and layer.is_file() else ()


def user_target(record: Record) -> ComposeTarget:
    """The project as the user wrote it (in the workspace copy with --copy), named as theirs."""
    dotenv_dir = record.get("dotenv_dir")
    return ComposeTarget(
        files=(*(in_workspace(f, record) for f in record["compose_files"]), *_layers(record)),
        project_dir=record["workspace"],
        env_files=tuple(in_workspace(f, record) for f in record["env_files"]),
        profiles=tuple(record["profiles"]),
        project_name=record["project"],
        dotenv_dir=in_workspace(dotenv_dir, record) if dotenv_dir else None,
    )


def env_target(record: Record) -> ComposeTarget:
    """The copy: the user's files, then the generated override, under its own project name."""
    base = user_target(record)
    return base._replace(
        files=(*base.files, record["override"]), project_name=record["compose_project"]
    )


def env_folder(record: Record) -> Path:
    """The environment's own folder under the cilo home (its override, its --copy
    workspace): ENV, or ENV@HOST, in the project's folder; the record's override says
    which, and only a folder of that shape is believed (state is a file anyone can edit)."""
    default = paths.env_dir(record["project"], record["name"])
    recorded = Path(record["override"]).parent
    if recorded.parent == default.parent and recorded.name.partition("@")[0] == record["name"]:
        return recorded
    return default


def run_layer_path(record: Record) -> Path:
    """Where the layer for compose's `run` of the copy is (next to the override)."""
    return Path(record["override"]).with_name("run.yml")


def new_record(target: ComposeTarget, project: str, env: str, subnet: str, copy: bool,
               folder: str | None = None) -> Record:
    """A new environment's record; its files in `folder` under the project's (default: ENV;
    ENV@HOST when another engine has a PROJECT/ENV too)."""
    edir = paths.env_dir(project, folder or env)
    stamp = now()
    record: Record = {
        "name": env,
        "project": project,
        "compose_project": compose_project_name(project, env),
        "status": "created",
        "subnet": subnet,
        "network": compose_project_name(project, env),
        "project_dir": target.project_dir,
        "compose_files": list(target.files),
        "env_files": list(target.env_files),
        "profiles": list(target.profiles),
        "workspace": str(edir / "workspace") if copy else target.project_dir,
        "copy": copy,
        "override": str(edir / "override.yml"),
        "created_at": stamp,
        "updated_at": stamp,
        "services": {},
        "networks": {},
    }
    if target.dotenv_dir:  # optional: records without it read only the project folder's .env
        record["dotenv_dir"] = target.dotenv_dir
    return record


def service_records(model: ProjectModel, addresses: dict[str, str], old: Record) -> Record:
    out: Record = {}
    ingress_flags: dict[str, bool] = {}
    for name, svc in model.services.items():
        explicit, hostnames = labels.parse_service_labels(name, svc.labels)
        ingress_flags[name] = explicit
        prev = old.get(name, {})
        out[name] = {
            "ip": addresses.get(name),
            "container": prev.get("container"),
            "status": prev.get("status", "not created"),
            "ingress": False,
            "hostnames": hostnames,
            "replicas": prev.get("replicas", []),
            "http_port": labels.parse_http_port(name, svc.labels.get(LABEL_HTTP_PORT),
                                                [p for p, _ in svc.ports], svc.expose),
        }
        if (root := namespace_root(model, name)) != name:
            out[name]["shares"] = root  # network_mode: service: (or container:) of a service
    ingress = labels.pick_ingress(ingress_flags)
    if ingress:
        out[ingress]["ingress"] = True
    return out


def _published(c: ContainerInfo, engine_host: str) -> list[dict[str, object]]:
    return [{"target": p.target, "protocol": p.protocol, "port": p.port,
             "host": p.connect_host(engine_host)} for p in c.ports]


def _set_published(entry: Record, ports: list[dict[str, object]]) -> None:
    if ports:
        entry["published"] = ports
    else:
        entry.pop("published", None)


def apply_containers(record: Record, containers: list[ContainerInfo], engine_host: str = "127.0.0.1") -> None:
    """Record the real containers, their addresses on the environment network and the
    ports the engine publishes of them (one bound to every address is reached at
    `engine_host`).

    A service with `network_mode: service:X` (recorded as `shares: X`) lives in X's
    network namespace, so it answers on X's address.
    """
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        by_service.setdefault(c.service, []).append(c)
    services = record["services"]
    networks = env_networks(record)
    for name, svc in services.items():
        found = by_service.get(name, [])
        svc["replicas"] = [
            {"container": c.name, "ip": _address(c, networks), "status": c.state} for c in found
        ]
        for replica, c in zip(svc["replicas"], found, strict=True):
            _set_published(replica, _published(c, engine_host))
        _set_published(svc, _published(found[0], engine_host) if found else [])
        svc["container"] = found[0].name if found else None
        states = {c.state for c in found}
        svc["status"] = "not created" if not found else states.pop() if len(states) == 1 else "mixed"
        if found and (ip := _address(found[0], networks)):
            svc["ip"] = ip
    for name, svc in services.items():
        parent = svc.get("shares")
        if parent in services:
            services[name]["ip"] = services[parent]["ip"]
            for replica in services[name]["replicas"]:
                replica["ip"] = services[parent]["ip"]


def _address(c: ContainerInfo, networks: list[str]) -> str | None:
    """A container's address on the environment's own network, else on its first other."""
    return next((c.addresses[n] for n in networks if c.addresses.get(n)), None)


def env_networks(record: Record) -> list[str]:
    """The environment's networks: its own first, then the others cilo made for it."""
    return [record["network"], *(n["name"] for _, n in sorted(record["networks"].items()))]


def container_address(c: ContainerInfo, record: Record) -> str | None:
    """Where a container of the environment answers (its own network's address first)."""
    return _address(c, env_networks(record))


def is_native(ctx: Context) -> bool:
    """Is the command's engine this machine's own (a local socket, not Docker Desktop's
    VM)? Its networks are then this host's routes. From state when it knows the host."""
    entry = store.read_state().host(ctx.host) if ctx.host else None
    if entry is not None and "local" in entry:
        return bool(entry["local"])
    from . import hosts

    return (hosts.is_local_endpoint(hosts.here(ctx.engine.opts).endpoint)
            and "docker desktop" not in ctx.info().operating_system.lower())


def host_routes(ctx: Context) -> list[Any]:
    """This machine's routes where they matter for the engine's subnets: a local engine's."""
    return ctx.routes() if is_native(ctx) else []


def register_host(ctx: Context, doc: dict[str, Any]) -> str:
    """Inside the state lock: the command's engine's host entry, made or updated, and the
    command bound to it (the engine's ID is asked before the lock, once)."""
    import copy

    from . import hosts

    engine_id = ctx.info().id
    ctx.hosts_before = {k: copy.deepcopy(doc["hosts"][k]) for k in (engine_id, LOCAL_HOST) if k in doc["hosts"]}
    ctx.host = hosts.register(doc, engine_id, hosts.here(ctx.engine.opts), is_native(ctx))
    return ctx.host


def update_record(host: str, key: str, change: Callable[[Record], None]) -> Record:
    with store.mutate() as st:
        record = st.environments(host).get(key)
        if record is None:
            raise CiloError(f"environment {key} vanished from state while cilo worked on it")
        change(record)
        record["updated_at"] = now()
        return dict(record)


def home_id() -> str:
    """This cilo home's id, made on first use (environments of a state from before home
    ids get it on their next `up`: what they make from then on is labelled)."""
    found = ownership.home_id(store.read_state().doc)
    if found:
        return found
    with store.mutate() as st:
        return ownership.ensure_home_id(st.doc)


def known_home_id() -> str | None:
    """This home's id if it has one (read-only: a home without one made nothing labelled)."""
    return ownership.home_id(store.read_state().doc)


def sync_dns(ctx: Context) -> None:
    """Make what answers names match state: the router (in router mode) and DNS. A router
    or a dnsmasq that cannot run is a warning, never a failure: the copies run."""
    from .binding import current_host
    from .errors import EngineError
    from .reach import router

    doc = store.read_state().doc
    host = current_host(ctx)
    try:
        if host is not None and host in doc["hosts"]:
            wanted = router.recorded(router.reach_of(ctx))
            if doc["hosts"][host].get("reach") != wanted:
                with store.mutate() as st:
                    if host in st.doc["hosts"]:
                        st.doc["hosts"][host]["reach"] = wanted
                    doc = st.doc
            router.sync(ctx, known_home_id())
    except EngineError as e:
        ctx.say(f"warning: cilo's router: {e}; names of copies may not answer until docker cilo doctor --fix")
    result = ctx.dns.sync(doc)
    if not result.served:
        ctx.say(f"warning: {result.message}")


def observe_status(ctx: Context, record: Record, containers: list[ContainerInfo] | None = None) -> Record:
    """Record the containers (read from the engine unless given) and the status they show:
    running when one runs, stopped when all are stopped, created when there are none
    (after a compose command that started, stopped or removed some). Nothing is written
    when nothing changed."""
    if containers is None:
        containers = ctx.engine.containers(selector(record))
    states = {c.state for c in containers}
    status = "running" if "running" in states else "stopped" if states else "created"
    current = store.read_state().environments(ctx_host(ctx)).get(record_key(record), record)
    seen = copy.deepcopy(current)
    apply_containers(seen, containers, _engine_host(ctx, containers))
    if {**seen, "status": status} == current:
        return current
    refreshed = refresh(ctx, record, status, containers=containers)
    sync_dns(ctx)
    return refreshed


def refresh(ctx: Context, record: Record, status: str | None = None, *,
            containers: list[ContainerInfo] | None = None) -> Record:
    """Record the environment's containers (read from the engine unless given), with `status`."""
    found = ctx.engine.containers(selector(record)) if containers is None else containers

    host = _engine_host(ctx, found)

    def change(r: Record) -> None:
        apply_containers(r, found, host)
        if status:
            r["status"] = status

    return update_record(ctx_host(ctx), record_key(record), change)


def live_view(ctx: Context, record: Record) -> Record:
    """The record with the engine's current containers applied (nothing is written)."""
    view = copy.deepcopy(record)
    found = ctx.engine.containers(selector(record))
    apply_containers(view, found, _engine_host(ctx, found))
    return view


def _engine_host(ctx: Context, containers: list[ContainerInfo]) -> str:
    """Where a port published on every address of the engine host is reached (asked of
    the engine only when one is)."""
    if not any(p.on_every_address for c in containers for p in c.ports):
        return "127.0.0.1"
    from .reach import router

    return router.engine_address(ctx)
