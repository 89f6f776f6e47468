"""The records cilo works with: the user's compose project, the environment record, labels.

The environment record (`EnvRecord`, `ServiceRecord`) is the JSON of the state file,
typed: the schema (schemas/state.vN.schema.json) checks its values, these TypedDicts tell
the code and mypy its shape. `EnvKey` ("project/env") and the label vocabulary live here
and only here.

The project model is a small typed view of the user's compose project.

Built from `docker compose config --format json` (so extends, include, profiles, anchors
and interpolation are compose's own work), it keeps what decides whether two copies of
the project would collide or share something: names, addresses, networks and their
flags, mounts, host namespaces, references to containers by name, proxy labels.

compose's config output writes every network and volume with its final `name:`; an
explicit `name: shop_dbdata` in project `shop` looks exactly like the default, so the
model does not try to tell them apart: every name is reset in a copy.
"""

from __future__ import annotations

import re
from typing import Any, Literal, NamedTuple, NewType, NotRequired, TypedDict

from .errors import CiloError

# --- labels: what cilo writes on every container, network and volume it creates --------
LABEL_MARK = "cilo"  # "true"
LABEL_PROJECT = "cilo.project"
LABEL_ENV = "cilo.environment"
LABEL_SERVICE = "cilo.service"
LABEL_HOME = "cilo.home"  # the id of the cilo home that made it
LABEL_NETWORK = "cilo.network"  # the compose key of a network cilo created
LABEL_PROJECT_DIR = "cilo.project_dir"  # what doctor needs to re-adopt an environment
LABEL_PROFILES = "cilo.profiles"
LABEL_ENV_FILES = "cilo.env_files"
LABEL_DOTENV_DIR = "cilo.dotenv_dir"
# ...and the ones users write on their services
LABEL_INGRESS = "cilo.ingress"
LABEL_HOSTNAMES = "cilo.hostnames"
LABEL_HTTP_PORT = "cilo.http_port"  # the port the router sends a service's HTTP to
LABEL_ROUTER = "cilo.router"  # "true" on cilo's router container (never on a copy's)
# compose's own, read when re-adopting an environment
COMPOSE_SERVICE_LABEL = "com.docker.compose.service"
COMPOSE_PROJECT_LABEL = "com.docker.compose.project"
COMPOSE_NETWORK_LABEL = "com.docker.compose.network"
COMPOSE_WORKDIR_LABEL = "com.docker.compose.project.working_dir"
COMPOSE_FILES_LABEL = "com.docker.compose.project.config_files"
COMPOSE_NUMBER_LABEL = "com.docker.compose.container-number"
COMPOSE_ONEOFF_LABEL = "com.docker.compose.oneoff"

# --- the environment record -------------------------------------------------------------
EnvKey = NewType("EnvKey", str)  # "project/env", the key of an environment in state
EnvStatus = Literal["creating", "created", "running", "stopped", "error"]


def env_key(project: str, env: str) -> EnvKey:
    return EnvKey(f"{project}/{env}")


def record_key(record: EnvRecord | dict[str, Any]) -> EnvKey:
    return env_key(record["project"], record["name"])


def env_labels(project: str, env: str) -> dict[str, str]:
    """The labels that select one environment's engine objects."""
    return {LABEL_PROJECT: project, LABEL_ENV: env}


def cilo_labels(project: str, env: str, service: str | None = None,
                home: str | None = None) -> dict[str, str]:
    """The labels on every engine object cilo creates for an environment."""
    out = {LABEL_MARK: "true", **env_labels(project, env)}
    if home:
        out[LABEL_HOME] = home
    if service is not None:
        out[LABEL_SERVICE] = service
    return out


class ReplicaRecord(TypedDict):
    container: str
    ip: str | None
    status: str


class ServiceRecord(TypedDict):
    ip: str | None
    container: str | None
    status: str
    ingress: bool
    hostnames: list[str]
    replicas: list[ReplicaRecord]
    shares: NotRequired[str]  # network_mode: service:<shares>
    http_port: NotRequired[int]  # where the router sends its HTTP (state v4)


class EnvRecord(TypedDict):
    name: str
    project: str
    compose_project: str
    status: EnvStatus
    subnet: str
    network: str
    project_dir: str
    compose_files: list[str]
    env_files: list[str]
    profiles: list[str]
    workspace: str
    copy: bool
    override: str
    created_at: str
    updated_at: str
    services: dict[str, ServiceRecord]
    networks: dict[str, dict[str, str]]  # compose key -> {name, subnet}
    dotenv_dir: NotRequired[str]
    foreign_home: NotRequired[str]

