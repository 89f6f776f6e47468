"""Where cilo's dnsmasq forwards the names outside its suffix: the system's own resolvers,
never a hard-coded public one, never cilo's own server.

Read from systemd-resolved's real list (not its stub), `resolvectl dns`, /etc/resolv.conf
or, on macOS, `scutil --dns`; CILO_DNS_UPSTREAMS wins over all of them. Relative to
CILO_ROOT like everything the resolver reads (sysroot.py).
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .. import settings
from ..errors import CiloError
from .render import parse_upstreams
from .sysroot import is_fake_root, root_dir

STUB_RESOLVERS = frozenset({"127.0.0.53", "127.0.0.54"})  # systemd-resolved's own stubs


@dataclass(frozen=True)
class Upstreams:
    servers: tuple[str, ...]
    source: str  # where they came from, or why there are none


def detect_upstreams(port: int, root: Path | None = None, platform: str | None = None) -> Upstreams:
    """The system's own resolvers, never a hard-coded public one, never ourselves.

    CILO_DNS_UPSTREAMS (a comma list; "" for none) wins over detection.
    """
    given = settings.current()
    if given.upstreams is not None:
        return Upstreams(given.upstreams, given.upstreams_source)
    root = root or root_dir()
    candidates = [
        ("/run/systemd/resolve/resolv.conf", lambda: _resolv_conf(root / "run/systemd/resolve/resolv.conf")),
        ("resolvectl dns", lambda: _resolvectl() if not is_fake_root(root) else []),
        ("/etc/resolv.conf", lambda: _resolv_conf(root / "etc/resolv.conf")),
    ]
    if (platform or sys.platform) == "darwin":
        candidates.insert(0, ("scutil --dns", _scutil))
    for source, read in candidates:
        servers = _usable(read(), port)
        if servers:
            return Upstreams(tuple(servers), source)
    return Upstreams((), "none found (names outside the suffix are refused)")


def _usable(addresses: list[str], port: int) -> list[str]:
    """Valid addresses, without resolved's stubs, scoped link-local ones, or ourselves."""
    ours = {f"127.0.0.1#{port}", f"::1#{port}"}
    if port == 53:
        ours |= {"127.0.0.1", "::1"}
    out: list[str] = []
    for a in addresses:
        if a in STUB_RESOLVERS or "%" in a:
            continue
        try:
            servers = parse_upstreams(a)
        except CiloError:
            continue
        out += [s for s in servers if s not in out and s not in ours]
    return out


def _resolv_conf(path: Path) -> list[str]:
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        return []
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1])
    return out


def _command(argv: list[str]) -> str:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return ""
    return proc.stdout if proc.returncode == 0 else ""


def _resolvectl() -> list[str]:
    out = []
    for line in _command(["resolvectl", "dns"]).splitlines():
        _, _, servers = line.partition(": ")
        for s in servers.split():
            s = s.split("#", 1)[0]  # 1.1.1.1#cloudflare-dns.com (DNS over TLS name)
            out.append(s.replace(":", "#") if s.count(":") == 1 else s)  # 1.2.3.4:5353
    return out


def _scutil() -> list[str]:
    out = []
    for line in _command(["scutil", "--dns"]).splitlines():
        key, _, value = line.strip().partition(" : ")
        if key.startswith("nameserver["):
            out.append(value.strip())
    return out
