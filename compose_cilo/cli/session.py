"""One invocation's collaborators, made once per command line and handed to every command.

The typer app carries a Session as its root context object (`find_root().obj`) and the
hot paths get the same one, so nothing lives in a module global and a test hands in a
fake engine through `engine_factory` instead of patching.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # typer and the queries are imported by the commands that use them
    import typer

    from ..engine.options import DockerOptions
    from ..queries import Context

EngineFactory = Callable[[], Any]


class Session:
    """Docker's global options, how to make the engine, and the Context made from them."""

    def __init__(self, docker: DockerOptions, engine_factory: EngineFactory | None = None) -> None:
        self.docker = docker
        self.engine_factory = engine_factory
        self._context: Context | None = None

    def context(self, params: Mapping[str, Any]) -> Context:
        """The Context of cilo's own options (`-f`, `-p`, `--project`...), made when a
        command first needs it: `state`, `dns` and `version` never check `-p` nor make an
        engine."""
        if self._context is None:
            self._context = self._make_context(params)
        return self._context

    def _make_context(self, p: Mapping[str, Any]) -> Context:
        from ..engine.client import connect
        from ..names import check_project_name
        from ..project import ComposeOptions
        from ..queries import Context

        engine = self.engine_factory() if self.engine_factory else connect(self.docker)
        return Context(
            engine=engine,
            compose=ComposeOptions(
                files=tuple(p.get("file") or ()),
                profiles=tuple(p.get("profile") or ()),
                env_files=tuple(p.get("env_file") or ()),
                project_directory=p.get("project_directory"),
                project_name=check_project_name(pn) if (pn := p.get("project_name")) is not None else None,
            ),
            project=p.get("project"),
            host=p.get("host"),
        )


# compose's global options that change how it works, not what it acts on: passed on as given
COMPOSE_FLAGS = {"dry_run": "--dry-run", "compatibility": "--compatibility", "all_resources": "--all-resources"}
COMPOSE_VALUES = {"ansi": "--ansi", "progress": "--progress", "parallel": "--parallel"}


def compose_options(c: typer.Context) -> list[str]:
    """compose's own global options given before the command (`--ansi never`, `--dry-run`)."""
    p = c.find_root().params
    return ([o for k, o in COMPOSE_FLAGS.items() if p.get(k)]
            + [a for k, o in COMPOSE_VALUES.items() if p.get(k) is not None for a in (o, str(p[k]))])


def selected(c: typer.Context) -> str | None:
    """The selected environment (--env, CILO_ENV, `docker cilo use`), if any.

    A selection and `-p` together are refused: the copy is the selected environment's own
    compose project, and -p would name another one."""
    import os

    from ..errors import UsageError
    from ..selection import project_folder, select

    ctx = context_of(c)
    chosen = select(c.find_root().params.get("env"), project_folder(ctx.compose, ctx.cwd), os.environ, ctx.cwd)
    if chosen and ctx.compose.project_name is not None:
        raise UsageError(
            f"-p {ctx.compose.project_name} names a compose project, and with environment {chosen.env} "
            f"selected (from {chosen.source}) docker cilo acts on that copy's own project; drop -p, or "
            "name the environment and the project instead: docker cilo -p NAME VERB ENV ... with no "
            "selection (--env, CILO_ENV, docker cilo use --clear)")
    return chosen.env if chosen else None


def env_of(c: typer.Context, given: str | None) -> str:
    """The environment a command acts on: the one named on its command line, else the
    selected one (--env, CILO_ENV, `docker cilo use`), else a clear error."""
    from ..errors import UsageError

    option = c.find_root().params.get("env")
    if given is not None:
        if option and option != given and given.rpartition("/")[2] != option:
            raise UsageError(f"--env {option} and the environment {given} disagree; give one of them")
        return given
    chosen = selected(c)
    if chosen is None:
        raise UsageError(f"docker cilo {c.info_name} needs an environment: name one (docker cilo "
                         f"{c.info_name} dev), or select one with --env ENV, CILO_ENV=ENV or "
                         "docker cilo use ENV")
    return chosen


def context_of(c: typer.Context) -> Context:
    """The Context of the invocation a typer command runs in."""
    root = c.find_root()
    session: Session = root.obj
    return session.context(root.params)
