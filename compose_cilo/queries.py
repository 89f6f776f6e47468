"""Finding projects and environments: the read-only queries every command starts with.

Kept apart from lifecycle.py so that `list`, the hottest command, imports only this.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .engine.api import EngineAPI
from .errors import CiloError, NoSuchEnvironment
from .model import env_key, env_labels
from .names import check_env_name, check_project_name
from .project import ComposeOptions, ComposeTarget, NoComposeFile, ProjectModel, model_from_config, resolve_target
from .state import store

if TYPE_CHECKING:
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
    ) -> None:
        self.engine = engine
        self.compose = compose or ComposeOptions()
        self.project = project
        self.cwd = cwd or Path.cwd()
        self.say = say
        self.routes = routes
        self.dns: DnsServer = dns or _Dnsmasq()
        self.reach: Any = None  # how this host reaches the copies: reach/router.reach_of, once


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


def list_records(ctx: Context, every: bool) -> tuple[list[Record], dict[str, list[str]]]:
    """This project's environments (every project's with `every` or outside a project),
    and the subnet overlaps found for them."""
    project: str | None = None
    st = store.read_state()
    if not every:
        if in_project_folder(ctx):
            project = current_project(ctx, ask_compose=False, st=st) or ""
        else:
            ctx.say("not in a compose project folder: listing every project's environments")
    records = [r for _, _, r in st.all_environments() if project is None or r["project"] == project]
    return records, drift(ctx, records)


def get_env(ctx: Context, ref: str, check_options: bool = True) -> Record:
    """The state record of an existing environment, or a clear error.

    Compose options that change what the environment runs (`-f`, `--env-file`,
    `--profile`) are applied by `up`/`create` only; any other command given ones that
    differ from the record refuses, naming the command that applies them.
    """
    project, env = split_ref(ref, ctx.project)
    project = project or current_project(ctx) or ""
    record = store.read_state().environments().get(env_key(project, env))
    if record is None:
        raise NoSuchEnvironment(
            f"environment {env_key(project, env)} does not exist; create it with "
            f"`docker cilo up {env}` in the project folder, or see `docker cilo list --all`"
        )
    if check_options and (changes := option_changes(ctx, record)):
        raise CiloError(
            f"environment {env_key(project, env)} runs with other compose options than "
            f"{'; '.join(changes)}; to run it with these, run: docker cilo "
            f"{' '.join(given_options(ctx))} up {env} (other commands use what it records)")
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
