"""A fake engine for unit tests: Docker and compose in memory, as cilo sees them.

`FakeEngine` answers every call cilo's domain code makes of an engine. It keeps
networks, containers and volumes in dicts, and plays compose from the files it is
given: `compose_config` reads the user's compose files (a small subset of compose: the
top-level sections, `name`, services with networks, profiles and container names);
`compose_up` reads cilo's generated override too (labels, network names, fixed
addresses) and starts one container per service, labelled as compose labels them.

`compose_argv` is a stand-in process (tests/fake_compose.py) that logs the arguments
compose would get, so compose's own commands run in unit tests never reach an engine.

Its `calls` list records what was asked, so tests can assert, say, that a destroy
removed only labelled objects, or that a refused command asked the engine nothing.
`fail` makes a named method raise once (a message: an EngineError; or the exception
given); `FakeEngine(unreachable=MESSAGE)` is an engine every call to which fails as a
stopped dockerd does. It implements `EngineAPI` (tests/unit/test_fakes.py checks the signatures).
"""

from __future__ import annotations

import ipaddress
import itertools
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from compose_cilo.engine.api import (
    ContainerInfo,
    EngineInfo,
    NetworkInfo,
    NetworkSpec,
    PublishedPort,
    RouterSpec,
    VolumeInfo,
)
from compose_cilo.engine.options import DockerOptions
from compose_cilo.errors import Conflict, EngineError, EngineUnreachable, NotFound, SubnetConflict
from compose_cilo.model import (
    COMPOSE_FILES_LABEL,
    COMPOSE_NUMBER_LABEL,
    COMPOSE_ONEOFF_LABEL,
    COMPOSE_PROJECT_LABEL,
    COMPOSE_SERVICE_LABEL,
    COMPOSE_WORKDIR_LABEL,
)
from compose_cilo.project import ComposeTarget


def _long_port(port: Any) -> Any:
    """A short-syntax `ports:` entry ("127.0.0.1:8080:80/udp", "80") in compose's long syntax."""
    if isinstance(port, dict):
        return port
    spec, _, protocol = str(port).partition("/")
    parts = spec.split(":")
    out = {"mode": "ingress", "target": int(parts[-1]), "protocol": protocol or "tcp"}
    if len(parts) > 1:
        out["published"] = parts[-2]
    if len(parts) > 2:
        out["host_ip"] = parts[0]
    return out


