"""Docker's global options, as the docker CLI hands them to a plugin (no heavy imports)."""

from __future__ import annotations

import os
from typing import NamedTuple


class DockerOptions(NamedTuple):
    """Docker's global options, as the docker CLI handed them to the plugin."""

    context: str | None = None
    host: str | None = None
    config: str | None = None
    log_level: str | None = None
    tls: bool | None = None  # None: not given (docker's default, DOCKER_TLS_VERIFY)
    tlsverify: bool | None = None
    tlscacert: str | None = None
    tlscert: str | None = None
    tlskey: str | None = None

    @property
    def binary(self) -> str:
        # The docker CLI that launched us (the plugin protocol sets this); else PATH's docker.
        return os.environ.get("DOCKER_CLI_PLUGIN_ORIGINAL_CLI_COMMAND") or "docker"

    def argv(self) -> list[str]:
        out = [self.binary]
        for flag, value in (
            ("--config", self.config),
            ("--context", self.context),
            ("--host", self.host),
            ("--log-level", self.log_level),
            ("--tlscacert", self.tlscacert),
            ("--tlscert", self.tlscert),
            ("--tlskey", self.tlskey),
        ):
            if value:
                out += [flag, value]
        for flag, on in (("--tls", self.tls), ("--tlsverify", self.tlsverify)):
            if on is not None:
                out.append(flag if on else f"{flag}=false")
        return out

    def compose_plugin(self) -> str | None:
        """The docker-compose plugin binary the docker CLI would run, found as it finds it."""
        home = self.config or os.environ.get("DOCKER_CONFIG") or os.path.expanduser("~/.docker")
        for folder in (os.path.join(home, "cli-plugins"), *SYSTEM_PLUGIN_DIRS):
            path = os.path.join(folder, "docker-compose")
            if os.access(path, os.X_OK):
                return path
        return None


SYSTEM_PLUGIN_DIRS = (
    "/usr/local/lib/docker/cli-plugins",
    "/usr/local/libexec/docker/cli-plugins",
    "/usr/lib/docker/cli-plugins",
    "/usr/libexec/docker/cli-plugins",
)
