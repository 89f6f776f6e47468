"""`docker cilo state ...`: show the state file's version and counts, migrate it explicitly."""

from __future__ import annotations

import json
from typing import Any

import typer

state_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


@state_app.command("show")
def show(as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Print the state file's version, counts, backups and permission problems."""
    from ..state import store

    summary = store.describe()
    print(json.dumps(summary, indent=2) if as_json else render(summary))


def render(s: dict[str, Any]) -> str:
    if not s["exists"]:
        return f"state file  {s['path']} (none yet: no environment was ever created)"
    version = f"{s['version']}"
    if s["version"] < s["current_version"]:
        version += f" (older: the next command migrates it to {s['current_version']}, keeping a backup)"
    rows = [
        ("state file", s["path"]),
        ("version", version),
        ("hosts", str(s["hosts"])),
        ("projects", str(s["projects"])),
        ("environments", str(s["environments"])),
        ("services", str(s["services"])),
        *(("backup", b) for b in s["backups"]),
        *(("warning", p) for p in s["permission_problems"]),
    ]
    return "\n".join(f"{k:<13} {v}" for k, v in rows)


@state_app.command("migrate")
def migrate(
    to: int = typer.Option(..., "--to", help="The version to migrate the state file to."),
) -> None:
    """Migrate the state file up or down to version N (the original is backed up first)."""
    from ..state import store

    done = store.migrate_file(to)
    if done.from_version is None:
        print(f"no state file at {done.path}; nothing to migrate")
    elif done.from_version == to:
        print(f"state file {done.path} is already version {to}; nothing to do")
    else:
        print(f"migrated state file {done.path} from version {done.from_version} to {to}; "
              f"the original is in {done.backup}")
    if done.dropped:
        print("version {} cannot hold: {}".format(to, "; ".join(done.dropped)))
    if done.from_version is not None and to < store.STATE_VERSION:
        print(f"this cilo works on version {store.STATE_VERSION}: its next command migrates "
              f"the file back (run: docker cilo state migrate --to {store.STATE_VERSION})")
