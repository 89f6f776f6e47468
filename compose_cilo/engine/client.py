"""The one engine seam: `connect()` picks, once, the implementation of EngineAPI that
speaks to the engine the user's docker options name.

Docker's global options (`--context`, `-H`, `--config`, `--log-level`, TLS) given before
`cilo` apply to every call. Each path is the cheapest that is correct: a local socket is
spoken to directly (SocketEngine: a request per call, no process); anything else (tcp,
ssh, TLS) goes through python-on-whales and the docker CLI (WhalesEngine), imported only
then; compose is always a `docker compose` process. Picking costs no engine request and
no heavy import.
"""

from __future__ import annotations

import os

from .api import EngineAPI
from .options import DockerOptions


def connect(opts: DockerOptions) -> EngineAPI:
    """The engine `opts` name: its socket spoken to directly when it is a local unix
    socket without TLS (unless CILO_ENGINE_API=cli), else python-on-whales."""
    from .socketapi import resolve_host, socket_path

    direct = os.environ.get("CILO_ENGINE_API") != "cli" and not (opts.tls or opts.tlsverify)
    if direct and (path := socket_path(resolve_host(opts.host, opts.context, opts.config))):
        from .socketengine import SocketEngine

        return SocketEngine(opts, path)
    from .whalesengine import WhalesEngine

    return WhalesEngine(opts)