# host namespaces and references: `host`, `none`, `service:NAME`, `container:NAME`
CONTAINER_REF = "container:"
SERVICE_REF = "service:"
PARENT_DRIVERS = ("macvlan", "ipvlan")  # their `parent` interface takes one network each


class Mount(NamedTuple):
    """A service's mount (compose writes the long syntax; relative paths made absolute)."""

    type: str  # bind, volume, tmpfs, npipe, cluster, image
    source: str | None
    target: str
    read_only: bool


class ServiceModel(NamedTuple):
    name: str
    network_mode: str | None
    networks: dict[str, dict[str, Any] | None]  # key -> compose's per-network settings
    replicated: bool
    has_ports: bool
    has_container_name: bool
    labels: dict[str, str]
    container_name: str | None = None
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    volumes_from: tuple[str, ...] = ()
    mounts: tuple[Mount, ...] = ()
    devices: tuple[str, ...] = ()
    environment: dict[str, str | None] = {}
    external_links: tuple[str, ...] = ()
    ports: tuple[tuple[int, str], ...] = ()  # (container port, protocol) of each `ports:` entry
    expose: tuple[int, ...] = ()  # the container ports of `expose:` (a range: its first)


class NetworkModel(NamedTuple):
    """A top-level network with the settings a copy must keep (or must not keep)."""

    key: str
    name: str
    external: bool
    driver: str | None = None
    driver_opts: dict[str, str] = {}
    internal: bool = False
    attachable: bool = False
    enable_ipv6: bool = False
    ipam_driver: str | None = None
    ipam_options: dict[str, str] = {}
    ipam_config: tuple[dict[str, Any], ...] = ()
    labels: dict[str, str] = {}


class VolumeModel(NamedTuple):
    key: str
    name: str
    external: bool
    driver: str | None = None
    driver_opts: dict[str, str] = {}


# The top-level kinds share these fields; old callers call them resources.
ResourceModel = NetworkModel


class ProjectModel(NamedTuple):
    name: str
    services: dict[str, ServiceModel]
    networks: dict[str, NetworkModel]
    volumes: dict[str, VolumeModel]


def _mapping(value: Any, sep: str = "=") -> dict[str, Any]:
    """compose's `KEY=VALUE` lists and mappings, as a mapping."""
    if isinstance(value, list):
        out: dict[str, Any] = {}
        for item in value:
            key, has_value, val = str(item).partition(sep)
            out[key] = val if has_value else None
        return out
    return dict(value or {})


def _strings(value: Any) -> dict[str, str]:
    return {str(k): "" if v is None else str(v) for k, v in _mapping(value).items()}


def _replicated(svc: dict[str, Any]) -> bool:
    replicas = (svc.get("deploy") or {}).get("replicas")
    scale = svc.get("scale")
    return any(isinstance(n, int) and n > 1 for n in (replicas, scale))


def _mounts(svc: dict[str, Any]) -> tuple[Mount, ...]:
    out = []
    for m in svc.get("volumes") or []:
        if isinstance(m, str):  # compose always writes the long form; be lenient anyway
            source, _, rest = m.partition(":")
            target, _, mode = rest.partition(":")
            kind = "bind" if source.startswith(("/", ".", "~")) else "volume"
            out.append(Mount(kind, source or None, target or source, "ro" in mode.split(",")))
            continue
        out.append(Mount(str(m.get("type") or "volume"), m.get("source"), str(m.get("target")),
                         bool(m.get("read_only"))))
    return tuple(out)


def _devices(svc: dict[str, Any]) -> tuple[str, ...]:
    found = []
    for d in svc.get("devices") or []:
        found.append(d if isinstance(d, str) else str(d.get("source") or d))
    return tuple(found)


def _service(name: str, svc: dict[str, Any]) -> ServiceModel:
    networks = svc.get("networks") or {}
    if isinstance(networks, list):
        networks = {n: None for n in networks}
    network_mode = svc.get("network_mode")
    if network_mode is None and not networks:
        networks = {"default": None}
    return ServiceModel(
        name=name,
        network_mode=network_mode,
        networks=dict(networks),
        replicated=_replicated(svc),
        has_ports=bool(svc.get("ports")),
        has_container_name=bool(svc.get("container_name")),
        labels=_strings(svc.get("labels")),
        container_name=svc.get("container_name") or None,
        ipc=svc.get("ipc"),
        pid=svc.get("pid"),
        uts=svc.get("uts"),
        volumes_from=tuple(str(v) for v in svc.get("volumes_from") or []),
        mounts=_mounts(svc),
        devices=_devices(svc),
        environment=_mapping(svc.get("environment")),
        external_links=tuple(str(v) for v in svc.get("external_links") or []),
        ports=_ports(svc.get("ports")),
        expose=tuple(int(m.group()) for e in svc.get("expose") or () if (m := re.match(r"[0-9]{1,5}", str(e)))),
    )


