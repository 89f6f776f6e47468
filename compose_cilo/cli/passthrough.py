"""The pass-through commands: `logs`, `exec` and `compose` run docker compose against an
environment's copy, `run` a host command in its workspace; each hands the terminal to
the child and exits with its status."""

from __future__ import annotations

import os
import sys

import typer

from .session import context_of

family = typer.Typer()
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@family.command(context_settings=PASSTHROUGH)
def logs(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    services: list[str] | None = typer.Argument(None, help="Services (default: all)."),
    follow: bool = typer.Option(False, "-f", "--follow", help="Follow log output."),
    tail: str | None = typer.Option(None, "--tail", help="Lines from the end of each log."),
) -> None:
    """Show the environment's logs (docker compose logs)."""
    args = ["logs", *(["--follow"] if follow else []), *(["--tail", tail] if tail else [])]
    _compose_exec(c, env, [*args, *(services or [])])


@family.command("exec", context_settings=PASSTHROUGH)
def exec_(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    service: str = typer.Argument(..., help="Service to run the command in."),
    command: list[str] | None = typer.Argument(
        None, help="Command and arguments (default: sh); everything after SERVICE is the command's."),
    detach: bool = typer.Option(False, "-d", "--detach", help="Run the command in the background."),
    env_vars: list[str] | None = typer.Option(
        None, "-e", "--env", help="Set an environment variable (KEY=VALUE, repeatable)."),
    index: int | None = typer.Option(None, "--index", help="Which replica of the service."),
    no_tty: bool = typer.Option(
        False, "-T", "--no-TTY", help="Do not allocate a TTY (the default when stdin or stdout is not a terminal)."),
    privileged: bool = typer.Option(False, "--privileged", help="Give extended privileges to the process."),
    user: str | None = typer.Option(None, "-u", "--user", help="Run the command as this user."),
    workdir: str | None = typer.Option(None, "-w", "--workdir", help="Working directory for the command."),
) -> None:
    """Run a command in a running service container (docker compose exec)."""
    tty = no_tty or not (sys.stdin.isatty() and sys.stdout.isatty())
    opts = [*(["--detach"] if detach else []), *(["-T"] if tty else []),
            *(["--privileged"] if privileged else []),
            *[a for e in env_vars or () for a in ("--env", e)],
            *(["--index", str(index)] if index is not None else []),
            *(["--user", user] if user else []), *(["--workdir", workdir] if workdir else [])]
    _compose_exec(c, env, ["exec", *opts, service, *(command or ["sh"])])


@family.command("compose", context_settings=PASSTHROUGH)
def compose_(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    args: list[str] | None = typer.Argument(None, help="Any docker compose command and its arguments."),
) -> None:
    """Run any docker compose command against the environment's copy."""
    _compose_exec(c, env, list(args or []))


def _compose_exec(c: typer.Context, env: str, args: list[str]) -> None:
    from ..envrecord import env_target
    from ..procs import run_attached
    from ..queries import get_env

    ctx = context_of(c)
    record = get_env(ctx, env)
    raise typer.Exit(run_attached(ctx.engine.compose_argv(env_target(record)) + args))


@family.command("run", context_settings=PASSTHROUGH)
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
