"""Finding projects and environments: the read-only queries every command starts with.

Kept apart from lifecycle.py so that `list`, the hottest command, imports only this.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .binding import chosen_host, current_host, probe, use_host
from .context import Context, DnsServer
from .errors import CiloError, NoSuchEnvironment
from .model import env_key, env_labels, record_key
from .names import check_env_name, check_project_name
from .project import ComposeTarget, NoComposeFile, ProjectModel, model_from_config, resolve_target
from .state import store
from .state.document import host_name

Record = dict[str, Any]
__all__ = ["Context", "DnsServer", "Record", "get_env", "locate", "list_records", "selector"]


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
    """An environment as `list` shows it: the short name of its host, its record, and
    whether its engine answered (None: not asked, the current engine)."""

    host: str
    record: Record
    reachable: bool | None = None


def list_records(ctx: Context, every: bool) -> tuple[list[Listed], dict[str, list[str]], int]:
    """This project's environments on the current engine (with `every`: every project's on
    every engine, each other engine asked once, at the same time, for at most
    PROBE_TIMEOUT; outside a project: every project's on the current engine), the subnet
    overlaps found for the current engine's, and how many more other engines hold."""
    project: str | None = None
    st = store.read_state()
    if not every:
        if in_project_folder(ctx):
            project = current_project(ctx, ask_compose=False, st=st) or ""
        else:
            ctx.say("not in a compose project folder: listing every project's environments on this engine")
    here = current_host(ctx, st)
    chosen = [(h, r) for h, _, r in st.all_environments() if project is None or r["project"] == project]
    answers = probe(ctx, st.doc, sorted({h for h, _ in chosen if h != here})) if every else {}
    shown = [Listed(host_name(st.doc, h), r, answers.get(h)) for h, r in chosen if every or h == here]
    local = [r for h, r in chosen if h == here]
    return shown, drift(ctx, local), len(chosen) - len(shown)


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
            refs = " or ".join(f"{host_name(st.doc, h)}:{env}" for h, _ in found)
            raise CiloError(f"environment {key} exists on engines {names}; name the one: {refs} "
                            "(or --host NAME before the command)")
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
