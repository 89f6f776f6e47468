"""The typer app: cilo's own options, every command family, and how argv reaches it.

Commands parse arguments, call one domain function and print its result; they never talk
to Docker themselves. Their errors reach the one boundary in main.py.
"""

from __future__ import annotations

from typing import Any

import typer

from .. import __version__
from . import envs, passthrough, system, verbs
from .dns import dns_app
from .session import Session
from .state import state_app

app = typer.Typer(
    name="cilo",
    help="Run isolated copies of this Docker Compose project side by side.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"docker cilo version {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    file: list[str] | None = typer.Option(
        None, "-f", "--file", help="Compose configuration files (repeatable), as for docker compose."),
    profile: list[str] | None = typer.Option(None, "--profile", help="Compose profiles to enable (repeatable)."),
    env_file: list[str] | None = typer.Option(None, "--env-file", help="Alternate environment files (repeatable)."),
    project_directory: str | None = typer.Option(None, "--project-directory", help="Alternate working directory."),
    project_name: str | None = typer.Option(None, "-p", "--project-name", help="Compose project name."),
    project: str | None = typer.Option(
        None, "--project", help="Address an existing environment of project NAME from anywhere."),
    env: str | None = typer.Option(
        None, "--env", help="The environment commands act on when none is named (else CILO_ENV, else "
        "the one `docker cilo use` remembered for this folder)."),
    host: str | None = typer.Option(
        None, "--host", metavar="NAME", help="The engine of the environment: a name from `list --all`'s HOST "
        "column, or a docker context (also HOST:ENV). Where the same environment runs on two engines."),
    ansi: str | None = typer.Option(None, "--ansi", help="compose's: when to print ANSI control characters."),
    progress: str | None = typer.Option(None, "--progress", help="compose's: type of progress output."),
    parallel: int | None = typer.Option(None, "--parallel", help="compose's: max parallelism, -1 unlimited."),
    dry_run: bool = typer.Option(False, "--dry-run", help="compose's: execute in dry run mode."),
    compatibility: bool = typer.Option(False, "--compatibility", help="compose's: backward compatibility mode."),
    all_resources: bool = typer.Option(False, "--all-resources", help="compose's: include unused resources."),
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks for unexpected errors."),
    version: bool = typer.Option(
        False, "--version", "-v", callback=_version, is_eager=True, help="Show the version and exit."),
) -> None:
    """Run isolated copies of this Docker Compose project side by side.

    Each environment gets its own network and /24 subnet, no published host ports, its
    own containers and volumes, and names like http://web.ENV.test.
    """


# the families' commands join the app itself, in this order (the order --help lists them)
for _family in (envs.family, passthrough.family, system.family, verbs.family):
    app.registered_commands += _family.registered_commands
app.add_typer(state_app, name="state", help="Show or migrate cilo's state file.")
app.add_typer(dns_app, name="dns", help="Manage cilo's DNS server (dnsmasq).")


def _end_of_options(args: list[str]) -> list[str]:
    """Mark where a pass-through command's own arguments start with `--`, as docker and
    compose do: everything after `exec ENV SERVICE`, `run ENV` and `compose ENV` (a
    `-h`, an `-f`) belongs to the command, not to cilo."""
    from . import commands

    group = typer.main.get_command(app)
    i = _skip_options(args, 0, group.params)
    spec = commands.find(args[i]) if i < len(args) else None
    if spec and spec.raw:  # everything after the verb is the command's
        return [*args[: i + 1], "--", *args[i + 1 :]]
    if not spec or not spec.passthrough:
        return args
    command = group.commands[args[i]]  # type: ignore[attr-defined]
    wanted, i = spec.passthrough, i + 1
    while i < len(args) and wanted:
        if args[i] == "--":
            return args  # the user marked it already
        if args[i].startswith("-") and args[i] != "-":
            i = _skip_options(args, i, command.params)
            continue
        wanted, i = wanted - 1, i + 1
    if wanted or i >= len(args) or args[i] == "--":
        return args
    return [*args[:i], "--", *args[i:]]


def _skip_options(args: list[str], i: int, params: list[Any]) -> int:
    """The index after the options starting at args[i] (an option's value included)."""
    takes_value = {o for p in params if getattr(p, "opts", None) and not getattr(p, "is_flag", True)
                   for o in p.opts}
    while i < len(args) and args[i].startswith("-") and args[i] not in ("-", "--"):
        i += 2 if args[i] in takes_value else 1
    return i


def invoke(args: list[str], session: Session) -> int:
    """Run the typer app on cilo's arguments, with the invocation's Session as its root
    context object."""
    # without standalone mode, click returns a command's Exit code instead of raising
    code = app(args=_end_of_options(args), prog_name="docker cilo", standalone_mode=False,
               obj=session)
    return code if isinstance(code, int) else 0
