"""compose's own commands against a copy, and `with`.

`docker cilo VERB ARGS` runs `docker compose VERB ARGS` on the selected environment's
copy (`--env`, CILO_ENV, `docker cilo use`), or on the environment named first when none
is selected (`docker cilo stop alpha`). The arguments go to compose as given; the
domain side (making the copy, recording it) is dropin.py's.

Two ENV-first forms keep cilo's own meaning: `docker cilo up ENV` starts the copy in the
background and prints its addresses, and `docker cilo create ENV` alone prepares it
(network, subnet, override) without containers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..errors import UsageError
from .commands import COMPOSE_VERBS
from .session import compose_options, context_of, env_of, selected

if TYPE_CHECKING:
    from ..dropin import Request

family = typer.Typer()
RAW = {"ignore_unknown_options": True, "allow_extra_args": True, "help_option_names": []}
# cilo's options of the commands that make a copy; compose has none of these names
PUBLISHING = ("--publish", "--no-publish")
MAKING = {"up": ("--copy", "--strict", "--recreate", *PUBLISHING),
          "create": ("--copy", "--strict", "--recreate", *PUBLISHING),
          "run": ("--copy", "--strict")}  # compose's run has a --publish of its own
HELP = {
    "--copy": "run the copy from a copy of the project under the cilo home",
    "--strict": "refuse a project whose copies would share something with your stack",
    "--recreate": "recreate containers and networks on the lowest free subnets",
    "--publish": "publish each port the services declare on a free host port of the engine host "
                 "(kept for later commands; the default in router mode)",
    "--no-publish": "publish no host port (kept for later commands)",
}


def _run(c: typer.Context, verb: str, args: list[str]) -> None:
    from .. import dropin

    if args[:1] in (["-h"], ["--help"]):
        raise typer.Exit(_help(c, verb))
    if verb in dropin.REFUSED:
        raise UsageError(f"docker cilo {verb} is refused: {verb} {dropin.REFUSED[verb]}")
    end = args.index("--") if "--" in args else len(args)
    own = {a for a in args[:end] if a in MAKING.get(verb, ())}
    args = [a for i, a in enumerate(args) if i >= end or a not in own]
    chosen = selected(c)
    named_first = chosen is None
    if chosen is not None:
        env = chosen
    else:
        dashes = args[:1] == ["--"]  # `docker cilo VERB -- ENV ...`: a name that starts like an option
        args = args[1:] if dashes else args
        if not args or (args[0].startswith("-") and not dashes):
            raise UsageError(f"docker cilo {verb} needs an environment: select one with --env ENV, "
                             f"CILO_ENV=ENV or docker cilo use ENV, or name it right after the command: "
                             f"docker cilo {verb} ENV {' '.join(args)}".rstrip())
        env = env_of(c, args[0])
        args = args[1:]
    force = ["--force-recreate"] if "--recreate" in own and verb in ("up", "create") else []
    if set(PUBLISHING) <= own:
        raise UsageError(f"docker cilo {verb}: --publish and --no-publish contradict each other; give one")
    publish = True if "--publish" in own else False if "--no-publish" in own else None
    req = dropin.Request(verb, tuple(force + args), tuple(compose_options(c)), copy="--copy" in own,
                         strict="--strict" in own, recreate="--recreate" in own, publish=publish)
    ctx = context_of(c)
    if named_first and verb == "create" and not args:
        _create(c, env, req)
    if named_first and verb == "up":
        _up_in_background(c, env, req)
    raise typer.Exit(dropin.run(ctx, env, req))


def _create(c: typer.Context, env: str, req: Request) -> None:
    """`docker cilo create ENV`: the copy's network, subnet and override, no container."""
    from .. import lifecycle
    from ..model import record_key

    record = lifecycle.create(context_of(c), env, copy=req.copy, strict=req.strict, publish=req.publish)
    print(f"environment {record_key(record)} created on {record['subnet']}")
    raise typer.Exit(0)


