"""The command line: parse arguments, call one domain function, print its result.

It never talks to Docker itself; errors reach the one boundary in main.py.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Optional

import typer

from .. import __version__
from ..errors import CiloError
from ..model import record_key
from .session import EngineFactory, Session, context_of

app = typer.Typer(
    name="cilo",
    help="Run isolated copies of this Docker Compose project side by side.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


def _version(value: bool) -> None:
    if value:
        print(f"docker cilo version {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    file: Optional[list[str]] = typer.Option(None, "-f", "--file", help="Compose configuration files (repeatable), as for docker compose."),
    profile: Optional[list[str]] = typer.Option(None, "--profile", help="Compose profiles to enable (repeatable)."),
    env_file: Optional[list[str]] = typer.Option(None, "--env-file", help="Alternate environment files (repeatable)."),
    project_directory: Optional[str] = typer.Option(None, "--project-directory", help="Alternate working directory."),
    project_name: Optional[str] = typer.Option(None, "-p", "--project-name", help="Compose project name."),
    project: Optional[str] = typer.Option(None, "--project", help="Address an existing environment of project NAME from anywhere."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
    version: bool = typer.Option(False, "--version", "-v", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Run isolated copies of this Docker Compose project side by side.

    Each environment gets its own network and /24 subnet, no published host ports, its
    own containers and volumes, and names like http://web.ENV.test.
    """


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _urls(record: dict[str, Any]) -> dict[str, list[str]]:
    from ..dns.zone import names_for_env
    from .. import config
    from ..state import store

    names = names_for_env(store.read_state().doc, record_key(record),
                          config.dns_suffix())
    services = record["services"]
    return {svc: [f"http://{n}" for n in ns[:1]] for svc, ns in names.items()
            if services.get(svc, {}).get("status") != "not created"}


