"""DNS names and the compose labels that ask for them. Pure: no I/O.

What a DNS label and name are (RFC 1123, lowercase), a service name as a label, the
suffix check, and the `cilo.ingress` / `cilo.hostnames` labels of a compose service,
refused here when unclean so they never reach a config file. zone.py builds the records
from these.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from ..errors import CiloError
from ..model import LABEL_HOSTNAMES as HOSTNAMES_LABEL
from ..model import LABEL_HTTP_PORT as HTTP_PORT_LABEL
from ..model import LABEL_INGRESS as INGRESS_LABEL

INGRESS_NAME_ORDER = ("nginx", "web", "app", "frontend", "traefik", "caddy")
MAX_NAME = 253

_LABEL_RE = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


def is_dns_label(text: str) -> bool:
    """An RFC 1123 label: lowercase ASCII letters, digits and inner '-', 1-63 characters."""
    return bool(_LABEL_RE.fullmatch(text)) and text.isascii()


def is_dns_name(text: str) -> bool:
    """Labels joined by '.', at most 253 characters, no empty label, no trailing dot."""
    return 0 < len(text) <= MAX_NAME and all(is_dns_label(p) for p in text.split("."))


def check_suffix(suffix: str) -> str:
    if is_dns_name(suffix):
        return suffix
    raise CiloError(
        f'DNS suffix "{shown(suffix)}" (CILO_DNS_SUFFIX or dns_suffix in config.json) is '
        "not a DNS name; use lowercase labels of letters, digits and '-', e.g. test"
    )


def service_label(service: str) -> str | None:
    """A compose service name as a DNS label (lowercase, '_' becomes '-'), or None."""
    label = service.lower().replace("_", "-")
    return label if is_dns_label(label) else None


def shown(text: str, limit: int = 80) -> str:
    """A value for a message: escaped (no raw newlines or NULs) and cut short."""
    escaped = text.encode("unicode_escape").decode()
    return escaped if len(escaped) <= limit else escaped[:limit] + "..."


# ---------------------------------------------------------------- compose labels


def parse_service_labels(service: str, labels: Mapping[str, Any] | None) -> tuple[bool, list[str]]:
    """(ingress, hostnames) from a service's labels; CiloError for any unclean value.

    Runs on values straight from a compose file, so anything that is not a clean
    hostname is refused here and never reaches a config file.
    """
    labels = labels or {}
    ingress = _parse_ingress(service, labels.get(INGRESS_LABEL))
    raw = labels.get(HOSTNAMES_LABEL)
    return ingress, [] if raw is None else _parse_hostnames(service, raw)


def _parse_ingress(service: str, raw: Any) -> bool:
    if raw is None or isinstance(raw, bool):
        return bool(raw)
    value = str(raw).strip(" ").lower()
    if value in _TRUE:
        return True
    if value in _FALSE and value:
        return False
    raise CiloError(
        f'service "{shown(service)}": label {INGRESS_LABEL}="{shown(str(raw))}" is not '
        f'true or false; write {INGRESS_LABEL}: "true" on the one service that gets '
        "*.<project>.<env> names"
    )


def _parse_hostnames(service: str, raw: Any) -> list[str]:
    text = str(raw)
    if text.strip(" ") == "":
        return []
    out: list[str] = []
    for item in text.split(","):
        name = item.strip(" ")
        problem = hostname_problem(name)
        name = name.lower()
        if problem:
            raise CiloError(
                f'service "{shown(service)}": label {HOSTNAMES_LABEL}="{shown(text)}": '
                f'"{shown(item)}" {problem}; use a comma-separated list of hostnames made of '
                "letters, digits, '-' and '.', e.g. "
                f'{HOSTNAMES_LABEL}: "admin,api.v2"'
            )
        if name not in out:
            out.append(name)
    return out


def hostname_problem(name: str) -> str | None:
    """Why `name` is not a clean relative hostname (None when it is one)."""
    if name == "":
        return "is empty"
    if not name.isascii():
        return "is not ASCII (write internationalised names in punycode, xn--...)"
    name = name.lower()
    if len(name) > MAX_NAME:
        return f"is {len(name)} characters long (at most {MAX_NAME})"
    for label in name.split("."):
        if label == "":
            return "has an empty part ('..' or a leading or trailing '.')"
        if len(label) > 63:
            return f"has a part of {len(label)} characters (at most 63)"
        if not is_dns_label(label):
            return f'has the part "{shown(label)}" (letters, digits and inner \'-\' only)'
    return None


def pick_ingress(services: Mapping[str, Any]) -> str | None:
    """The ingress service: the one labelled cilo.ingress "true", else the name order."""
    explicit = sorted(name for name, flag in services.items() if flag)
    if len(explicit) > 1:
        raise CiloError(
            f"services {', '.join(explicit)} are all labelled {INGRESS_LABEL}: \"true\"; "
            "keep the label on one service"
        )
    if explicit:
        return explicit[0]
    return next((name for name in INGRESS_NAME_ORDER if name in services), None)


def parse_http_port(service: str, raw: Any, ports: Sequence[int], expose: Sequence[int]) -> int:
    """The port cilo's router sends the service's HTTP to: its cilo.http_port label, else
    the container port of its first `ports:` entry, else its first `expose:`, else 80."""
    if raw is None:
        return next(iter([*ports, *expose]), 80)
    text = str(raw).strip(" ")
    if isinstance(raw, bool) or not text.isdigit() or not 0 < int(text) < 65536:
        raise CiloError(
            f'service "{shown(service)}": label {HTTP_PORT_LABEL}="{shown(str(raw))}" is not a port '
            f'number 1-65535; write the container port its HTTP listens on, e.g. {HTTP_PORT_LABEL}: "8080"')
    return int(text)
