"""The rules for values that end up in config files, used where settings are loaded and
again where the values are rendered (dnsmasq's config, /etc/resolver): defence in depth.
Pure functions; each raises ValueError with the rule."""

from __future__ import annotations

import json
import re

MAX_SUFFIX = 200  # room for <host>.<project>.<env>. under DNS's 253
_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_SCOPE = re.compile(r"[A-Za-z0-9_.-]{1,15}")  # an interface name (IFNAMSIZ) or index
SUFFIX_RULE = ("must be DNS labels joined by dots (lowercase letters, digits and '-', 1-63 "
               f"characters each, not starting or ending with '-', at most {MAX_SUFFIX} in all, "
               "the last one not all digits), e.g. test or dev.internal")
UPSTREAM_RULE = "not an IP address or IP#port (IPv6 scope: fe80::1%eth0)"


def shown(value: object, limit: int = 200) -> str:
    """A value as it can be printed on one line: escaped, cut to `limit` characters."""
    text = value if isinstance(value, str) else json.dumps(value)
    out = text.encode("unicode_escape", "backslashreplace").decode("ascii").replace('"', '\\"')
    return out if len(out) <= limit else out[:limit] + f"... ({len(text)} characters)"


def check_suffix(value: str) -> str:
    """The DNS suffix as written into config files and /etc/resolver/<suffix>; ValueError if bad."""
    labels = value.split(".")
    if (not value or len(value) > MAX_SUFFIX or not all(_LABEL.fullmatch(x) for x in labels)
            or labels[-1].isdigit()):
        raise ValueError(SUFFIX_RULE)
    return value


def parse_upstream(value: str) -> str:
    """One upstream resolver, IP or IP#port, as dnsmasq writes it; ValueError if bad.

    Python accepts any text as an IPv6 scope ("fe80::1%eth0\\nlisten-address=0.0.0.0"),
    so the scope must look like an interface name.
    """
    import ipaddress

    host, sep, port = value.partition("#")
    addr_text, pct, scope = host.partition("%")
    if pct and not _SCOPE.fullmatch(scope) or sep and not re.fullmatch(r"[0-9]{1,5}", port):
        raise ValueError(UPSTREAM_RULE)
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        raise ValueError(UPSTREAM_RULE) from None
    if pct and addr.version != 6 or sep and not 0 < int(port) < 65536:
        raise ValueError(UPSTREAM_RULE)
    text = f"{addr}%{scope}" if pct else str(addr)
    return f"{text}#{int(port)}" if sep else text
