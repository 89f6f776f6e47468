"""The engine on a local unix socket, spoken to directly: one Engine API request per
call, no process and no heavy import (socketapi.py), so `list` starts fast.

Its failures come back as HTTP statuses and the daemon's message; they are typed here
(failures.py) and a removal whose object is already gone (NotFound) has done its job.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from ..errors import EngineUnreachable, NotFound
from . import failures
from .api import ContainerInfo, EngineInfo, NetworkInfo, NetworkSpec, VolumeInfo, published_ports, service_of
from .compose import ComposeRunner, EngineCommon
from .options import DockerOptions
from .socketapi import APIError, DockerAPI


class SocketEngine(EngineCommon):
    """The Docker Engine API over the unix socket at `path`; compose as a process."""

    def __init__(self, opts: DockerOptions, path: str, runner: ComposeRunner | None = None) -> None:
        super().__init__(opts, runner)
        self.api = DockerAPI(path)

    @contextmanager
    def _typed(self, action: str) -> Iterator[None]:
        try:
            yield
        except APIError as e:
            raise failures.refusal(action, str(e), e.status) from None
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise failures.unreachable(str(e.strerror), self.api.path) from None
        except PermissionError:
            raise EngineUnreachable(
                "permission denied on the Docker socket; add your user to the docker group"
            ) from None

    def _request(self, action: str, method: str, url: str, body: Any = None,
                 query: dict[str, Any] | None = None) -> Any:
        with self._typed(action):
            return self.api.request(method, url, body, query)

    def _remove(self, action: str, urls: Sequence[str], query: dict[str, Any] | None = None) -> None:
        for url in urls:
            try:
                self._request(action, "DELETE", url, query=query)
            except NotFound:
                pass

    def version(self) -> str:
        return str(self._request("docker version", "GET", "/version")["Version"])

    def info(self) -> EngineInfo:
        return EngineInfo.of(self._request("docker info", "GET", "/info"))

    def ping(self, timeout: float) -> str:
        api = DockerAPI(self.api.path, timeout=timeout)
        try:
            with self._typed("docker version"):
                return str(api.request("GET", "/version")["Version"])
        except TimeoutError:
            raise EngineUnreachable(f"no answer within {timeout:.0f} s") from None

    def networks(self, labels: dict[str, str] | None = None) -> list[NetworkInfo]:
        raw = self._request("listing docker networks", "GET", "/networks",
                            query=DockerAPI.label_filters(labels))
        return sorted((_network(n) for n in raw), key=lambda n: n.name)

    def containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        raw = self._request("listing containers", "GET", "/containers/json",
                            query={"all": 1, **DockerAPI.label_filters(labels)})
        return sorted((_container(c) for c in raw), key=lambda c: c.name)

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        raw = self._request("listing volumes", "GET", "/volumes",
                            query=DockerAPI.label_filters(labels))
        vols = [VolumeInfo(v["Name"], dict(v.get("Labels") or {})) for v in raw.get("Volumes") or []]
        return sorted(vols, key=lambda v: v.name)

    def create_network(self, spec: NetworkSpec) -> None:
        self._request(f"creating docker network {spec.name} ({spec.subnet})", "POST",
                      "/networks/create", _network_body(spec))

    def remove_networks(self, names: Sequence[str]) -> None:
        self._remove(f"removing docker networks {', '.join(names)}",
                     [f"/networks/{name}" for name in names])

    def remove_volumes(self, names: Sequence[str]) -> None:
        self._remove(f"removing volumes {', '.join(names)}", [f"/volumes/{name}" for name in names])

    def remove_containers(self, ids: Sequence[str]) -> None:
        self._remove("removing containers", [f"/containers/{cid}" for cid in ids],
                     query={"force": 1, "v": 1})


def _network_body(spec: NetworkSpec) -> dict[str, Any]:
    config: list[dict[str, str]] = [
        {"Subnet": spec.subnet, "Gateway": spec.gateway, "IPRange": spec.ip_range}]
    if spec.ipv6_subnet:
        config.append({"Subnet": spec.ipv6_subnet})
    return {
        "Name": spec.name, "Driver": spec.driver, "CheckDuplicate": True,
        "Labels": spec.labels, "Options": spec.options, "Internal": spec.internal,
        "Attachable": spec.attachable, "EnableIPv6": bool(spec.ipv6_subnet),
        "IPAM": {"Driver": spec.ipam_driver, "Config": config, "Options": spec.ipam_options},
    }


def _network(n: dict[str, Any]) -> NetworkInfo:
    config = (n.get("IPAM") or {}).get("Config") or []
    return NetworkInfo(id=n["Id"], name=n["Name"],
                       subnets=tuple(c["Subnet"] for c in config if c.get("Subnet")),
                       labels=dict(n.get("Labels") or {}))


def _container(c: dict[str, Any]) -> ContainerInfo:
    labels = dict(c.get("Labels") or {})
    nets = ((c.get("NetworkSettings") or {}).get("Networks")) or {}
    return ContainerInfo(
        id=c["Id"],
        name=(c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/"),
        service=service_of(labels),
        state=c.get("State") or "unknown",
        addresses={k: v["IPAddress"] for k, v in nets.items() if v.get("IPAddress")},
        labels=labels,
        image=str(c.get("Image") or ""),
        ports=published_ports({f"{p['PrivatePort']}/{p.get('Type', 'tcp')}": [
            {"HostIp": p.get("IP"), "HostPort": str(p["PublicPort"])}]
            for p in c.get("Ports") or () if p.get("PublicPort") and p.get("PrivatePort")}),
    )
