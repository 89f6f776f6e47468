"""Finding projects and environments: the read-only queries every command starts with.

Kept apart from lifecycle.py so that `list`, the hottest command, imports only this.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from .engine.api import EngineAPI
from .errors import CiloError, NoSuchEnvironment
from .model import env_key, env_labels, record_key
from .names import check_env_name, check_project_name
from .project import ComposeOptions, ComposeTarget, NoComposeFile, ProjectModel, model_from_config, resolve_target
from .state import store

if TYPE_CHECKING:
    from .engine.options import DockerOptions
    from .network.subnets import Taken

Record = dict[str, Any]


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


# --- finding the project and the environment ---------------------------------------------


def resolve_project(ctx: Context) -> tuple[ComposeTarget, ProjectModel]:
    target = resolve_target(ctx.compose, ctx.cwd)
    model = model_from_config(ctx.engine.compose_config(target))
    check_project_name(model.name)
    return target, model


def split_ref(ref: str, project: str | None) -> tuple[str | None, str]:
    """`ENV` or `PROJECT/ENV` (the latter addresses any project from anywhere)."""
    if "/" in ref:
        proj, _, env = ref.partition("/")
        return check_project_name(proj), check_env_name(env)
    return (check_project_name(project) if project else None), check_env_name(ref)


def current_project(ctx: Context, ask_compose: bool = True,
                    st: store.State | None = None) -> str | None:
    """The project of the working folder, cheaply when state already knows its files.

    With ask_compose=False, a folder whose files no environment uses gives None (it has
    no environments) instead of asking compose for the name (a process).
    """
    if ctx.project:
        return check_project_name(ctx.project)
    if ctx.compose.project_name:
        return check_project_name(ctx.compose.project_name)
    target = resolve_target(ctx.compose, ctx.cwd)
    for _, _, env in (st or store.read_state()).all_environments():
        if env["project_dir"] == target.project_dir and env["compose_files"] == list(target.files):
            return str(env["project"])
    if not ask_compose:
        return None
    _, model = resolve_project(ctx)
    return model.name


def in_project_folder(ctx: Context) -> bool:
    """Is there a compose project here (or named by options)? Only a folder with no
    compose file is "no project"; a broken option (a missing --env-file) is an error."""
    if ctx.project or ctx.compose.project_name or ctx.compose.files:
        return True
    try:
        resolve_target(ctx.compose, ctx.cwd)
    except NoComposeFile:
        return False
    return True


class Listed(NamedTuple):
    """An environment as `list` shows it: the short name of its host, and its record."""

    host: str
    record: Record


def list_records(ctx: Context, every: bool) -> tuple[list[Listed], dict[str, list[str]], int]:
    """This project's environments on the current engine (with `every`: every project's on
    every engine; outside a project: every project's on the current engine), the subnet
    overlaps found for the current engine's, and how many more other engines hold."""
    from .state.document import host_name

    project: str | None = None
    st = store.read_state()
    if not every:
        if in_project_folder(ctx):
            project = current_project(ctx, ask_compose=False, st=st) or ""
        else:
            ctx.say("not in a compose project folder: listing every project's environments on this engine")
    here = current_host(ctx, st)
    chosen = [(h, r) for h, _, r in st.all_environments() if project is None or r["project"] == project]
    shown = [Listed(host_name(st.doc, h), r) for h, r in chosen if every or h == here]
    local = [r for h, r in chosen if h == here]
    return shown, drift(ctx, local), len(chosen) - len(shown)


def current_host(ctx: Context, st: store.State | None = None) -> str | None:
    """The state's key of the host the command's engine is (no engine request): the one
    bound, else the one whose endpoint the docker options name; None when state does not
    know this engine yet (it has no environments here)."""
    if ctx.host is None:
        from . import hosts

        ctx.host = hosts.by_endpoint((st or store.read_state()).doc, hosts.here(ctx.engine.opts))
    return ctx.host


def ctx_host(ctx: Context) -> str:
    """The host of the environment the command works on (bound when it was found)."""
    host = current_host(ctx)
    if host is None:
        raise CiloError("cilo does not know this engine yet: it has no environments here "
                        "(docker cilo list --all shows every engine's)")
    return host


def use_host(ctx: Context, host: str, doc: Mapping[str, Any], why: str = "") -> None:
    """Bind the command to `host`'s engine; say so when the docker options name another."""
    from . import hosts

    if host == current_host(ctx):
        return
    entry = doc["hosts"][host]
    now = hosts.here(ctx.engine.opts)
    ctx.bind(ctx.connect(hosts.options_for(entry, ctx.engine.opts)), host)
    ctx.say(f"{why or 'acting'} on engine {hosts.shown(entry)}; the current docker context points at "
            f"{now.context or now.endpoint or 'the default engine'}")


def on_host(ctx: Context, host: str, doc: Mapping[str, Any]) -> Context:
    """The command's Context for work on `host`'s engine (itself when that is its own)."""
    from . import hosts

    if host == current_host(ctx):
        return ctx
    return ctx.on(ctx.connect(hosts.options_for(doc["hosts"][host], ctx.engine.opts)), host)