def _ports(ports: Any) -> tuple[tuple[int, str], ...]:
    """compose config's long-syntax `ports:` entries as (container port, protocol)."""
    out = []
    for p in ports or ():
        if isinstance(p, dict) and str(p.get("target", "")).isdigit():
            out.append((int(p["target"]), str(p.get("protocol") or "tcp")))
    return tuple(out)


def _external(res: dict[str, Any]) -> bool:
    ext = res.get("external")
    return bool(ext.get("name") is not None or ext) if isinstance(ext, dict) else bool(ext)


def _default_name(project: str, key: str, res: dict[str, Any]) -> str:
    ext = res.get("external")
    if isinstance(ext, dict) and ext.get("name"):  # the old `external: {name: x}` form
        return str(ext["name"])
    return str(res.get("name") or (key if _external(res) else f"{project}_{key}"))


def _network(project: str, key: str, res: dict[str, Any] | None) -> NetworkModel:
    res = res or {}
    ipam = res.get("ipam") or {}
    return NetworkModel(
        key=key,
        name=_default_name(project, key, res),
        external=_external(res),
        driver=res.get("driver") or None,
        driver_opts=_strings(res.get("driver_opts")),
        internal=bool(res.get("internal")),
        attachable=bool(res.get("attachable")),
        enable_ipv6=bool(res.get("enable_ipv6")),
        ipam_driver=ipam.get("driver") or None,
        ipam_options=_strings(ipam.get("options")),
        ipam_config=tuple(dict(c) for c in ipam.get("config") or []),
        labels=_strings(res.get("labels")),
    )


def _volume(project: str, key: str, res: dict[str, Any] | None) -> VolumeModel:
    res = res or {}
    return VolumeModel(
        key=key,
        name=_default_name(project, key, res),
        external=_external(res),
        driver=res.get("driver") or None,
        driver_opts=_strings(res.get("driver_opts")),
    )


def model_from_config(config: dict[str, Any]) -> ProjectModel:
    """Turn `docker compose config --format json` output into our small model."""
    name = config.get("name")
    if not name:
        raise CiloError("docker compose config returned no project name; is compose v2 installed?")
    services = {n: _service(n, s or {}) for n, s in sorted((config.get("services") or {}).items())}
    networks = {k: _network(name, k, v) for k, v in sorted((config.get("networks") or {}).items())}
    volumes = {k: _volume(name, k, v) for k, v in sorted((config.get("volumes") or {}).items())}
    return ProjectModel(name=name, services=services, networks=networks, volumes=volumes)


def container_names(model: ProjectModel) -> dict[str, str]:
    """Every name a container of the user's stack answers to -> its service.

    The fixed `container_name`s, and compose's own default names (`<project>-<svc>-1`,
    and v1's `<project>_<svc>_1`), which real configs also write into `container:`.
    """
    out: dict[str, str] = {}
    for svc in model.services.values():
        out[f"{model.name}-{svc.name}-1"] = svc.name
        out[f"{model.name}_{svc.name}_1"] = svc.name
    for svc in model.services.values():
        if svc.container_name:
            out[svc.container_name] = svc.name
    return out


def namespace_parent(model: ProjectModel, svc: ServiceModel) -> str | None:
    """The service whose network namespace `svc` joins (`service:X` or `container:` of X)."""
    mode = svc.network_mode or ""
    if mode.startswith(SERVICE_REF):
        return mode.removeprefix(SERVICE_REF)
    if mode.startswith(CONTAINER_REF):
        return container_names(model).get(mode.removeprefix(CONTAINER_REF))
    return None


def namespace_root(model: ProjectModel, name: str) -> str:
    """Follow a chain of `network_mode: service:` (a -> b -> c) to the service with networks."""
    seen = {name}
    while (svc := model.services.get(name)) is not None:
        parent = namespace_parent(model, svc)
        if parent is None or parent in seen or parent not in model.services:
            return name
        seen.add(parent)
        name = parent
    return name
