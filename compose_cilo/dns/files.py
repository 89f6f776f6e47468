"""cilo's dnsmasq files: rendered from the state (`render`) and written (`write_hosts`,
`write_if_changed`), never the processes (process.py) or the switch-over (dnsmasq.py).

Hosts files are written into staging/ and renamed into hosts.d, so dnsmasq never reads a
partial or temporary file; every other file is written atomically, and only when its
text changed.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from .. import config
from ..fsutil import atomic_write
from ..state.document import StateLike, document_of
from . import zone
from .process import DnsPaths, dns_paths
from .render import render_hosts, render_main_config, render_responder_config
from .upstreams import Upstreams, detect_upstreams


def read_text(path: Path) -> str | None:
    """The file's text, or None when it cannot be read (missing, unreadable, not UTF-8)."""
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def sha(text: str) -> str:
    """The digest recorded in .started files: which config a process was started with."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


# ---------------------------------------------------------------- writing


def _hosts_map(text: str | None) -> dict[str, tuple[str, ...]]:
    out: dict[str, list[str]] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2 and not line.startswith("#"):
            out.setdefault(parts[1], []).append(parts[0])
    return {n: tuple(sorted(ips)) for n, ips in out.items()}


def write_if_changed(path: Path, text: str) -> bool:
    if read_text(path) == text:
        return False
    atomic_write(path, text, 0o600)
    return True


@dataclass
class Written:
    files: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)  # names whose answer changed, in order


def write_hosts(p: DnsPaths, hosts: Mapping[str, str]) -> Written:
    """Rename changed hosts files into hosts.d, then delete those of gone environments."""
    p.hosts_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    p.staging.mkdir(mode=0o700, parents=True, exist_ok=True)
    done = Written()
    existing = {f.name for f in p.hosts_dir.iterdir() if f.is_file() or f.is_symlink()}
    for name, text in sorted(hosts.items()):
        old = read_text(p.hosts_dir / name) if name in existing else None
        if old == text:
            continue
        atomic_write(p.staging / name, text, 0o600)
        os.replace(p.staging / name, p.hosts_dir / name)
        done.files.append(name)
        before, after = _hosts_map(old), _hosts_map(text)
        done.names += sorted(n for n in before.keys() | after.keys() if before.get(n) != after.get(n))
    for name in sorted(existing - set(hosts)):
        old = read_text(p.hosts_dir / name)
        (p.hosts_dir / name).unlink(missing_ok=True)
        done.removed.append(name)
        done.names += sorted(_hosts_map(old))
    return done


# ---------------------------------------------------------------- rendering


@dataclass(frozen=True)
class Rendered:
    recs: zone.DnsRecords
    main: str
    hosts: dict[str, str]
    upstreams: Upstreams

    def wildcards(self) -> dict[str, dict[str, tuple[str, ...]]]:
        """Environment key -> its wildcard domains and addresses."""
        return {k: dict(e.wildcards) for k, e in self.recs.envs.items() if e.wildcards}


def _state_doc(state_doc: StateLike | None) -> StateLike:
    if state_doc is not None:
        return document_of(state_doc)
    from ..state.store import read_state

    return read_state().doc


def router_addresses(doc: StateLike) -> dict[str, str | None]:
    """Per zone key: the address of its engine's router when that engine is reached
    through one (its names answer the router, which proxies to the copies), else None."""
    hosts = document_of(doc).get("hosts", {})
    out: dict[str, str | None] = {}
    for key, (host, _) in zone.placed(doc).items():
        reach = (hosts.get(host) or {}).get("reach") or {}
        out[key] = reach["address"] if reach.get("mode") == "router" else None
    return out


def render(state_doc: StateLike | None = None, p: DnsPaths | None = None) -> Rendered:
    """Validate and render from a state document (None: the state file); writes nothing."""
    p = p or dns_paths()
    suffix, port = config.dns_suffix(), config.dns_port()
    doc = _state_doc(state_doc)
    recs = zone.records(doc, suffix)
    recs = zone.answered_at(recs, router_addresses(doc))
    ups = detect_upstreams(port)
    main = render_main_config(recs, port=port, hosts_dir=str(p.hosts_dir),
                              servers_file=str(p.servers), upstreams=ups.servers)
    return Rendered(recs, main, render_hosts(recs), ups)


def responder_digest(wildcards: Mapping[str, tuple[str, ...]]) -> str:
    return sha(render_responder_config(wildcards, port=0))
