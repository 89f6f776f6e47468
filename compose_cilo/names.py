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


def compose_project_name(project: str, env: str) -> str:
    """The compose project of one copy: unique per (project, env), distinct from the user's.

    Env names hold no '_', so the last '_' always separates the two parts.
    """
    return f"cilo_{project}_{env}"


def project_dns_label(project: str) -> str:
    """The project name as a DNS label: lowercase, '_' becomes '-'.

    A name longer than 63 characters keeps its first 54 and gets '-' and 8 hex digits of
    its SHA-256, so the label stays valid (no '-' at the end) and distinct per project.
    """
    label = project.lower().replace("_", "-").strip("-")
    if len(label) <= 63:
        return label
    import hashlib

    digest = hashlib.sha256(project.encode()).hexdigest()[:8]
    return f"{label[:54].rstrip('-')}-{digest}"


LABEL_PATH_B64 = "b64:"


def label_path(path: str) -> str:
    """A path as a label value: YAML (and compose) take only UTF-8, paths need not be.

    A path that is not valid UTF-8 (Python keeps its bytes as surrogate escapes) is
    written as `b64:` and the base64 of its bytes; `path_from_label` reads both forms.
    """
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        import base64
        import os

        return LABEL_PATH_B64 + base64.b64encode(os.fsencode(path)).decode()
    return path


def path_from_label(value: str) -> str:
    if not value.startswith(LABEL_PATH_B64):
        return value
    import base64
    import os

    return os.fsdecode(base64.b64decode(value.removeprefix(LABEL_PATH_B64)))