class _Loader(yaml.SafeLoader):
    """Reads cilo's override: compose's `!reset` and `!override` tags keep their value."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: (
    loader.construct_mapping(node, deep=True) if isinstance(node, yaml.MappingNode)
    else loader.construct_sequence(node, deep=True) if isinstance(node, yaml.SequenceNode)
    else loader.construct_scalar(node) or None))


def _load(path: str) -> dict[str, Any]:
    return yaml.load(Path(path).read_text(), Loader=_Loader) or {}  # noqa: S506 - SafeLoader subclass


def _merge(docs: list[dict[str, Any]]) -> dict[str, Any]:
    """compose's merge, enough for tests: later files update each service's keys."""
    out: dict[str, Any] = {"services": {}, "networks": {}, "volumes": {}}
    for doc in docs:
        if "name" in doc:
            out["name"] = doc["name"]
        for section in ("networks", "volumes"):
            for key, value in (doc.get(section) or {}).items():
                out[section][key] = {**out[section].get(key, {}), **(value or {})}
        for name, svc in (doc.get("services") or {}).items():
            out["services"][name] = {**out["services"].get(name, {}), **(svc or {})}
    return out


FAKE_CA = "-----BEGIN CERTIFICATE-----\nZmFrZQ==\n-----END CERTIFICATE-----\n"


FAKE_HOST = "FAKE:ENGINE"  # the fake engine's ID: the state's key of its host


class FakeEngine:
    """Docker and compose in memory (see the module docstring)."""

    def __init__(self, unreachable: str | None = None, opts: DockerOptions | None = None,
                 engine_id: str = "") -> None:
        self.opts = opts or DockerOptions()
        self.unreachable = unreachable  # every call fails with EngineUnreachable(this)
        self.networks_: dict[str, NetworkInfo] = {}
        self.containers_: dict[str, ContainerInfo] = {}
        self.volumes_: dict[str, VolumeInfo] = {}
        self.calls: list[tuple[str, Any]] = []
        self.fail: dict[str, str | Exception] = {}  # method -> what it raises, once
        self._ids = itertools.count(1)
        self.info_ = EngineInfo(engine_id or FAKE_HOST, "Debian GNU/Linux 12 (bookworm)", "fake")
        self.files_: dict[tuple[str, str], str] = {}  # (container, path) -> text, for read_file
        self.router_aliases: dict[str, tuple[str, ...]] = {}  # network -> the router's aliases there
        self.router_configs: list[str] = []  # every Caddyfile the router was given, in order

    def _call(self, name: str, arg: Any = None) -> None:
        self.calls.append((name, arg))
        if self.unreachable:
            raise EngineUnreachable(self.unreachable)
        if name in self.fail:
            failure = self.fail.pop(name)
            raise failure if isinstance(failure, Exception) else EngineError(failure)

    # --- compose ------------------------------------------------------------------------

    def compose_config(self, target: ComposeTarget, *, interpolate: bool = True) -> dict[str, Any]:
        self._call("compose_config", target)
        doc = _merge([_load(f) for f in target.files])
        name = target.project_name or doc.get("name") or Path(target.project_dir).name
        services = {}
        for svc_name, svc in doc["services"].items():
            svc = dict(svc)
            if "network_mode" not in svc:
                nets = svc.get("networks") or ["default"]
                svc["networks"] = {n: None for n in nets} if isinstance(nets, list) else nets
            if svc.get("ports"):  # compose writes the long syntax
                svc["ports"] = [_long_port(p) for p in svc["ports"]]
            services[svc_name] = svc
        networks = {"default": {"name": f"{name}_default"}, **doc["networks"]}
        networks = {k: {"name": f"{name}_{k}", **v} for k, v in networks.items()}
        volumes = {k: {"name": f"{name}_{k}", **v} for k, v in doc["volumes"].items()}
        return {"name": name, "services": services, "networks": networks, "volumes": volumes}

    def compose_version(self) -> str:
        self._call("compose_version")
        return "2.40.3"

    def compose_argv(self, target: ComposeTarget) -> list[str]:
        self._call("compose_argv", target)  # an unreachable engine runs no compose either
        return [sys.executable, str(Path(__file__).with_name("fake_compose.py")),
                "--project-directory", target.project_dir,
                *(a for f in target.files for a in ("--file", f)),
                *(["--project-name", target.project_name] if target.project_name else [])]

    def compose_up(self, target: ComposeTarget, *, build: bool, recreate: bool) -> None:
        self._call("compose_up", target)
        user = _merge([_load(f) for f in target.files[:-1]])
        ours = _load(target.files[-1])
        project = target.project_name or ""
        nets = {k: (v or {}).get("name", f"{project}_{k}") for k, v in (ours.get("networks") or {}).items()}
        for key, vol in (ours.get("volumes") or {}).items():
            if (vol or {}).get("external"):
                continue
            name = f"{project}_{key}"
            self.volumes_.setdefault(name, VolumeInfo(name, dict((vol or {}).get("labels") or {})))
        for name, svc in user["services"].items():
            if svc.get("profiles") and not set(svc["profiles"]) & set(target.profiles):
                continue
            patch = (ours.get("services") or {}).get(name) or {}
            wanted = patch.get("networks") or {k: None for k in (svc.get("networks") or ["default"])}
            addresses = {}
            for key, settings in wanted.items():
                docker_name = nets.get(key, f"{project}_{key}")
                fixed = (settings or {}).get("ipv4_address")
                addresses[docker_name] = fixed or self._free_address(docker_name)
            cname = f"{project}-{name}-1"
            old = self.containers_.get(cname)
            labels = {**(patch.get("labels") or {}), COMPOSE_PROJECT_LABEL: project,
                      COMPOSE_SERVICE_LABEL: name, COMPOSE_WORKDIR_LABEL: target.project_dir,
                      COMPOSE_FILES_LABEL: ",".join(target.files), COMPOSE_NUMBER_LABEL: "1",
                      COMPOSE_ONEOFF_LABEL: "False"}
            self.containers_[cname] = ContainerInfo(
                id=old.id if old and not recreate else f"c{next(self._ids)}", name=cname,
                service=name, state="running", addresses=addresses, labels=labels,
                image=svc.get("image", ""),
                ports=old.ports if old and not recreate and old.ports else self._publish(patch.get("ports") or ()))

    def _publish(self, wanted: Sequence[str]) -> tuple[PublishedPort, ...]:
        """The override's `ADDRESS::PORT/PROTO` entries, each on a fresh ephemeral port."""
        out = []
        for entry in wanted:
            address, _, rest = str(entry).partition("::")
            port, _, proto = rest.partition("/")
            out.append(PublishedPort(int(port), proto or "tcp", address, 32768 + next(self._ids)))
        return tuple(out)

    def _free_address(self, network: str) -> str | None:
        net = self.networks_.get(network)
        if net is None or not net.subnets:
            return None
        used = {c.addresses.get(network) for c in self.containers_.values()}
        hosts = ipaddress.IPv4Network(net.subnets[0]).hosts()
        next(hosts)  # the gateway
        return next(str(h) for h in hosts if str(h) not in used)

    def compose_stop(self, target: ComposeTarget) -> None:
        self._call("compose_stop", target)
        for name, c in self.containers_.items():
            if c.labels.get(COMPOSE_PROJECT_LABEL) == target.project_name:
                self.containers_[name] = c._replace(state="exited")

    def compose_down(self, target: ComposeTarget, *, volumes: bool = True) -> None:
        self._call("compose_down", target)
        for name in [n for n, c in self.containers_.items()
                     if c.labels.get(COMPOSE_PROJECT_LABEL) == target.project_name]:
            del self.containers_[name]

    # --- engine objects -----------------------------------------------------------------

    def version(self) -> str:
        self._call("version")
        return "20.10.24"

    def ping(self, timeout: float) -> str:
        self._call("ping", timeout)
        return "20.10.24"

    def create_network(self, spec: NetworkSpec) -> None:
        self._call("create_network", spec)
        if spec.name in self.networks_:
            raise Conflict(f"network with name {spec.name} already exists")
        new = ipaddress.IPv4Network(spec.subnet)
        for other in self.networks_.values():
            if any(new.overlaps(ipaddress.IPv4Network(s)) for s in other.subnets):
                raise SubnetConflict(f"Pool overlaps with other one on this address space ({other.name})")
        self.networks_[spec.name] = NetworkInfo(f"n{next(self._ids)}", spec.name, (spec.subnet,),
                                                dict(spec.labels))

    def remove_networks(self, names: Sequence[str]) -> None:
        self._call("remove_networks", list(names))
        for name in names:
            self.networks_.pop(name, None)

    def networks(self, labels: dict[str, str] | None = None) -> list[NetworkInfo]:
        self._call("networks", labels)
        return sorted((n for n in self.networks_.values() if _has(n.labels, labels)), key=lambda n: n.name)

    def containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        self._call("containers", labels)
        return sorted((c for c in self.containers_.values() if _has(c.labels, labels)),
                      key=lambda c: c.name)

    def remove_containers(self, ids: Sequence[str]) -> None:
        self._call("remove_containers", list(ids))
        for name in [n for n, c in self.containers_.items() if c.id in ids]:
            del self.containers_[name]

    def info(self) -> EngineInfo:
        self._call("info")
        return self.info_

    def start_router(self, spec: RouterSpec, config: str, networks: Sequence[str],
                     aliases: dict[str, tuple[str, ...]] | None = None) -> None:
        self._call("start_router", spec.name)
        self.router_aliases = dict(aliases or {})
        self.files_[(spec.name, spec.config_path)] = config
        self.files_[(spec.name, "/data/caddy/pki/authorities/local/root.crt")] = FAKE_CA  # Caddy makes its CA
        for volume, _ in spec.volumes:
            self.volumes_.setdefault(volume, VolumeInfo(volume, dict(spec.labels)))
        self.router_configs.append(config)
        self.containers_[spec.name] = ContainerInfo(
            id=f"c{next(self._ids)}", name=spec.name, service="", state="running",
            addresses={n: "" for n in networks}, labels=dict(spec.labels), image=spec.image)

    def reload_router(self, name: str, config_path: str, config: str) -> None:
        self._call("reload_router", name)
        self.router_configs.append(config)
        self.files_[(name, config_path)] = config

    def read_file(self, container: str, path: str) -> str:
        self._call("read_file", (container, path))
        if (container, path) not in self.files_:
            raise NotFound(f"reading {path} from {container}: no such file")
        return self.files_[(container, path)]

    def write_file(self, container: str, path: str, text: str) -> None:
        self._call("write_file", (container, path))
        self.files_[(container, path)] = text

    def connect_network(self, network: str, container: str, aliases: Sequence[str] = ()) -> None:
        self._call("connect_network", (network, container))
        self.router_aliases[network] = tuple(aliases)
        c = self.containers_[container]
        self.containers_[container] = c._replace(addresses={**c.addresses, network: ""})

    def disconnect_network(self, network: str, container: str) -> None:
        self._call("disconnect_network", (network, container))
        c = self.containers_.get(container)
        if c:
            self.containers_[container] = c._replace(
                addresses={k: v for k, v in c.addresses.items() if k != network})

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        self._call("volumes", labels)
        return sorted((v for v in self.volumes_.values() if _has(v.labels, labels)), key=lambda v: v.name)

    def remove_volumes(self, names: Sequence[str]) -> None:
        self._call("remove_volumes", list(names))
        for name in names:
            self.volumes_.pop(name, None)

    def remove_folder(self, folder: Path, image: str) -> None:
        self._call("remove_folder", (folder, image))
        raise EngineError(f"the fake engine cannot remove {folder}")

    # --- for tests ----------------------------------------------------------------------

    def add_network(self, name: str, subnet: str, labels: dict[str, str] | None = None) -> None:
        """A network someone else made (the user's own stack, another tool)."""
        self.networks_[name] = NetworkInfo(f"n{next(self._ids)}", name, (subnet,), dict(labels or {}))


def _has(labels: dict[str, str], wanted: dict[str, str] | None) -> bool:
    return all(labels.get(k) == v for k, v in (wanted or {}).items())


def envs_of(st: Any) -> dict[str, Any]:
    """The environments of the one engine a test's state knows (what `environments()` was
    before state kept one host per engine); an empty state gets an unclaimed `local`."""
    hosts = st.doc["hosts"]
    assert len(hosts) <= 1, f"the test's state knows more than one engine: {sorted(hosts)}"
    result: dict[str, Any] = st.environments(next(iter(hosts), "local"))
    return result
