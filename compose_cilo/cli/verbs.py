"""compose's own commands against a copy: `docker cilo VERB ARGS` runs `docker compose VERB
ARGS` on the selected environment's copy (`--env`, CILO_ENV, `docker cilo use`), or on
the environment named first when none is selected (`docker cilo stop alpha`). The
arguments go to compose exactly as given, and compose's output, TTY and exit status are
the command's. Commands that start, stop or remove containers are recorded afterwards.
"""

from __future__ import annotations

import typer

from ..errors import UsageError
from .commands import COMPOSE_VERBS
from .session import context_of, selected

family = typer.Typer()
PASSTHROUGH = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
# what changes the copy's containers, so the record follows
RECORDED = {"start", "stop", "restart", "kill", "pause", "unpause", "rm", "scale"}


def _run(c: typer.Context, verb: str, args: list[str]) -> None:
    from .. import lifecycle
    from ..envrecord import env_target
    from ..procs import run_attached
    from ..queries import get_env

    env = selected(c)
    if env is None:
        if not args or args[0].startswith("-"):
            raise UsageError(f"docker cilo {verb} needs an environment: select one with --env ENV, "
                             f"CILO_ENV=ENV or docker cilo use ENV, or name it first: docker cilo {verb} ENV")
        env, args = args[0], args[1:]
    ctx = context_of(c)
    record = get_env(ctx, env)
    code = run_attached([*ctx.engine.compose_argv(env_target(record)), verb, *args])
    if verb in RECORDED:
        lifecycle.observe_status(ctx, record)
    raise typer.Exit(code)


def _register(verb: str) -> None:
    def command(c: typer.Context,
                args: list[str] | None = typer.Argument(None, help="compose's arguments, as given")) -> None:
        _run(c, verb, list(args or []))

    command.__doc__ = f"docker compose {verb}, against the copy."
    family.command(verb, context_settings=PASSTHROUGH, add_help_option=False)(command)


for _verb in COMPOSE_VERBS:
    _register(_verb)
