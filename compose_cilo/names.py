"""Names users give us, checked before anything is touched."""

from __future__ import annotations

import re

from .errors import UsageError

ENV_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
PROJECT_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


def check_env_name(name: str) -> str:
    """An environment name is a DNS label: lowercase letters, digits and '-', 1-63 chars."""
    if ENV_NAME_RE.fullmatch(name):
        return name
    return _refuse(name)


def _refuse(name: str) -> str:
    shown = name.encode("unicode_escape").decode()
    if not name:
        problem = "is empty"
    elif len(name) > 63:
        problem = f"is {len(name)} characters long (at most 63)"
    elif name != name.lower():
        problem = "has uppercase letters"
    elif name.startswith("-") or name.endswith("-"):
        problem = "starts or ends with '-'"
    else:
        problem = "may hold only lowercase letters, digits and '-'"
    suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:63].strip("-")
    fix = f' (for example "{suggestion}")' if suggestion and suggestion != name else ""
    raise UsageError(
        f'environment name "{shown}" {problem}; use a DNS label: lowercase letters, '
        f"digits and '-', 1-63 characters{fix}"
    )


def check_project_name(name: str) -> str:
    """A compose project name, as compose itself accepts it."""
    if PROJECT_NAME_RE.fullmatch(name) and len(name) <= 200:
        return name
    shown = name.encode("unicode_escape").decode()
    raise UsageError(
        f'project name "{shown}" is not a valid compose project name; it must match '
        "^[a-z0-9][a-z0-9_-]*$ (lowercase letters, digits, '_' and '-')"
    )


def env_key(project: str, env: str) -> str:
    return f"{project}/{env}"


def compose_project_name(project: str, env: str) -> str:
    """The compose project of one copy: unique per (project, env), distinct from the user's.

    Env names hold no '_', so the last '_' always separates the two parts.
    """
    return f"cilo_{project}_{env}"


def project_dns_label(project: str) -> str:
    """The project name as a DNS label: lowercase, '_' becomes '-'."""
    return project.lower().replace("_", "-").strip("-")[:63]