@app.command()
def up(
    c: typer.Context,
    env: str = typer.Argument(..., help="Environment name (a DNS label)."),
    build: bool = typer.Option(False, "--build", help="Build images before starting."),
    recreate: bool = typer.Option(False, "--recreate", help="Recreate containers and network (moves to a free subnet)."),
    copy: bool = typer.Option(False, "--copy", help="Run from a copy of the project under the cilo home."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a project whose copies would share something with your stack (host network, host folders, external volumes...)."),
) -> None:
    """Create the environment if needed and start it."""
    from .. import lifecycle
    from . import output

    record = lifecycle.up(context_of(c), env, build=build, recreate=recreate, copy=copy, strict=strict)
    print(output.env_status(record, _urls(record)))


@app.command()
def create(
    c: typer.Context,
    env: str = typer.Argument(..., help="Environment name (a DNS label)."),
    copy: bool = typer.Option(False, "--copy", help="Run from a copy of the project under the cilo home."),
    strict: bool = typer.Option(False, "--strict", help="Refuse a project whose copies would share something with your stack (host network, host folders, external volumes...)."),
) -> None:
    """Create the environment (network, subnet, override, state) without starting it."""
    from .. import lifecycle

    record = lifecycle.create(context_of(c), env, copy=copy, strict=strict)
    print(f"environment {record_key(record)} created on {record['subnet']}")


@app.command()
def down(c: typer.Context, env: str = typer.Argument(..., help="ENV or PROJECT/ENV.")) -> None:
    """Stop the environment's containers (everything is kept)."""
    from .. import lifecycle

    record = lifecycle.down(context_of(c), env)
    print(f"environment {record_key(record)} stopped")


@app.command()
def destroy(
    c: typer.Context,
    env: Optional[str] = typer.Argument(None, help="ENV or PROJECT/ENV."),
    all_: bool = typer.Option(False, "--all", help="Destroy every environment of this project (the one in this folder, or --project NAME)."),
    all_projects: bool = typer.Option(False, "--all-projects", help="Destroy every environment of every project of this cilo home."),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove the environment: containers, networks, volumes, workspace and state entry."""
    from .. import lifecycle

    ctx = context_of(c)
    if sum((bool(env), all_, all_projects)) != 1:
        raise CiloError("give one of: an environment name, --all (this project's environments) "
                        "or --all-projects; e.g. docker cilo destroy dev")
    if all_ or all_projects:
        keys = lifecycle.destroy_all_plan(ctx, every_project=all_projects)
        what = "every project's environments" if all_projects else "this project's environments"
        print(f"{what} to destroy, with their volumes: {', '.join(keys) or 'none'}", file=sys.stderr)
        if keys and not force:
            if not sys.stdin.isatty():
                raise CiloError(f"destroy would remove {len(keys)} environment(s) listed above; "
                                "add --force to confirm")
            if not typer.confirm(f"destroy {len(keys)} environment(s)?"):
                raise typer.Exit(1)
        done = lifecycle.destroy_keys(ctx, keys)
        print(f"destroyed {len(done)} environment(s)" + "".join(f"\n  {k}" for k in done))
        return
    record = lifecycle.get_env(ctx, env or "")
    key = record_key(record)
    if not force and sys.stdin.isatty() and not typer.confirm(f"destroy {key} and its volumes?"):
        raise typer.Exit(1)
    lifecycle.destroy(ctx, env or "")
    print(f"environment {key} destroyed")


@app.command("list")
def list_(
    c: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Environments of every project."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List this project's environments (--all: every project's)."""
    from . import output
    from .. import queries

    records, overlaps = queries.list_records(context_of(c), all_)
    print(output.list_text(records, overlaps, as_json))


app.command("ls", hidden=True, help="Same as list (compose's spelling).")(list_)


@app.command()
def status(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Show one environment: status, subnet, services, addresses and URLs."""
    from .. import lifecycle, queries
    from . import output

    ctx = context_of(c)
    record = lifecycle.live_view(ctx, lifecycle.get_env(ctx, env))
    urls = _urls(record)
    overlaps = queries.drift(ctx, [record]).get(record_key(record), [])
    if as_json:
        _print_json(output.env_json(record, urls, overlaps))
    else:
        print(output.env_status(record, urls, overlaps))


@app.command()
def path(c: typer.Context, env: str = typer.Argument(..., help="ENV or PROJECT/ENV.")) -> None:
    """Print the environment's workspace folder."""
    from .. import lifecycle

    print(lifecycle.get_env(context_of(c), env)["workspace"])


@app.command(context_settings=PASSTHROUGH)
def logs(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    services: Optional[list[str]] = typer.Argument(None, help="Services (default: all)."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Follow log output."),
    tail: Optional[str] = typer.Option(None, "--tail", help="Lines from the end of each log."),
) -> None:
    """Show the environment's logs (docker compose logs)."""
    args = ["logs", *(["--follow"] if follow else []), *(["--tail", tail] if tail else [])]
    _compose_exec(c, env, [*args, *(services or [])])


@app.command("exec", context_settings=PASSTHROUGH)
def exec_(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    service: str = typer.Argument(..., help="Service to run the command in."),
    command: Optional[list[str]] = typer.Argument(None, help="Command and arguments (default: sh); everything after SERVICE is the command's."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run the command in the background."),
    env_vars: Optional[list[str]] = typer.Option(None, "-e", "--env", help="Set an environment variable (KEY=VALUE, repeatable)."),
    index: Optional[int] = typer.Option(None, "--index", help="Which replica of the service."),
    no_tty: bool = typer.Option(False, "-T", "--no-TTY", help="Do not allocate a TTY (the default when stdin or stdout is not a terminal)."),
    privileged: bool = typer.Option(False, "--privileged", help="Give extended privileges to the process."),
    user: Optional[str] = typer.Option(None, "-u", "--user", help="Run the command as this user."),
    workdir: Optional[str] = typer.Option(None, "-w", "--workdir", help="Working directory for the command."),
) -> None:
    """Run a command in a running service container (docker compose exec)."""
    tty = no_tty or not (sys.stdin.isatty() and sys.stdout.isatty())
    opts = [*(["--detach"] if detach else []), *(["-T"] if tty else []),
            *(["--privileged"] if privileged else []),
            *[a for e in env_vars or () for a in ("--env", e)],
            *(["--index", str(index)] if index is not None else []),
            *(["--user", user] if user else []), *(["--workdir", workdir] if workdir else [])]
    _compose_exec(c, env, ["exec", *opts, service, *(command or ["sh"])])


@app.command("compose", context_settings=PASSTHROUGH)
def compose_(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    args: Optional[list[str]] = typer.Argument(None, help="Any docker compose command and its arguments."),
) -> None:
    """Run any docker compose command against the environment's copy."""
    _compose_exec(c, env, list(args or []))


def _compose_exec(c: typer.Context, env: str, args: list[str]) -> None:
    from .. import lifecycle
    from ..procs import run_attached

    ctx = context_of(c)
    record = lifecycle.get_env(ctx, env)
    raise typer.Exit(run_attached(ctx.engine.compose_argv(lifecycle.env_target(record)) + args))


@app.command("run", context_settings=PASSTHROUGH)
def run_cmd(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    command: list[str] = typer.Argument(..., help="Command to run on the host in the workspace."),
) -> None:
    """Create and start the environment if needed, then run CMD in its workspace.

    CMD sees CILO_ENV, CILO_PROJECT, CILO_WORKSPACE, CILO_DNS_SUFFIX and CILO_BASE_URL.
    """
    from .. import config, lifecycle
    from ..names import project_dns_label
    from ..procs import run_attached

    ctx = context_of(c)
    record = lifecycle.ensure_running(ctx, env)
    suffix = config.dns_suffix()
    child_env = dict(os.environ)
    child_env.update(
        CILO_ENV=record["name"],
        CILO_PROJECT=record["project"],
        CILO_WORKSPACE=record["workspace"],
        CILO_DNS_SUFFIX=suffix,
        CILO_BASE_URL=f"http://{project_dns_label(record['project'])}.{record['name']}.{suffix}",
    )
    raise typer.Exit(run_attached(command, env=child_env, cwd=record["workspace"]))


@app.command()
def doctor(
    c: typer.Context,
    fix: bool = typer.Option(False, "--fix", help="Repair what can be repaired."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove unknown labelled resources without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print {ok, checks: [...]} as JSON."),
    adopt_foreign: bool = typer.Option(False, "--adopt-foreign", help="With --fix: also adopt environments of another cilo home on this engine (only if they are yours)."),
) -> None:
    """Check engine, compose, state and DNS against each other; --fix repairs drift."""
    from .. import doctor as doc

    ctx = context_of(c)
    checks = doc.run_checks(ctx, adopt_foreign=adopt_foreign and fix)
    if fix:
        def confirm(what: str) -> bool:
            if yes:
                return True
            if not sys.stdin.isatty():
                print(f"not removing without --yes: {what}", file=sys.stderr)
                return False
            return typer.confirm(what + "?")

        done = doc.fix(ctx, checks, confirm)
        for line in done:
            print(f"fixed: {line}", file=sys.stderr)
        if done:
            checks = doc.run_checks(ctx)  # what is left (foreign ones stay foreign)
    if as_json:
        _print_json(doc.as_json(checks))
    else:
        print(doc.report(checks))
    raise typer.Exit(0 if doc.as_json(checks)["ok"] else 1)


@app.command()
def version() -> None:
    """Show the version."""
    print(f"docker cilo version {__version__}")


def _register_optional() -> None:
    """DNS commands live in their own module."""
    from .state import state_app
    app.add_typer(state_app, name="state", help="Show or migrate cilo's state file.")
    try:
        from .dns import dns_app, init_command
    except ImportError:  # pragma: no cover - during development only
        return
    app.add_typer(dns_app, name="dns", help="Manage cilo's DNS server (dnsmasq).")

    @app.command()
    def init(
        print_only: bool = typer.Option(False, "--print", help="Only print what would change."),
        uninstall: bool = typer.Option(False, "--uninstall", help="Undo what init did."),
    ) -> None:
        """Make the system send *.test queries to cilo's DNS server."""
        raise typer.Exit(init_command(print_only, uninstall))


_register_optional()


def _end_of_options(args: list[str]) -> list[str]:
    """Mark where a pass-through command's own arguments start with `--`, as docker and
    compose do: everything after `exec ENV SERVICE`, `run ENV` and `compose ENV` (a
    `-h`, an `-f`) belongs to the command, not to cilo."""
    from . import commands

    group = typer.main.get_command(app)
    i = _skip_options(args, 0, group.params)
    spec = commands.find(args[i]) if i < len(args) else None
    if not spec or not spec.passthrough:
        return args
    command = group.commands[args[i]]  # type: ignore[attr-defined]
    wanted, i = spec.passthrough, i + 1
    while i < len(args) and wanted:
        if args[i] == "--":
            return args  # the user marked it already
        if args[i].startswith("-") and args[i] != "-":
            i = _skip_options(args, i, command.params)
            continue
        wanted, i = wanted - 1, i + 1
    if wanted or i >= len(args) or args[i] == "--":
        return args
    return [*args[:i], "--", *args[i:]]


def _skip_options(args: list[str], i: int, params: list[Any]) -> int:
    """The index after the options starting at args[i] (an option's value included)."""
    takes_value = {o for p in params if getattr(p, "opts", None) and not getattr(p, "is_flag", True)
                   for o in p.opts}
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        i += 2 if args[i] in takes_value else 1
    return i


def invoke(args: list[str], session: Session) -> int:
    """Run the typer app on cilo's arguments, with the invocation's Session as its root
    context object."""
    # without standalone mode, click returns a command's Exit code instead of raising
    code = app(args=_end_of_options(args), prog_name="docker cilo", standalone_mode=False,
               obj=session)
    return code if isinstance(code, int) else 0


def run(argv: list[str], engine_factory: EngineFactory | None = None) -> int:
    """The typer app alone, no hot paths, inside the one boundary: tests drive every
    command through it, handing in a fake engine."""
    from .main import boundary

    return boundary(argv, invoke, engine_factory)
