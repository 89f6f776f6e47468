"""A small Docker Engine API client over the local unix socket (stdlib only).

Listing networks or containers through the docker CLI costs a process per call and,
through python-on-whales, heavy imports; one HTTP request on the socket costs far less
(bench/RESULTS.md). socketengine.py uses this when the engine is a local socket and falls back to
python-on-whales for anything else (tcp, ssh, TLS).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import urllib.parse
from pathlib import Path
from typing import Any

DEFAULT_SOCKET = "/var/run/docker.sock"


class APIError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _read_response(sock: socket.socket) -> tuple[int, bytes]:
    """Status and body of an HTTP/1.0 response (the engine closes the connection)."""
    chunks = []
    while data := sock.recv(65536):
        chunks.append(data)
    raw = b"".join(chunks)
    head, _, body = raw.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return int(status_line.split()[1]), body


def _dechunk(body: bytes) -> bytes:
    out: list[bytes] = []
    pos = 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2 : end + 2 + size])
        pos = end + 2 + size + 2


def _docker_config_dir(config: str | None) -> Path:
    return Path(config or os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def _context_host(name: str, config: str | None) -> str | None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = _docker_config_dir(config) / "contexts" / "meta" / digest / "meta.json"
    try:
        data = json.loads(meta.read_text())
    except (OSError, ValueError):
        return None
    host = ((data.get("Endpoints") or {}).get("docker") or {}).get("Host")
    return host if isinstance(host, str) else None


def context_name(host: str | None, context: str | None, config: str | None) -> str | None:
    """The docker context the docker CLI would use (`default` included), or None when `-H`
    or DOCKER_HOST names the engine instead."""
    if host:
        return None
    ctx = context or os.environ.get("DOCKER_CONTEXT")
    if not ctx and os.environ.get("DOCKER_HOST"):
        return None
    if not ctx:
        try:
            cfg = json.loads((_docker_config_dir(config) / "config.json").read_text())
            ctx = cfg.get("currentContext")
        except (OSError, ValueError, AttributeError):
            ctx = None
    return str(ctx) if ctx else "default"


def resolve_host(host: str | None, context: str | None, config: str | None) -> str | None:
    """The engine endpoint the docker CLI would use, or None if we cannot tell cheaply."""
    if host:
        return host
    ctx = context_name(host, context, config)
    if ctx is None:
        return os.environ["DOCKER_HOST"]
    if ctx == "default":
        return os.environ.get("DOCKER_HOST") or f"unix://{DEFAULT_SOCKET}"
    return _context_host(ctx, config)


def socket_path(host: str | None) -> str | None:
    """The unix socket of `host`, or None when it is not a plain local socket."""
    if host and host.startswith("unix://"):
        return host[len("unix://") :]
    return None


class DockerAPI:
    def __init__(self, path: str, timeout: float = 60.0) -> None:
        self.path = path
        self.timeout = timeout

    def request(self, method: str, url: str, body: Any = None,
                query: dict[str, Any] | None = None) -> Any:
        if query:
            url += "?" + urllib.parse.urlencode(
                {k: json.dumps(v) if isinstance(v, dict) else v for k, v in query.items()}
            )
        # HTTP/1.0 by hand: importing http.client costs more than the request itself
        payload = json.dumps(body).encode() if body is not None else b""
        head = f"{method} {url} HTTP/1.0\r\nHost: docker\r\n"
        if body is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n"
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(self.timeout)
            sock.connect(self.path)
            sock.sendall(head.encode() + b"\r\n" + payload)
            status, raw = _read_response(sock)
        data = json.loads(raw) if raw.strip() else None
        if status >= 400:
            message = data.get("message") if isinstance(data, dict) else raw.decode(errors="replace")
            raise APIError(status, str(message).strip())
        return data

    @staticmethod
    def label_filters(labels: dict[str, str] | None) -> dict[str, Any]:
        return {"filters": {"label": [f"{k}={v}" for k, v in (labels or {}).items()]}} if labels else {}
