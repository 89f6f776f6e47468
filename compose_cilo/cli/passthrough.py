"""`docker cilo compose ENV ARGS`: any docker compose command line against environment
ENV's copy, named explicitly; it hands the terminal to compose and exits with its status.
A command line that starts with one of compose's commands gets what the drop-in adds
around it (dropin.py: `run`'s layer, `port`'s answer, the copy recorded after)."""

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
    from .. import dropin
    from ..envrecord import env_target
    from ..procs import run_attached
    from ..queries import get_env
    from .commands import COMPOSE_VERBS

    ctx = context_of(c)
    record = get_env(ctx, env)  # an existing environment: compose ENV never makes one
    words = args or []
    if words and words[0] in COMPOSE_VERBS and words[0] not in dropin.REFUSED:
        raise typer.Exit(dropin.run(ctx, env, dropin.Request(words[0], tuple(words[1:]), tuple(compose_options(c)))))
    argv = [*ctx.engine.compose_argv(env_target(record)), *compose_options(c), *words]
    raise typer.Exit(run_attached(argv))
