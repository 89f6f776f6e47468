"""The one engine interface: exactly what cilo asks of Docker and compose, and the
project's own small types it answers with.

Two implementations (socketengine.SocketEngine, whalesengine.WhalesEngine) and the
tests' fake satisfy it; `client.connect()` picks one. Failures are typed (errors.py):
EngineUnreachable, NotFound, Conflict and SubnetConflict are all EngineErrors, so a
caller catches only what it can act on and lets the rest reach the CLI's boundary.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from ..model import COMPOSE_SERVICE_LABEL, LABEL_SERVICE

if TYPE_CHECKING:
    from ..project import ComposeTarget
    from .options import DockerOptions


class PublishedPort(NamedTuple):
    """A container port the engine publishes on its host."""

    target: int  # the container's port
    protocol: str  # tcp, udp or sctp
    host: str  # the host address it is bound to ("0.0.0.0": every address)
    port: int  # the host port

    @property
    def on_every_address(self) -> bool:
        return self.host in ("0.0.0.0", "")

    def connect_host(self, engine_host: str) -> str:
        """Where to connect to it: its own address, or the engine host's when it is bound
        to every address."""
        return engine_host if self.on_every_address else self.host


def published_ports(bindings: Any) -> tuple[PublishedPort, ...]:
    """From the engine's `NetworkSettings.Ports` ({"5432/tcp": [{"HostIp", "HostPort"}]}),
    one entry per container port and protocol (IPv4 first: a wildcard binding is listed
    for 0.0.0.0 and ::)."""
    out: dict[tuple[int, str], PublishedPort] = {}
    for key, binds in sorted((bindings or {}).items()):
        target, _, protocol = str(key).partition("/")
        for b in binds or ():
            host, port = str(b.get("HostIp") or "0.0.0.0"), str(b.get("HostPort") or "")
            if target.isdigit() and port.isdigit() and (int(target), protocol or "tcp") not in out:
                out[(int(target), protocol or "tcp")] = PublishedPort(
                    int(target), protocol or "tcp", "0.0.0.0" if host == "::" else host, int(port))
    return tuple(out.values())


class ContainerInfo(NamedTuple):
    id: str
    name: str
    service: str
    state: str  # running, exited, created, restarting, paused, dead
    addresses: dict[str, str]  # network name -> IPv4 address
    labels: dict[str, str]
    image: str = ""
    ports: tuple[PublishedPort, ...] = ()  # what the engine publishes of it on its host


def service_of(labels: dict[str, str]) -> str:
    """The compose service a container runs (cilo's own label for containers it made)."""
    return labels.get(COMPOSE_SERVICE_LABEL, labels.get(LABEL_SERVICE, ""))


class NetworkInfo(NamedTuple):
    id: str
    name: str
    subnets: tuple[str, ...]
    labels: dict[str, str]


class NetworkSpec(NamedTuple):
    """A network cilo creates: its own subnet, the user's driver, flags and options."""

    name: str
    subnet: str
    gateway: str
    ip_range: str
    labels: dict[str, str]
    driver: str = "bridge"
    options: dict[str, str] = {}
    internal: bool = False
    attachable: bool = False
    ipv6_subnet: str | None = None
    ipam_driver: str = "default"
    ipam_options: dict[str, str] = {}


class VolumeInfo(NamedTuple):
    name: str
    labels: dict[str, str]


class EngineInfo(NamedTuple):
    """What the engine says of itself (`/info`)."""

    id: str
    operating_system: str  # "Docker Desktop" on Docker Desktop
    name: str = ""

    @classmethod
    def of(cls, raw: dict[str, Any]) -> EngineInfo:
        """From the engine's `/info` answer (or `docker info --format '{{json .}}'`)."""
        return cls(str(raw.get("ID", "")), str(raw.get("OperatingSystem", "")), str(raw.get("Name", "")))


class RouterSpec(NamedTuple):
    """cilo's router container: Caddy publishing HTTP and HTTPS on the engine's host."""

    name: str
    image: str
    labels: dict[str, str]
    ports: tuple[str, ...]  # docker's -p form: ADDRESS:HOST_PORT:CONTAINER_PORT
    config_path: str  # where its Caddyfile lives in the container
    volumes: tuple[tuple[str, str], ...] = ()  # (volume, path in the container), made with `labels`
    sysctls: dict[str, str] = {}  # kernel settings of its network namespace (left out where refused)


class EngineAPI(Protocol):
    """One Docker engine, addressed with the user's global docker options."""

    opts: DockerOptions

    # compose, always a `docker compose` process (compose.ComposeRunner)
    def compose_config(self, target: ComposeTarget, *, interpolate: bool = True) -> dict[str, Any]:
        """The fully resolved project (all profiles); `interpolate=False` keeps variables
        and `env_file` entries as written."""
        ...

    def compose_version(self) -> str: ...

    def compose_up(self, target: ComposeTarget, *, build: bool, recreate: bool) -> None: ...

    def compose_stop(self, target: ComposeTarget) -> None: ...

    def compose_down(self, target: ComposeTarget, *, volumes: bool = True) -> None: ...

    def compose_argv(self, target: ComposeTarget) -> list[str]:
        """The docker compose command line for `target`, for commands run in the foreground."""
        ...

    def remove_folder(self, folder: Path, image: str) -> None:
        """Remove a folder through a short-lived container of `image` (files a container
        wrote as a user this process is not)."""
        ...

    # engine objects
    def version(self) -> str: ...

    def ping(self, timeout: float) -> str:
        """The engine's version if it answers within `timeout` seconds, else
        EngineUnreachable: a bounded probe of an engine that may be gone."""
        ...

    def networks(self, labels: dict[str, str] | None = None) -> list[NetworkInfo]:
        """Networks (all, or those with all `labels`), sorted by name, in one call."""
        ...

    def containers(self, labels: dict[str, str]) -> list[ContainerInfo]: ...

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]: ...

    def create_network(self, spec: NetworkSpec) -> None:
        """Raises SubnetConflict when the engine refuses the subnet, Conflict when the
        name is taken."""
        ...

    def remove_networks(self, names: Sequence[str]) -> None:
        """What is already gone counts as removed (a racing destroy, a user's `docker rm`);
        so for remove_volumes and remove_containers."""
        ...

    def remove_volumes(self, names: Sequence[str]) -> None: ...

    def remove_containers(self, ids: Sequence[str]) -> None: ...

    def info(self) -> EngineInfo: ...

    # cilo's router (reach/router.py)
    def start_router(self, spec: RouterSpec, config: str, networks: Sequence[str],
                     aliases: dict[str, tuple[str, ...]] | None = None) -> None:
        """Create the router (and its volumes) with `config` as its Caddyfile, on `networks`
        (answering there to their `aliases`), and start it."""
        ...

    def reload_router(self, name: str, config_path: str, config: str) -> None:
        """Give the running router a new Caddyfile; it switches without dropping requests."""
        ...

    def read_file(self, container: str, path: str) -> str:
        """A text file from a container (the router's CA certificate); NotFound if absent."""
        ...

    def write_file(self, container: str, path: str, text: str) -> None:
        """Write a text file (mode 0644) into a container, its folder existing."""
        ...

    def connect_network(self, network: str, container: str, aliases: Sequence[str] = ()) -> None:
        """Join `network`, answering there to `aliases` too."""
        ...

    def disconnect_network(self, network: str, container: str) -> None:
        """A network or container already gone counts as disconnected."""
        ...
