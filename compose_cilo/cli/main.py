"""`docker cilo`'s entry point and its one error boundary.

Known errors exit 1 with one line (usage errors 2), ^C exits 130, click's usage errors
show as click shows them, anything else is one "unexpected error" line (the traceback
with --debug). The hot paths and the typer app both run inside it. typer is imported
only when a command line is not a hot path, so this module must not import it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from ..errors import CiloError, report
from .session import EngineFactory, Session

Handler = Callable[[list[str], Session], int]


def main(argv: list[str], engine_factory: EngineFactory | None = None) -> int:
    """The whole CLI: the plugin metadata, the hot paths, else the typer app."""
    return boundary(argv, _hot_or_full, engine_factory)


def run(argv: list[str], engine_factory: EngineFactory | None = None) -> int:
    """The typer app alone, no hot paths, inside the one boundary: tests drive every
    command through it, handing in a fake engine."""
    from .app import invoke

    return boundary(argv, invoke, engine_factory)


def boundary(argv: list[str], handler: Handler, engine_factory: EngineFactory | None = None) -> int:
    """Split docker's global options off argv, run handler, turn what it raises into a status."""
    if argv[:1] == ["docker-cli-plugin-metadata"]:
        print(metadata(), end="")
        return 0
    debug = "--debug" in argv
    try:
        from .argv import split

        docker, args = split(argv)
        return handler(args, Session(docker, engine_factory))
    except KeyboardInterrupt:
        return _interrupted()
    except CiloError as e:
        if debug:
            import traceback

            traceback.print_exc()
        return report(e)
    except Exception as e:  # the boundary for unexpected errors
        code = _click_status(e)
        if code is not None:
            return code
        if debug:
            raise
        print(f"unexpected error: {type(e).__name__}: {e} (run with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _hot_or_full(args: list[str], session: Session) -> int:
    from . import fast

    code = fast.handle(args, session)
    if code is None:
        from .app import invoke

        code = invoke(args, session)
    return code


def _click_status(e: Exception) -> int | None:
    """The status for click's own exceptions (only typer's commands raise them): Exit
    carries one, Abort is ^C at a prompt, usage errors show themselves."""
    if "typer" not in sys.modules:
        return None
    import typer

    if isinstance(e, typer.Exit):
        return e.exit_code
    if isinstance(e, typer.Abort):
        return _interrupted()
    if hasattr(e, "show") and hasattr(e, "exit_code"):
        e.show()
        return int(e.exit_code)
    return None


def _interrupted() -> int:
    print("interrupted", file=sys.stderr)
    return 130


def metadata() -> str:
    """The docker CLI plugin manifest, shipped inside the package."""
    from importlib import resources

    return resources.files("compose_cilo").joinpath("plugin-manifest").read_text()