def _up_in_background(c: typer.Context, env: str, req: Request) -> None:
    """`docker cilo up ENV [ARGS]`: compose's `up --detach --remove-orphans ARGS`, then the
    copy's status and addresses."""
    from .. import dropin
    from ..queries import get_env
    from . import output
    from .envs import urls

    ctx = context_of(c)
    code = dropin.run(ctx, env, req._replace(args=("--detach", "--remove-orphans", *req.args)))
    if code == 0:
        record = get_env(ctx, env, check_options=False)
        print(output.env_status(record, urls(record, ctx.host)))
    raise typer.Exit(code)


def _help(c: typer.Context, verb: str) -> int:
    """cilo's word on the command, then compose's own help for it."""
    from ..procs import run_attached

    own = "".join(f"\n  {o:<12} {HELP[o]}" for o in MAKING.get(verb, ()))
    print(f"docker cilo {verb}: docker compose {verb} against a copy.\n\n"
          f"  docker cilo [--env ENV] {verb} ARGS   the selected environment's copy\n"
          f"  docker cilo {verb} ENV ARGS           environment ENV's copy, when none is selected\n"
          + (f"\ncilo's own options:{own}\n" if own else "")
          + (f"\nWithout a selection, `docker cilo {verb} ENV` " + (
              "starts the copy in the background and prints its addresses.\n" if verb == "up"
              else "alone prepares the copy (network, subnet, override) without containers.\n")
             if verb in ("up", "create") else "")
          + "\ndocker compose's help follows.\n")
    session = c.find_root().obj
    return run_attached([*session.docker.argv(), "compose", verb, "--help"])


def _register(verb: str) -> None:
    def command(c: typer.Context,
                args: list[str] | None = typer.Argument(None, help="compose's arguments, as given")) -> None:
        _run(c, verb, list(args or []))

    command.__doc__ = f"docker compose {verb}, against the copy."
    family.command(verb, context_settings=RAW, add_help_option=False, hidden=verb == "publish")(command)


for _verb in COMPOSE_VERBS:
    _register(_verb)


@family.command("with", context_settings=RAW, add_help_option=False)
def with_(c: typer.Context,
          args: list[str] | None = typer.Argument(None, help="[ENV] -- CMD ARGS")) -> None:
    """Run a host command with the copy's variables, in its workspace: with [ENV] -- CMD.

    The copy is created and started first if needed. CMD sees CILO_ENV, CILO_PROJECT,
    CILO_WORKSPACE, CILO_DNS_SUFFIX and CILO_BASE_URL, and CILO_<SERVICE>_<PORT>=HOST:PORT
    for each port the copy publishes (--publish).
    """
    import os

    from .. import config, lifecycle
    from ..names import project_dns_label
    from ..procs import run_attached
    from ..reach import ports

    words = list(args or [])
    if words[:1] in (["-h"], ["--help"]):
        print("usage: docker cilo with [ENV] -- CMD ARGS\n\nRun CMD on this host in the copy's "
              "workspace, with CILO_ENV, CILO_PROJECT, CILO_WORKSPACE, CILO_DNS_SUFFIX and "
              "CILO_BASE_URL set (and CILO_<SERVICE>_<PORT>=HOST:PORT for each port it publishes); "
              "the copy is created and started first if needed. Without ENV, "
              "the selected environment (then `--` comes first).")
        raise typer.Exit(0)
    if words[:1] == ["--"]:
        env, command = env_of(c, None), words[1:]
    elif words:
        env, command = env_of(c, words[0]), words[1:]
        command = command[1:] if command[:1] == ["--"] else command
    else:
        env, command = "", []
    if not command:
        raise UsageError("docker cilo with needs a command: docker cilo with ENV -- CMD ARGS "
                         "(or, with an environment selected, docker cilo with -- CMD ARGS)")
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
    child_env.update(ports.variables(record))  # CILO_DB_5432=127.0.0.1:49154 when published
    raise typer.Exit(run_attached(command, env=child_env, cwd=record["workspace"]))
