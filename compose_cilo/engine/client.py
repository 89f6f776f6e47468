"""The one engine seam: every Docker and compose call goes through here.

The rest of cilo gets the project's own small types and is testable without an engine.
Docker's global options (`--context`, `-H`, `--config`, `--log-level`, TLS) given before
`cilo` apply to every call. Three paths, each the cheapest that is correct:

- engine objects (networks, containers, volumes) on a local socket: one Engine API
  request each (dockerapi.py), a few milliseconds, no process;
- engine objects on anything else (tcp, ssh, TLS): python-on-whales and the docker CLI,
  imported only then (~250 ms);
- compose: a `docker compose` process built from the same options.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from .options import DockerOptions
from ..errors import EngineError
from ..model import COMPOSE_SERVICE_LABEL, LABEL_SERVICE
from ..project import ComposeTarget, dotenv_files

if TYPE_CHECKING:
    from python_on_whales import DockerClient

    from .socketapi import DockerAPI

__all__ = ["ContainerInfo", "DockerOptions", "Engine", "NetworkInfo", "NetworkSpec", "VolumeInfo"]


class ContainerInfo(NamedTuple):
    id: str
    name: str
    service: str
    state: str  # running, exited, created, restarting, paused, dead
    addresses: dict[str, str]  # network name -> IPv4 address
    labels: dict[str, str]
    image: str = ""


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


@contextmanager
def _translated(action: str, fix: str = "") -> Iterator[None]:
    from python_on_whales.exceptions import DockerException

    try:
        yield
    except DockerException as e:
        detail = (e.stderr or "").strip().splitlines()
        reason = detail[-1] if detail else f"exit status {e.return_code}"
        if "Cannot connect to the Docker daemon" in (e.stderr or "") or "connect: " in reason:
            raise EngineError(
                f"cannot reach the Docker engine ({reason}); start dockerd or check "
                "--context / DOCKER_HOST"
            ) from None
        raise EngineError(f"{action} failed: {reason}{'; ' + fix if fix else ''}") from None
    except FileNotFoundError as e:
        raise EngineError(f"{action} failed: {e.filename} not found; install Docker") from None


class Engine:
    """One Docker engine, addressed with the user's global docker options."""

    def __init__(self, opts: DockerOptions | None = None) -> None:
        self.opts = opts or DockerOptions()
        self._docker: DockerClient | None = None
        self._api_client: DockerAPI | None = None
        self._api_checked = False

    def _client(self) -> DockerClient:
        """python-on-whales, for engines that are not a local socket (tcp, ssh, TLS)."""
        from python_on_whales import DockerClient

        if self._docker is None:
            o = self.opts
            self._docker = DockerClient(
                client_call=[o.binary], config=o.config, context=o.context, host=o.host,
                log_level=o.log_level, tls=o.tls or None, tlsverify=o.tlsverify or None,
                tlscacert=o.tlscacert, tlscert=o.tlscert, tlskey=o.tlskey,
            )
        return self._docker

    # compose runs as a plain `docker compose` process, its output streamed to the user.
    # (Through python-on-whales the same process costs ~250 ms more: its pydantic models
    # are imported just to build the command line.)

    def _compose(self, argv: list[str], action: str, *, capture: bool,
                 env: dict[str, str] | None = None) -> str:
        import subprocess

        try:
            proc = subprocess.run(argv, capture_output=capture, text=True, env=env)
        except FileNotFoundError:
            raise EngineError(f"{argv[0]} not found; install Docker") from None
        if proc.returncode != 0:
            if not capture:
                raise EngineError(f"{action} failed (exit {proc.returncode}); see compose's output above")
            lines = [ln for ln in proc.stderr.strip().splitlines() if "level=warning" not in ln]
            raise EngineError(f"{action} failed: {lines[-1] if lines else f'exit {proc.returncode}'}")
        return proc.stdout if capture else ""

    def compose_config(self, target: ComposeTarget, *, interpolate: bool = True) -> dict[str, Any]:
        """The fully resolved project, as compose sees it (all profiles enabled).

        `interpolate=False` keeps variables as written, and the `env_file` entries that
        compose otherwise resolves away.
        """
        import json
        argv = [*self.compose_argv(target._replace(profiles=("*",))), "config", "--format", "json",
                *(["--no-interpolate"] * (not interpolate))]
        plugin = self.opts.compose_plugin()
        env = None
        if plugin:
            # `config` needs no engine: run the compose plugin itself, standalone, instead
            # of the docker CLI that would start it (and ask its metadata) first. Without
            # the plugin protocol's variables, or it would expect to be called as a plugin.
            argv = [plugin, *argv[argv.index("compose") + 1 :]]
            env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_CLI_PLUGIN_")}
        try:
            out = self._compose(argv, f"docker compose config of {', '.join(target.files)}",
                                capture=True, env=env)
        except EngineError as e:
            raise EngineError(f"{e}; fix the compose file (docker compose config shows the same)") from None
        return json.loads(out)

    def compose_up(self, target: ComposeTarget, *, build: bool, recreate: bool) -> None:
        flags = ["--build"] * build + ["--force-recreate"] * recreate
        self._compose([*self.compose_argv(target), "up", "--detach", "--remove-orphans", *flags],
                      f"docker compose up of {target.project_name}", capture=False)

    def compose_stop(self, target: ComposeTarget) -> None:
        self._compose([*self.compose_argv(target), "stop"],
                      f"docker compose stop of {target.project_name}", capture=False)

    def compose_down(self, target: ComposeTarget, *, volumes: bool = True) -> None:
        argv = [*self.compose_argv(target), "down", "--remove-orphans", "--timeout", "10"]
        self._compose(argv + ["--volumes"] * volumes,
                      f"docker compose down of {target.project_name}", capture=False)

    def remove_folder(self, folder: Path, image: str) -> None:
        """Remove a local folder through a short-lived container of `image` that mounts only
        that folder's parent: for files a container wrote as a user this process is not."""
        argv = [*self.opts.argv(), "run", "--rm", "--user", "0:0", "--network", "none",
                "--entrypoint", "rm", "-v", f"{folder.parent}:/cilo-parent", image,
                "-rf", f"/cilo-parent/{folder.name}"]
        self._compose(argv, f"removing {folder} through a container of {image}", capture=True)

    def compose_version(self) -> str:
        argv = [*self.opts.argv(), "compose", "version", "--short"]
        return self._compose(argv, "docker compose version", capture=True).strip()

    def compose_argv(self, target: ComposeTarget) -> list[str]:
        """The docker compose command line for `target`, for commands run in the foreground."""
        argv = [*self.opts.argv(), "compose", "--project-directory", target.project_dir]
        for f in target.files:
            argv += ["--file", f]
        for f in dotenv_files(target):
            argv += ["--env-file", f]
        for p in target.profiles:
            argv += ["--profile", p]
        if target.project_name:
            argv += ["--project-name", target.project_name]
        return argv

    # --- engine objects --------------------------------------------------------------
    # A local socket is spoken to directly (one request, no process, no heavy imports);
    # anything else (tcp, ssh, TLS) goes through python-on-whales and the docker CLI.

    def _api(self) -> DockerAPI | None:
        if self._api_checked:
            return self._api_client
        self._api_checked = True
        from .socketapi import DockerAPI, resolve_host, socket_path

        o = self.opts
        if os.environ.get("CILO_ENGINE_API") != "cli" and not (o.tls or o.tlsverify):
            path = socket_path(resolve_host(o.host, o.context, o.config))
            if path:
                self._api_client = DockerAPI(path)
        return self._api_client

    @contextmanager
    def _api_call(self, action: str) -> Iterator[None]:
        from .socketapi import APIError

        try:
            yield
        except APIError as e:
            raise EngineError(f"{action} failed: {e}") from None
        except (FileNotFoundError, ConnectionRefusedError) as e:
            raise EngineError(
                f"cannot reach the Docker engine at {self._api_client.path if self._api_client else '?'}"
                f" ({e.strerror}); start dockerd or check --context / DOCKER_HOST"
            ) from None
        except PermissionError:
            raise EngineError(
                "permission denied on the Docker socket; add your user to the docker group"
            ) from None

    def version(self) -> str:
        if api := self._api():
            with self._api_call("docker version"):
                return str(api.request("GET", "/version")["Version"])
        with _translated("docker version"):
            return str(self._client().version().server.version)

    def create_network(self, spec: NetworkSpec) -> None:
        action = f"creating docker network {spec.name} ({spec.subnet})"
        if api := self._api():
            with self._api_call(action):
                api.request("POST", "/networks/create", _network_body(spec))
            return
        from python_on_whales.utils import run

        # python-on-whales has no --ip-range; the same client's command line does
        with _translated(action):
            run([*self._client().client_config.docker_cmd, *_network_create_argv(spec)])

    def remove_networks(self, names: Sequence[str]) -> None:
        if not names:
            return
        action = f"removing docker networks {', '.join(names)}"
        if api := self._api():
            with self._api_call(action):
                for name in names:
                    _gone_is_fine(api.request, "DELETE", f"/networks/{name}")
            return
        # what is already gone has been removed (a racing destroy): remove what is left
        existing = {key for n in self.networks() for key in (n.name, n.id)}
        left = [n for n in names if n in existing]
        if left:
            with _translated(action):
                self._client().network.remove(left)

    def networks(self, labels: dict[str, str] | None = None) -> list[NetworkInfo]:
        """Networks (all, or those with all `labels`), in one batched call."""
        if api := self._api():
            with self._api_call("listing docker networks"):
                raw = api.request("GET", "/networks", query=_label_filters(labels))
            return sorted(
                (NetworkInfo(
                    id=n["Id"], name=n["Name"],
                    subnets=tuple(c["Subnet"] for c in ((n.get("IPAM") or {}).get("Config") or [])
                                  if c.get("Subnet")),
                    labels=dict(n.get("Labels") or {}),
                ) for n in raw),
                key=lambda n: n.name,
            )
        filters = [("label", f"{k}={v}") for k, v in (labels or {}).items()]
        with _translated("listing docker networks"):
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
        if api := self._api():
            with self._api_call("listing containers"):
                raw = api.request("GET", "/containers/json",
                                  query={"all": 1, **_label_filters(labels)})
            return sorted((_container_from_api(c) for c in raw), key=lambda c: c.name)
        filters = [("label", f"{k}={v}") for k, v in labels.items()]
        with _translated("listing containers"):
            found = self._client().container.list(all=True, filters=filters)
        out = []
        for c in found:
            nets = c.network_settings.networks or {}
            lab = dict(c.config.labels or {})
            out.append(ContainerInfo(
                id=c.id, name=c.name, service=_service_of(lab), state=c.state.status or "unknown",
                addresses={k: v.ip_address for k, v in nets.items() if v.ip_address}, labels=lab,
                image=str(c.config.image or ""),
            ))
        return sorted(out, key=lambda c: c.name)

    def remove_containers(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        if api := self._api():
            with self._api_call("removing containers"):
                for cid in ids:
                    _gone_is_fine(api.request, "DELETE", f"/containers/{cid}",
                                  query={"force": 1, "v": 1})
            return
        with _translated("removing containers"):
            docker = self._client()
            left = [c for c in ids if docker.container.exists(c)]
            if left:
                docker.container.remove(left, force=True, volumes=True)

    def volumes(self, labels: dict[str, str]) -> list[VolumeInfo]:
        if api := self._api():
            with self._api_call("listing volumes"):
                raw = api.request("GET", "/volumes", query=_label_filters(labels))
            vols = [VolumeInfo(v["Name"], dict(v.get("Labels") or {})) for v in raw.get("Volumes") or []]
            return sorted(vols, key=lambda v: v.name)
        filters = [("label", f"{k}={v}") for k, v in labels.items()]
        with _translated("listing volumes"):
            found = self._client().volume.list(filters=filters)
        return sorted((VolumeInfo(v.name, dict(v.labels or {})) for v in found), key=lambda v: v.name)

    def remove_volumes(self, names: Sequence[str]) -> None:
        if not names:
            return
        action = f"removing volumes {', '.join(names)}"
        if api := self._api():
            with self._api_call(action):
                for name in names:
                    _gone_is_fine(api.request, "DELETE", f"/volumes/{name}")
            return
        existing = {v.name for v in self.volumes({})}
        left = [n for n in names if n in existing]
        if left:
            with _translated(action):
                self._client().volume.remove(left)


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


def _gone_is_fine(request: Any, *args: Any, **kwargs: Any) -> None:
    """A removal whose object is already gone (404) has done its job."""
    from .socketapi import APIError

    try:
        request(*args, **kwargs)
    except APIError as e:
        if e.status != 404:
            raise


def _service_of(labels: dict[str, str]) -> str:
    return labels.get(COMPOSE_SERVICE_LABEL, labels.get(LABEL_SERVICE, ""))


def _container_from_api(c: dict[str, Any]) -> ContainerInfo:
    labels = dict(c.get("Labels") or {})
    nets = ((c.get("NetworkSettings") or {}).get("Networks")) or {}
    return ContainerInfo(
        id=c["Id"],
        name=(c.get("Names") or ["/" + c["Id"][:12]])[0].lstrip("/"),
        service=_service_of(labels),
        state=c.get("State") or "unknown",
        addresses={k: v["IPAddress"] for k, v in nets.items() if v.get("IPAddress")},
        labels=labels,
        image=str(c.get("Image") or ""),
    )


def _label_filters(labels: dict[str, str] | None) -> dict[str, Any]:
    from .socketapi import DockerAPI

    return DockerAPI.label_filters(labels)