def chosen_host(ctx: Context, doc: Mapping[str, Any], name: str | None) -> str | None:
    """The host named by HOST: or --host: a known engine's name (bound now), or a docker
    context or endpoint cilo has not used yet (the engine it names, bound; None: not in
    state yet)."""
    from . import hosts

    name = name or ctx.host_option
    if name is None:
        return None
    key = hosts.resolve(doc, name)
    if key is not None:
        use_host(ctx, key, doc, "as asked,")
        return key
    from .engine.options import DockerOptions
    from .engine.socketapi import resolve_host

    current = ctx.engine.opts
    if "://" in name:  # an endpoint, as -H names one
        opts = DockerOptions(host=name, config=current.config, log_level=current.log_level)
    elif resolve_host(None, name, current.config) is not None:
        opts = DockerOptions(context=name, config=current.config, log_level=current.log_level)
    else:
        raise hosts.unknown(doc, name)
    here = hosts.here(current)
    if here.endpoint == hosts.here(opts).endpoint:  # the engine the command already speaks to
        ctx.bind(ctx.engine, hosts.by_endpoint(doc, here))
        return ctx.host
    engine = ctx.connect(opts)
    ctx.bind(engine, hosts.by_endpoint(doc, hosts.here(opts)))
    return ctx.host


def locate(ctx: Context, ref: str, st: store.State | None = None) -> tuple[str, Record] | None:
    """The (host, record) of environment `ref` (ENV, PROJECT/ENV, HOST:...), with the
    command bound to its engine; None when it exists nowhere (the command is then bound
    to the engine a new one would be made on).

    An environment on one engine is found whatever the current context is; one on several
    engines needs HOST: or --host unless one of them is the current engine.
    """
    from . import hosts

    named, rest = hosts.split_qualified(ref)
    project, env = split_ref(rest, ctx.project)
    st = st or store.read_state()
    wanted = chosen_host(ctx, st.doc, named)
    project = project or current_project(ctx, st=st) or ""
    key = env_key(project, env)
    found = st.find(key)
    if wanted is not None or named or ctx.host_option:
        found = [(h, r) for h, r in found if h == wanted]
    if not found:
        return None
    if len(found) > 1:
        here = current_host(ctx, st)
        mine = [(h, r) for h, r in found if h == here]
        if not mine:
            names = " and ".join(hosts.shown(st.doc["hosts"][h]) for h, _ in found)
            raise CiloError(f"environment {key} exists on engines {names}; name the one: "
                            f"docker cilo VERB {st.doc['hosts'][found[0][0]]['name']}:{env} "
                            "(or --host NAME)")
        found = mine
    host, record = found[0]
    use_host(ctx, host, st.doc)
    return host, record


def get_env(ctx: Context, ref: str, check_options: bool = True) -> Record:
    """The state record of an existing environment, or a clear error; the command is bound
    to the engine it lives on.

    Compose options that change what the environment runs (`-f`, `--env-file`,
    `--profile`) are applied by `up`/`create` only; any other command given ones that
    differ from the record refuses, naming the command that applies them.
    """
    found = locate(ctx, ref)
    if found is None:
        from . import hosts

        named, rest = hosts.split_qualified(ref)
        project, env = split_ref(rest, ctx.project)
        project = project or current_project(ctx) or ""
        where = f" on engine {named or ctx.host_option}" if named or ctx.host_option else ""
        raise NoSuchEnvironment(
            f"environment {env_key(project, env)} does not exist{where}; create it with "
            f"`docker cilo up {env}` in the project folder, or see `docker cilo list --all`"
        )
    _, record = found
    if check_options and (changes := option_changes(ctx, record)):
        raise CiloError(
            f"environment {record_key(record)} runs with other compose options than "
            f"{'; '.join(changes)}; to run it with these, run: docker cilo "
            f"{' '.join(given_options(ctx))} up {record['name']} (other commands use what it records)")
    return record


def given_options(ctx: Context) -> list[str]:
    c = ctx.compose
    return ([a for f in c.files for a in ("-f", f)] + [a for f in c.env_files for a in ("--env-file", f)]
            + [a for p in c.profiles for a in ("--profile", p)])


def option_changes(ctx: Context, record: Record) -> list[str]:
    """The compose options given now that differ from what the environment records."""
    from .project import absolute_path

    c, out = ctx.compose, []
    if c.profiles and sorted(c.profiles) != sorted(record["profiles"]):
        out.append(f"--profile {','.join(c.profiles)} (it has {','.join(record['profiles']) or 'none'})")
    if c.files and [absolute_path(f, ctx.cwd) for f in c.files] != record["compose_files"]:
        out.append(f"-f {' '.join(c.files)} (it has {' '.join(record['compose_files'])})")
    if c.env_files and [absolute_path(f, ctx.cwd) for f in c.env_files] != record["env_files"]:
        out.append(f"--env-file {' '.join(c.env_files)} (it has {' '.join(record['env_files']) or 'none'})")
    return out


def drift(ctx: Context, records: list[Record]) -> dict[str, list[str]]:
    """Subnet overlaps that appeared since allocation (a VPN came up); {} if unknown."""
    if not records:
        return {}
    try:
        from .network import envnet

        return envnet.drift(records, envnet.engine_taken(ctx.engine, ctx.routes()))
    except CiloError as e:
        ctx.say(f"warning: cannot check subnets for overlaps: {e}")
        return {}


def selector(record: Record) -> dict[str, str]:
    return env_labels(record["project"], record["name"])
