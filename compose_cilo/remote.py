"""A copy's files on the engine's machine. Bind mounts name folders of the machine the
engine runs on, not of this one (build contexts are uploaded by compose, so builds work
anywhere). Which engines see this machine's files is decided from the endpoint, as the
reach mode is:

- a local socket (a native engine, or Docker Desktop, which shares the user's folders)
  and a `tcp://` endpoint on the loopback address: the files are here;
- `ssh://USER@HOST`: another machine cilo can copy the workspace to (ssh.py);
- any other `tcp://` endpoint: no file access. A project whose services bind-mount
  folders of its workspace is refused there, naming the services and the way out.
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from pathlib import Path

from .errors import CiloError
from .model import ProjectModel

LOCAL, SSH, NONE = "local", "ssh", "none"


def file_access(endpoint: str | None) -> str:
    """How the engine at `endpoint` sees files: here (LOCAL), over ssh (SSH), not (NONE)."""
    if endpoint is None or "://" not in endpoint:
        return LOCAL
    scheme = endpoint.partition("://")[0]
    if scheme == "ssh":
        return SSH
    if scheme != "tcp":
        return LOCAL  # unix, npipe, fd: sockets of this machine
    host = urllib.parse.urlsplit(endpoint).hostname or ""
    try:
        return LOCAL if host == "localhost" or ipaddress.ip_address(host).is_loopback else NONE
    except ValueError:
        return NONE


def workspace_binds(model: ProjectModel, folders: list[str]) -> dict[str, list[str]]:
    """Per service, the sources of its bind mounts that lie in `folders` (the project's
    folder, the copy's workspace): the files an engine elsewhere does not have."""
    roots = [Path(f) for f in folders]
    out: dict[str, list[str]] = {}
    for name, svc in sorted(model.services.items()):
        for m in svc.mounts:
            if m.type == "bind" and m.source and any(Path(m.source) == r or r in Path(m.source).parents
                                                     for r in roots):
                out.setdefault(name, []).append(m.source)
    return out


def check_files(endpoint: str | None, key: str, env: str, folders: list[str], model: ProjectModel) -> None:
    """Refuse environment `key` when its services bind-mount `folders` (the project's, the
    copy's workspace) on an engine that cannot see this machine's files (a `tcp://`
    engine elsewhere); image-only projects run there."""
    if file_access(endpoint) != NONE:
        return
    binds = workspace_binds(model, folders)
    if not binds:
        return
    shown = "; ".join(f"{svc} ({', '.join(sources)})" for svc, sources in binds.items())
    raise CiloError(
        f"environment {key}: the engine at {endpoint} runs on another machine and cilo cannot "
        f"copy files to it over tcp://, but these services bind-mount folders of the project: "
        f"{shown}. Reach that machine over ssh instead (docker context create NAME --docker "
        f"host=ssh://USER@HOST, then docker --context NAME cilo up {env} --copy: cilo copies the "
        "workspace there), or run this copy on this machine's engine")
