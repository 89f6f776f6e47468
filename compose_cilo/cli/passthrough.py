"""`docker cilo compose ENV ARGS`: any docker compose command line against environment
ENV's copy, named explicitly; it hands the terminal to compose and exits with its status."""

from __future__ import annotations

import typer

from .session import compose_options, context_of

family = typer.Typer()
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True}


@family.command("compose", context_settings=PASSTHROUGH)
def compose_(
    c: typer.Context,
    env: str = typer.Argument(..., help="ENV or PROJECT/ENV."),
    args: list[str] | None = typer.Argument(None, help="Any docker compose command and its arguments."),
) -> None:
    """Run any docker compose command against the environment's copy."""
    from ..envrecord import env_target
    from ..procs import run_attached
    from ..queries import get_env

    ctx = context_of(c)
    record = get_env(ctx, env)
    argv = [*ctx.engine.compose_argv(env_target(record)), *compose_options(c), *(args or [])]
    raise typer.Exit(run_attached(argv))
