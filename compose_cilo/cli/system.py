"""The commands about cilo itself and the system: `doctor`, `version`, `init`."""

from __future__ import annotations

import sys

import typer

from .. import __version__
from .dns import init_command
from .output import print_json
from .session import context_of

family = typer.Typer()


@family.command()
def doctor(
    c: typer.Context,
    fix: bool = typer.Option(False, "--fix", help="Repair what can be repaired."),
    yes: bool = typer.Option(False, "--yes", "-y", help="Remove unknown labelled resources without asking."),
    as_json: bool = typer.Option(False, "--json", help="Print {ok, checks: [...]} as JSON."),
    adopt_foreign: bool = typer.Option(
        False, "--adopt-foreign", help=(
            "With --fix: also adopt environments of another cilo home on this engine (only if they are yours).")),
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
        print_json(doc.as_json(checks))
    else:
        print(doc.report(checks))
    raise typer.Exit(0 if doc.as_json(checks)["ok"] else 1)


@family.command()
def version() -> None:
    """Show the version."""
    print(f"docker cilo version {__version__}")


@family.command()
def init(
    print_only: bool = typer.Option(False, "--print", help="Only print what would change."),
    uninstall: bool = typer.Option(False, "--uninstall", help="Undo what init did."),
) -> None:
    """Make the system send *.test queries to cilo's DNS server."""
    raise typer.Exit(init_command(print_only, uninstall))
