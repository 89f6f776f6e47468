"""Ports a copy publishes on the engine host (`up --publish`, and in router mode), as the
host-command runner and status show them. Pure: read from the environment record."""

from __future__ import annotations

import re
from typing import Any


def published(record: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(service, port) of every port the copy's first containers publish, by service."""
    return [(name, p) for name, svc in sorted(record["services"].items())
            for p in svc.get("published", ())]


def address(port: dict[str, Any]) -> str:
    """HOST:PORT to connect to."""
    return f"{port['host']}:{port['port']}"


def variable(service: str, port: dict[str, Any]) -> str:
    """CILO_<SERVICE>_<PORT> (`_UDP`/`_SCTP` after the port for those protocols)."""
    name = re.sub(r"[^A-Z0-9]", "_", service.upper())
    tail = "" if port["protocol"] == "tcp" else f"_{port['protocol'].upper()}"
    return f"CILO_{name}_{port['target']}{tail}"


def variables(record: dict[str, Any]) -> dict[str, str]:
    """What `docker cilo with` sets: CILO_DB_5432=127.0.0.1:49154 for each published port."""
    return {variable(s, p): address(p) for s, p in published(record)}


def summary(svc: dict[str, Any]) -> str:
    """`5432->127.0.0.1:49154 ...` for status's table ("-" when none)."""
    shown = [f"{p['target']}{'' if p['protocol'] == 'tcp' else '/' + p['protocol']}->{address(p)}"
             for p in svc.get("published", ())]
    return " ".join(shown) or "-"
