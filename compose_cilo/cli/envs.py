"""cilo's own environment commands: destroy, list, status, path and use (making, starting
and stopping copies are compose's verbs, in verbs.py)."""

from __future__ import annotations

import sys
from typing import Any

import typer

from ..errors import CiloError
from ..model import record_key
from .session import context_of, env_of

family = typer.Typer()
SELECTED_HELP = "ENV or PROJECT/ENV (default: the selected environment)."


def urls(record: dict[str, Any], host: str | None) -> dict[str, list[str]]:
    """Each service's URLs: by its first name, through the router of its engine (`host`)
    when that engine is reached through one."""
    from .. import config
    from ..dns.zone import names_for_env
    from ..state import store

    doc = store.read_state().doc
    names = names_for_env(doc, record_key(record), config.dns_suffix(), host)
    services = record["services"]
    routed = ((doc.get("hosts", {}).get(host) or {}).get("reach") or {}).get("mode") == "router"
    http, https = (config.get("router_http_port"), config.get("router_https_port")) if routed else (80, 0)

    def links(name: str) -> list[str]:  # through the router: HTTP and HTTPS on its ports
        return [f"http://{name}{'' if http == 80 else f':{http}'}",
                *([f"https://{name}{'' if https == 443 else f':{https}'}"] if routed else [])]

    return {svc: [u for n in ns[:1] for u in links(n)] for svc, ns in names.items()
            if services.get(svc, {}).get("status") != "not created"}


@family.command()
def destroy(
    c: typer.Context,
    env: str | None = typer.Argument(None, help=SELECTED_HELP),
    all_: bool = typer.Option(
        False, "--all", help="Destroy every environment of this project (the one in this folder, or --project NAME)."),
    all_projects: bool = typer.Option(
        False, "--all-projects", help="Destroy every environment of every project of this cilo home."),
    force: bool = typer.Option(False, "--force", help="Do not ask for confirmation."),
) -> None:
    """Remove the environment: containers, networks, volumes, workspace and state entry."""
    from .. import teardown
    from ..queries import get_env

    ctx = context_of(c)
    if env is None and not (all_ or all_projects):
        env = env_of(c, None)
    if sum((bool(env), all_, all_projects)) != 1:
        raise CiloError("give one of: an environment name, --all (this project's environments) "
                        "or --all-projects; e.g. docker cilo destroy dev")
    if all_ or all_projects:
        keys = teardown.destroy_all_plan(ctx, every_project=all_projects)
        what = "every project's environments" if all_projects else "this project's environments"
        shown = teardown.plan_names(ctx, keys)
        print(f"{what} to destroy, with their volumes: {', '.join(shown) or 'none'}", file=sys.stderr)
        if keys and not force:
            if not sys.stdin.isatty():
                raise CiloError(f"destroy would remove {len(keys)} environment(s) listed above; "
                                "add --force to confirm")
            if not typer.confirm(f"destroy {len(keys)} environment(s)?"):
                raise typer.Exit(1)
        done = teardown.destroy_keys(ctx, keys)
        print(f"destroyed {len(done)} environment(s)" + "".join(f"\n  {k}" for k in done))
        return
    record = get_env(ctx, env or "")
    key = record_key(record)
    if not force and sys.stdin.isatty() and not typer.confirm(f"destroy {key} and its volumes?"):
        raise typer.Exit(1)
    teardown.destroy(ctx, env or "")
    print(f"environment {key} destroyed")


@family.command("list")
def list_(
    c: typer.Context,
    all_: bool = typer.Option(False, "--all", "-a", help="Environments of every project."),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array."),
) -> None:
    """List this project's environments (--all: every project's)."""
    from .. import queries
    from . import output

    listed, overlaps, elsewhere = queries.list_records(context_of(c), all_)
    print(output.list_text(listed, overlaps, as_json, all_, elsewhere))


family.command("ls", hidden=True, help="Same as list (compose's spelling).")(list_)


@family.command()
def status(
    c: typer.Context,
    env: str | None = typer.Argument(None, help=SELECTED_HELP),
    as_json: bool = typer.Option(False, "--json", help="Print a JSON object."),
) -> None:
    """Show one environment: status, subnet, services, addresses and URLs."""
    from .. import queries
    from ..envrecord import live_view
    from ..reach.router import reach_of
    from . import output

    ctx = context_of(c)
    record = live_view(ctx, queries.get_env(ctx, env_of(c, env)))
    addresses = urls(record, ctx.host)
    overlaps = queries.drift(ctx, [record]).get(record_key(record), [])
    reach = reach_of(ctx)
    if as_json:
        output.print_json({**output.env_json(record, addresses, overlaps),
                           "reach": {"mode": reach.mode, "reason": reach.reason}})
    else:
        print(output.env_status(record, addresses, overlaps, f"{reach.mode} ({reach.reason})"))


@family.command()
def path(c: typer.Context, env: str | None = typer.Argument(None, help=SELECTED_HELP)) -> None:
    """Print the environment's workspace folder."""
    from .. import queries

    print(queries.get_env(context_of(c), env_of(c, env))["workspace"])


@family.command()
def use(
    c: typer.Context,
    env: str | None = typer.Argument(None, help="The environment to remember for this project folder."),
    auto: bool = typer.Option(False, "--auto", help="Follow the git branch: the environment named after it."),
    clear: bool = typer.Option(False, "--clear", help="Forget the remembered environment."),
) -> None:
    """Remember the environment commands in this project folder act on; alone, print the
    selected one and where the choice comes from."""
    import os

    from .. import selection
    from ..errors import UsageError
    from ..names import check_env_name
    from ..project import resolve_target

    ctx = context_of(c)
    if sum((env is not None, auto, clear)) > 1:
        raise UsageError("give one of: ENV, --auto or --clear; e.g. docker cilo use dev")
    project_dir = resolve_target(ctx.compose, ctx.cwd).project_dir  # remembered per project folder
    if env is not None or auto:
        selection.remember(project_dir, check_env_name(env) if env is not None else selection.AUTO)
        print(f"commands in {project_dir} act on {env or 'the environment named after the git branch'} "
              "(forget it: docker cilo use --clear)")
    elif clear:
        forgot = selection.forget(project_dir)
        print(f"forgot the environment of {project_dir}" if forgot else f"nothing remembered for {project_dir}")
    else:
        chosen = selection.select(c.find_root().params.get("env"), project_dir, os.environ, ctx.cwd)
        print(f"{chosen.env} (from {chosen.source})" if chosen else
              "no environment selected; select one with --env ENV, CILO_ENV=ENV or docker cilo use ENV")

