"""What every command gets: the Context, its collaborators (the seams to the world
outside the process: the engine, the host's routes, the DNS server) and where it reports.

Kept light: `list`, the hottest command, makes one.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .engine.api import EngineAPI
from .project import ComposeOptions

if TYPE_CHECKING:
    from .engine.options import DockerOptions
    from .network.subnets import Taken


def _to_stderr(msg: str) -> None:
    print(msg, file=sys.stderr)


def _system_routes() -> list[Taken]:
    from .network import hostroutes

    return hostroutes.host_routes()


class DnsServer(Protocol):
    """The DNS server that serves state's names (cilo's dnsmasq; a fake in tests)."""

    def sync(self, state_doc: Any = None) -> Any: ...  # render state, reload: .served, .message
    def restart(self) -> Any: ...
    def status(self, state_doc: Any = None) -> Any: ...
    def render_files(self, state_doc: Any) -> dict[Path, str]: ...


def _connect(opts: DockerOptions) -> EngineAPI:
    from .engine.client import connect

    return connect(opts)


class _Dnsmasq:
    """cilo's dnsmasq (compose_cilo.dns.dnsmasq), imported on first use: `list` never does."""

    def sync(self, state_doc: Any = None) -> Any:
        from .dns import dnsmasq

        return dnsmasq.sync(state_doc)

    def restart(self) -> Any:
        from .dns import dnsmasq

        return dnsmasq.restart()

    def status(self, state_doc: Any = None) -> Any:
        from .dns import dnsmasq

        return dnsmasq.status(state_doc)

    def render_files(self, state_doc: Any) -> dict[Path, str]:
        from .dns import dnsmasq

        return dnsmasq.render_files(state_doc)


class Context:
    """What every command gets: its collaborators, compose options and where to report.

    The collaborators are the seams to the world outside this process: the engine, the
    host's routes (subnets they hold are not free) and the DNS server that serves state.
    The CLI wires the real ones; tests hand in fakes. (A plain class rather than a
    dataclass: `list` must start fast.)
    """

    def __init__(
        self,
        engine: EngineAPI,
        compose: ComposeOptions | None = None,
        project: str | None = None,  # --project NAME: address an existing environment
        cwd: Path | None = None,
        say: Callable[[str], None] = _to_stderr,
        routes: Callable[[], list[Taken]] = _system_routes,
        dns: DnsServer | None = None,
        connect: Callable[[DockerOptions], EngineAPI] | None = None,
        host: str | None = None,  # --host NAME / HOST:ENV: the engine (a known name or a context)
    ) -> None:
        self.engine = engine
        self.compose = compose or ComposeOptions()
        self.project = project
        self.cwd = cwd or Path.cwd()
        self.say = say
        self.routes = routes
        self.dns: DnsServer = dns or _Dnsmasq()
        self.connect = connect or _connect
        self.host_option = host
        self.reach: Any = None  # how this host reaches the copies: reach/router.reach_of, once
        self.host: str | None = None  # the state's key of `engine`'s host, once known
        self.hosts_before: dict[str, Any] | None = None  # host entries before this command registered one
        self._info: Any = None

    def info(self) -> Any:
        """The engine's `/info` (EngineInfo), asked once per engine."""
        if self._info is None:
            self._info = self.engine.info()
        return self._info

    def on(self, engine: EngineAPI, host: str | None) -> Context:
        """The same command's Context, speaking to another engine (another host's)."""
        other = Context(engine, self.compose, self.project, self.cwd, self.say, self.routes, self.dns,
                        self.connect)
        other.host = host
        return other

    def bind(self, engine: EngineAPI, host: str | None) -> None:
        """From now on this command speaks to `engine`, the engine of host `host`."""
        if engine is not self.engine:
            self.engine, self.reach, self._info = engine, None, None
        self.host = host
