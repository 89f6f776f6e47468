"""The engine through python-on-whales and the docker CLI: for what is not a local
socket (tcp, ssh, TLS), which the docker CLI knows how to reach.

python-on-whales is imported on the first engine call, not before (it costs far more
than the call). Its exceptions are typed here: NoSuchNetwork/Container/Volume are
NotFound, a daemon that does not answer is EngineUnreachable, and the daemon's other
refusals, which reach us only as the CLI's text, are classified by failures.py.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Literal

from ..errors import EngineError, NotFound
from . import failures
from .api import ContainerInfo, NetworkInfo, NetworkSpec, VolumeInfo, published_ports, service_of
from .compose import EngineCommon

if TYPE_CHECKING:
    from python_on_whales import DockerClient, Network, Volume
    from python_on_whales.exceptions import DockerException


def _reason(e: DockerException) -> str:
    detail = (e.stderr or "").strip().splitlines()
    return detail[-1] if detail else f"exit status {e.return_code}"


@contextmanager
def _typed(action: str) -> Iterator[None]:
    from python_on_whales.exceptions import (
        DockerException,
        NoSuchContainer,
        NoSuchNetwork,
        NoSuchVolume,
    )

    try:
        yield
    except (NoSuchContainer, NoSuchNetwork, NoSuchVolume) as e:
        raise NotFound(f"{action} failed: {_reason(e)}") from None
    except DockerException as e:
        raise failures.from_cli(action, e.stderr or "", _reason(e)) from None
    except FileNotFoundError as e:
        raise EngineError(f"{action} failed: {e.filename} not found; install Docker") from None


class WhalesEngine(EngineCommon):
    """Engine objects through python-on-whales' DockerClient; compose as a process."""

    _docker: DockerClient | None = None

    def _client(self) -> DockerClient:
        from python_on_whales import DockerClient

        if self._docker is None:
            o = self.opts
            self._docker = DockerClient(
                client_call=[o.binary], config=o.config, context=o.context, host=o.host,
                log_level=o.log_level, tls=o.tls or None, tlsverify=o.tlsverify or None,
                tlscacert=o.tlscacert, tlscert=o.tlscert, tlskey=o.tlskey,
            )
        return self._docker

    def version(self) -> str:
        with _typed("docker version"):
            server = self._client().version().server
        return str(server.version if server else "unknown")

    def networks(self, labels: dict[str, str] | None = None) -> list[NetworkInfo]:
        filters = _label_filters(labels)
        with _typed("listing docker networks"):
            nets = self._client().network.list(filters=filters)
        return sorted(
            (NetworkInfo(
                id=n.id, name=n.name,
                subnets=tuple(c["Subnet"] for c in (n.ipam.config or []) if c.get("Subnet")),
                labels=dict(n.labels or {}),
            ) for n in nets),
            key=lambda n: n.name,
        )

    def containers(self, labels: dict[str, str]) -> list[ContainerInfo]:
        filters = _label_filters(labels)
        with _typed("listing containers"):
            found = self._client().container.list(all=True, filters=filters)
        out = []
        for c in found:
            nets = c.network_settings.networks or {}
            lab = dict(c.config.labels or {})
            out.append(ContainerInfo(
                id=c.id, name=c.name, service=service_of(lab), state=c.state.status or "unknown",
                addresses={k: v.ip_address for k, v in nets.items() if v.ip_address}, labels=lab,
                image=str(c.config.image or ""),
                ports=published_ports(c.network_settings.ports),  # the engine's own dict
            ))
        return sorted(out, key=lambda c: c.name)

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        filters = _label_filters(labels)
        with _typed("listing volumes"):
            found = self._client().volume.list(filters=filters)
        return sorted((VolumeInfo(v.name, dict(v.labels or {})) for v in found), key=lambda v: v.name)

    def create_network(self, spec: NetworkSpec) -> None:
        from python_on_whales.utils import run

        # python-on-whales has no --ip-range; the same client's command line does
        with _typed(f"creating docker network {spec.name} ({spec.subnet})"):
            run([*self._client().client_config.docker_cmd, *_network_create_argv(spec)])

    # One CLI call removes many objects but fails on the first that is gone (a racing
    # destroy): so remove only what is still there.

    def remove_networks(self, names: Sequence[str]) -> None:
        if not names:
            return
        existing = {key for n in self.networks() for key in (n.name, n.id)}
        left: list[Network | str] = [n for n in names if n in existing]
        if left:
            with _typed(f"removing docker networks {', '.join(names)}"):
                self._client().network.remove(left)

    def remove_volumes(self, names: Sequence[str]) -> None:
        if not names:
            return
        existing = {v.name for v in self.volumes({})}
        left: list[Volume | str] = [n for n in names if n in existing]
        if left:
            with _typed(f"removing volumes {', '.join(names)}"):
                self._client().volume.remove(left)

    def remove_containers(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with _typed("removing containers"):
            docker = self._client()
            if left := [c for c in ids if docker.container.exists(c)]:
                docker.container.remove(left, force=True, volumes=True)


def _label_filters(labels: dict[str, str] | None) -> list[tuple[Literal["label"], str]]:
    return [("label", f"{k}={v}") for k, v in (labels or {}).items()]


def _network_create_argv(spec: NetworkSpec) -> list[str]:
    argv = ["network", "create", "--driver", spec.driver, "--subnet", spec.subnet,
            "--gateway", spec.gateway, "--ip-range", spec.ip_range,
            "--ipam-driver", spec.ipam_driver]
    argv += ["--internal"] * spec.internal + ["--attachable"] * spec.attachable
    if spec.ipv6_subnet:
        argv += ["--ipv6", "--subnet", spec.ipv6_subnet]
    for flag, values in (("--opt", spec.options), ("--ipam-opt", spec.ipam_options),
                         ("--label", spec.labels)):
        for key, value in sorted(values.items()):
            argv += [flag, f"{key}={value}"]
    return [*argv, spec.name]
