"""The commands about cilo itself and the system: `doctor`, `version`, `init`, `trust`."""

from __future__ import annotations

import sys
from pathlib import Path

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
    host: str | None = typer.Option(None, "--host", metavar="NAME", help=(
        "Check only this engine (a name from `docker cilo list --all`'s HOST column, or a docker context).")),
) -> None:
    """Check every engine's copies, compose, state and DNS against each other; --fix repairs drift."""
    from .. import doctor as doc

    ctx = context_of(c)
    only = host or ctx.host_option
    checks = doc.run_checks(ctx, adopt_foreign=adopt_foreign and fix, only=only)
    if fix:
        def confirm(what: str) -> bool:
            if yes:
                return True
            if not sys.stdin.isatty():
                print(f"not removing without --yes: {what}", file=sys.stderr)
                return False
            return typer.confirm(what + "?")

        done = doc.fix(ctx, checks, confirm, only)
        for line in done:
            print(f"fixed: {line}", file=sys.stderr)
        if done:
            checks = doc.run_checks(ctx, only=only)  # what is left (foreign ones stay foreign)
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


@family.command()
def trust(
    c: typer.Context,
    install: bool = typer.Option(False, "--install", help=(
        "Also run the commands: all of them as root, else those that need no privileges.")),
    output: Path | None = typer.Option(None, "--output", "-o", help="Also write the certificate to FILE."),
) -> None:
    """Trust the HTTPS of cilo's router: write its CA certificate, then install it (or
    print the commands that do)."""
    from ..envrecord import known_home_id
    from ..fsutil import atomic_write
    from ..reach import ca
    from ..reach import trust as tr
    from ..reach.router import engine_name

    ctx = context_of(c)
    pem = tr.fetch_ca(ctx, known_home_id())
    path, changed = ca.save(pem, engine_name(ctx))
    print(f"cilo's router CA certificate: {path}{'' if changed else ' (unchanged)'}")
    if output is not None:
        atomic_write(output.absolute(), pem, 0o644)
        print(f"also written to {output}")
    steps = tr.plan(path, tr.current_system(), Path.home())
    done = tr.install(steps) if install else []
    for where in done:
        print(f"installed in {where}")
    left = [s for s in steps if s.where not in done]
    if left:
        print("to trust it, run:" if not done else "the rest needs privileges; run:")
        for step in left:
            print(f"  {tr.shown(step, tr.is_root())}")
    print(f"Firefox keeps its own store: Settings > Privacy & Security > Certificates > Import {path}\n"
          f"curl and other tools: --cacert {path} (or SSL_CERT_FILE / NODE_EXTRA_CA_CERTS={path})")
