"""compose, always a plain `docker compose` process: the half of the engine interface
both implementations share.

compose's own output streams to the user. Through python-on-whales the same process
would cost its pydantic models' import just to build the command line, so neither
implementation goes through it: each holds one ComposeRunner (EngineCommon).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError
from ..project import dotenv_files
from .api import EngineInfo, RouterSpec
from .failures import from_cli
from .options import DockerOptions

if TYPE_CHECKING:
    from ..project import ComposeTarget


class ComposeRunner:
    """Runs compose (and the docker CLI's `run`) for one engine's docker options."""

    def __init__(self, opts: DockerOptions) -> None:
        self.opts = opts

    def run(self, argv: list[str], action: str, *, capture: bool,
            env: dict[str, str] | None = None) -> str:
        """Run `argv`; its stdout when `capture`, else its output goes to the user."""
        import subprocess

        try:
            proc = subprocess.run(argv, capture_output=capture, text=True, env=env, check=False)
        except FileNotFoundError:
            raise EngineError(f"{argv[0]} not found; install Docker") from None
        if proc.returncode != 0:
            if not capture:
                raise EngineError(f"{action} failed (exit {proc.returncode}); see compose's output above")
            lines = [ln for ln in proc.stderr.strip().splitlines() if "level=warning" not in ln]
            raise from_cli(action, proc.stderr, lines[-1] if lines else f"exit {proc.returncode}")
        return proc.stdout if capture else ""

    def argv(self, target: ComposeTarget) -> list[str]:
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

    def config(self, target: ComposeTarget, *, interpolate: bool) -> dict[str, Any]:
        import json

        argv = [*self.argv(target._replace(profiles=("*",))), "config", "--format", "json",
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
            out = self.run(argv, f"docker compose config of {', '.join(target.files)}",
                           capture=True, env=env)
        except EngineError as e:
            raise EngineError(f"{e}; fix the compose file (docker compose config shows the same)") from None
        return json.loads(out)

    def compose(self, target: ComposeTarget, command: str, *args: str) -> None:
        """`docker compose COMMAND ARGS` for `target`, in the foreground."""
        self.run([*self.argv(target), command, *args],
                 f"docker compose {command} of {target.project_name}", capture=False)

    def version(self) -> str:
        argv = [*self.opts.argv(), "compose", "version", "--short"]
        return self.run(argv, "docker compose version", capture=True).strip()

    def remove_folder(self, folder: Path, image: str) -> None:
        """Through a container that mounts only the folder's parent, as root, offline."""
        argv = [*self.opts.argv(), "run", "--rm", "--user", "0:0", "--network", "none",
                "--entrypoint", "rm", "-v", f"{folder.parent}:/cilo-parent", image,
                "-rf", f"/cilo-parent/{folder.name}"]
        self.run(argv, f"removing {folder} through a container of {image}", capture=True)


class EngineCommon:
    """What both implementations do alike: hold the docker options, run compose."""

    def __init__(self, opts: DockerOptions, runner: ComposeRunner | None = None) -> None:
        self.opts = opts
        self.runner = runner or ComposeRunner(opts)

    def compose_config(self, target: ComposeTarget, *, interpolate: bool = True) -> dict[str, Any]:
        return self.runner.config(target, interpolate=interpolate)

    def compose_version(self) -> str:
        return self.runner.version()

    def compose_up(self, target: ComposeTarget, *, build: bool, recreate: bool) -> None:
        flags = ["--build"] * build + ["--force-recreate"] * recreate
        self.runner.compose(target, "up", "--detach", "--remove-orphans", *flags)

    def compose_stop(self, target: ComposeTarget) -> None:
        self.runner.compose(target, "stop")

    def compose_down(self, target: ComposeTarget, *, volumes: bool = True) -> None:
        self.runner.compose(target, "down", "--remove-orphans", "--timeout", "10",
                            *["--volumes"] * volumes)

    def compose_argv(self, target: ComposeTarget) -> list[str]:
        return self.runner.argv(target)

    def remove_folder(self, folder: Path, image: str) -> None:
        self.runner.remove_folder(folder, image)

    def ping(self, timeout: float) -> str:
        """The engine's version if it answers within `timeout` seconds, else EngineUnreachable
        (the docker CLI is stopped then: a stopped ssh engine would hold it ~30 s)."""
        import subprocess

        from ..errors import EngineUnreachable

        argv = [*self.opts.argv(), "version", "--format", "{{.Server.Version}}"]
        try:
            proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            raise EngineUnreachable(f"no answer within {timeout:.0f} s") from None
        except FileNotFoundError:
            raise EngineError(f"{argv[0]} not found; install Docker") from None
        if proc.returncode != 0 or not proc.stdout.strip():
            lines = proc.stderr.strip().splitlines()
            raise EngineUnreachable(lines[-1] if lines else f"docker version exited {proc.returncode}")
        return proc.stdout.strip()

    # the router, through the docker CLI (create, cp, start, exec: the same for every engine)
    def info(self) -> EngineInfo:
        import json

        out = self.runner.run([*self.opts.argv(), "info", "--format", "{{json .}}"], "docker info", capture=True)
        return EngineInfo.of(json.loads(out or "{}"))

    def start_router(self, spec: RouterSpec, config: str, networks: Sequence[str],
                     aliases: dict[str, tuple[str, ...]] | None = None) -> None:
        docker = self.opts.argv()
        labels = [a for k, v in sorted(spec.labels.items()) for a in ("--label", f"{k}={v}")]
        for volume, _ in spec.volumes:  # kept across routers: the CA stays the one users trust
            self.runner.run([*docker, "volume", "create", *labels, volume],
                            f"creating volume {volume} of cilo's router", capture=True)
        try:
            self._create_router(spec, config, networks, aliases, labels, spec.sysctls)
        except EngineError:
            if not spec.sysctls:
                raise
            # a kernel without them (tcp_migrate_req is Linux 5.14+): the router runs, and
            # a reload may reset a connection that arrives during it
            self._create_router(spec, config, networks, aliases, labels, {})

    def _create_router(self, spec: RouterSpec, config: str, networks: Sequence[str],
                       aliases: dict[str, tuple[str, ...]] | None, labels: list[str],
                       sysctls: dict[str, str]) -> None:
        docker = self.opts.argv()
        # on the engine's default network first, whose name sorts before every copy's: the
        # engine publishes ports through the first network by name, so joining or leaving
        # copies never moves the router's published ports (a move refuses connections)
        argv = [*docker, "create", "--name", spec.name, "--restart", "unless-stopped", *labels,
                *(a for p in spec.ports for a in ("--publish", p)),
                *(a for v, path in spec.volumes for a in ("--volume", f"{v}:{path}")),
                *(a for k, v in sorted(sysctls.items()) for a in ("--sysctl", f"{k}={v}")),
                spec.image, "caddy", "run", "--config", spec.config_path, "--adapter", "caddyfile"]
        self.runner.run(argv, f"creating cilo's router {spec.name} from image {spec.image}", capture=True)
        try:
            self._copy_config(spec.name, spec.config_path, config)
            for net in networks:
                self.connect_network(net, spec.name, (aliases or {}).get(net, ()))
            self.runner.run([*docker, "start", spec.name], f"starting cilo's router {spec.name}", capture=True)
        except BaseException:
            self.runner.run([*docker, "rm", "--force", spec.name], f"removing cilo's router {spec.name}",
                            capture=True)
            raise

    def reload_router(self, name: str, config_path: str, config: str) -> None:
        self._copy_config(name, config_path, config)
        self.runner.run([*self.opts.argv(), "exec", name, "caddy", "reload", "--config", config_path,
                         "--adapter", "caddyfile"], f"reloading cilo's router {name}", capture=True)

    def _copy_config(self, name: str, config_path: str, config: str) -> None:
        self.write_file(name, config_path, config)

    def write_file(self, container: str, path: str, text: str) -> None:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="cilo-write-") as tmp:
            local = Path(tmp) / Path(path).name
            local.write_text(text)
            local.chmod(0o644)
            self.runner.run([*self.opts.argv(), "cp", str(local), f"{container}:{path}"],
                            f"writing {path} into {container}", capture=True)

    def read_file(self, container: str, path: str) -> str:
        import tempfile

        with tempfile.TemporaryDirectory(prefix="cilo-read-") as tmp:
            local = Path(tmp) / "file"
            self.runner.run([*self.opts.argv(), "cp", "--follow-link", f"{container}:{path}", str(local)],
                            f"reading {path} from {container}", capture=True)
            return local.read_text()

    def connect_network(self, network: str, container: str, aliases: Sequence[str] = ()) -> None:
        self.runner.run([*self.opts.argv(), "network", "connect",
                         *(a for name in aliases for a in ("--alias", name)), network, container],
                        f"connecting {container} to network {network}", capture=True)

    def disconnect_network(self, network: str, container: str) -> None:
        from ..errors import NotFound

        try:
            self.runner.run([*self.opts.argv(), "network", "disconnect", "--force", network, container],
                            f"disconnecting {container} from network {network}", capture=True)
        except NotFound:
            pass
