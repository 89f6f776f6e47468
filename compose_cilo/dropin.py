"""compose's own commands against a copy: `docker cilo VERB ARGS` is `docker compose VERB
ARGS` run on the environment's copy (its files plus cilo's override, its project name).

The arguments reach compose as they were given, and compose's output, TTY, signals and
exit status are the command's. cilo adds only what a copy needs around them:
- `up`, `create` and `run` make the environment first when it does not exist (network,
  subnet, override), as compose makes a project's network;
- what starts, stops or removes containers is recorded afterwards (and, for an attached
  `up` or `run`, while it runs), so names resolve while the copy runs and go when it stops;
- `port` answers the container's own address: a copy publishes no host port, and its
  containers are reached at their addresses, so that is where compose's port is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from . import lifecycle
from .envrecord import container_address, env_target, known_home_id, observe_status, run_layer_path, user_target
from .errors import CiloError, NoSuchEnvironment
from .model import COMPOSE_NUMBER_LABEL, COMPOSE_ONEOFF_LABEL, record_key
from .procs import run_attached
from .project import model_from_config
from .queries import Context, Record, get_env, selector
from .teardown import forget_failed_create

PREPARES = frozenset({"up", "create", "run"})  # make the environment first when it is missing
WATCHED = frozenset({"up", "run"})  # may run attached for long: recorded while they run
RECORDED = PREPARES | {"down", "start", "stop", "restart", "kill", "pause", "unpause", "rm", "scale"}
REMOVES = frozenset({"down", "stop", "kill", "rm"})  # of a copy never made: nothing to do, as compose says
# compose's commands a copy cannot mean, and why
REFUSED = {
    "publish": ("publishes the project as an OCI artifact, and a copy's project is your files plus "
                "cilo's override (its names and addresses): publish your own project with docker "
                "compose publish"),
}


class Request(NamedTuple):
    """One compose command for a copy: the verb, its arguments as given, compose's global
    options (`--ansi never`, `--dry-run`...) and cilo's options for making the copy."""

    verb: str
    args: tuple[str, ...] = ()
    compose_options: tuple[str, ...] = ()
    copy: bool = False
    strict: bool = False
    recreate: bool = False
    publish: bool | None = None  # --publish / --no-publish: declared ports on host ports


def run(ctx: Context, ref: str, req: Request) -> int:
    """Run the compose command on environment `ref`'s copy; compose's exit status.

    A copy this command made is removed again when compose fails before making any
    container or volume of it (`up nosuchservice`, a mistyped option): bad input leaves
    nothing behind.
    """
    created, had_home = False, known_home_id() is not None
    if req.verb in PREPARES:
        record, created = lifecycle.prepare(ctx, ref, copy=req.copy, strict=req.strict, recreate=req.recreate,
                                             publish=req.publish)
    else:
        try:
            record = get_env(ctx, ref)
        except NoSuchEnvironment as e:
            if req.verb not in REMOVES:
                raise
            ctx.say(f"{e.args[0].split(';')[0]}: nothing to {req.verb}")
            return 0
    if req.verb == "port" and (answer := port_answer(ctx, record, req.args)) is not None:
        print(answer)
        return 0
    target = env_target(record)
    if req.verb == "run" and run_layer_path(record).is_file():
        target = target._replace(files=(*target.files, str(run_layer_path(record))))
    argv = [*ctx.engine.compose_argv(target), *req.compose_options, req.verb, *req.args]
    code = run_attached(argv, every=_Watcher(ctx, record) if req.verb in WATCHED else None)
    if created and code != 0 and _nothing_made(ctx, record):
        forget_failed_create(ctx, record, made_home=not had_home)
    elif req.verb in RECORDED:
        observe_status(ctx, record)
    return code


def _nothing_made(ctx: Context, record: Record) -> bool:
    labels = selector(record)
    return not ctx.engine.containers(labels) and not ctx.engine.volumes(labels)


class _Watcher:
    """Records the copy's containers whenever what the engine shows of them changes."""

    def __init__(self, ctx: Context, record: Record) -> None:
        self.ctx, self.record, self.seen = ctx, record, frozenset[tuple[str, str]]()

    def __call__(self) -> None:
        containers = self.ctx.engine.containers(selector(self.record))
        now = frozenset((c.id, c.state) for c in containers)
        if now != self.seen:
            self.seen = now
            observe_status(self.ctx, self.record, containers)


def port_answer(ctx: Context, record: Record, args: Sequence[str]) -> str | None:
    """`port SERVICE PRIVATE_PORT` of a copy: HOST:PORT where the engine publishes that
    port of the service's container (--publish), else ADDRESS:PORT of the container when
    the service publishes that port in your stack and this host reaches container
    addresses; None to let compose answer (and say what is wrong, in its words)."""
    from .reach import router

    parsed = _port_args(args)
    if parsed is None:
        return None
    service, number, protocol, index = parsed
    container = next((c for c in ctx.engine.containers(selector(record))
                      if c.service == service and c.labels.get(COMPOSE_ONEOFF_LABEL, "False") == "False"
                      and c.labels.get(COMPOSE_NUMBER_LABEL) == str(index)), None)
    if container is None:
        return None
    for p in container.ports:
        if (p.target, p.protocol) == (number, protocol):
            host = router.engine_address(ctx) if p.on_every_address else p.host  # asked only when needed
            return f"{host}:{p.port}"
    model = model_from_config(ctx.engine.compose_config(user_target(record)))
    svc = model.services.get(service)
    if svc is None or (number, protocol) not in svc.ports:
        return None
    if router.reach_of(ctx).mode == "router":
        raise CiloError(f"environment {record_key(record)}: {service}'s port {number}/{protocol} is not "
                        "published, and this host cannot reach the copy's container addresses: "
                        f"docker cilo up {record['name']} --publish")
    address = container_address(container, record) or next(iter(container.addresses.values()), None)
    return f"{address}:{number}" if address else None


def _port_args(args: Sequence[str]) -> tuple[str, int, str, int] | None:
    """compose port's arguments: (service, port, protocol, index), or None if unusual."""
    words, protocol, index = [], "tcp", "1"
    it = iter(args)
    for a in it:
        name, eq, value = a.partition("=")
        if name in ("--protocol", "--index"):
            value = value if eq else next(it, "")
            protocol, index = (value, index) if name == "--protocol" else (protocol, value)
        elif a.startswith("-"):
            return None
        else:
            words.append(a)
    if len(words) != 2 or not words[1].isdigit() or not index.isdigit():
        return None
    return words[0], int(words[1]), protocol, int(index)
