"""cilo's own dnsmasq: `sync`, the call after every state change, and the server's
start, stop, restart and status.

The server listens on 127.0.0.1:CILO_DNS_PORT: the one the system and users query. Exact
names come from hosts.d (inotify: live); it is restarted only when its own config changes
(port, suffix, upstreams), never by up/down/destroy. Each environment with an ingress
also gets a wildcard responder, a tiny dnsmasq on a free loopback port that the server
forwards *.<project>.<env> to (see render.py for why, and for dnsmasq's rules).

Files under $CILO_HOME/dns/: dnsmasq.conf (or CILO_DNS_CONFIG), dnsmasq.pid,
dnsmasq.started (pid, port and hash of the config the running server was started with),
hosts.d/, staging/, wildcards.servers, wildcards/<project>.<env>.{conf,pid,started},
dnsmasq.log and lock. Rendering and writing them is files.py's; the processes themselves
(finding, starting, stopping, is-it-ours) live in process.py.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import config
from ..errors import CiloError
from ..fsutil import atomic_write
from ..state.document import StateLike
from . import resolver, zone
from .files import Rendered, read_text, render, responder_digest, sha, write_hosts, write_if_changed
from .process import (
    PORT_WAIT,
    PROBE_LABEL,
    WAIT_SERVED,
    DnsPaths,
    Proc,
    dns_lock,
    dns_paths,
    find_binary,
    find_pid,
    free_port,
    is_ours,
    proc_for,
    read_pid,
    responder_pids,
    responder_procs,
    running_pid,
    scan_pids,
    spawn,
    started_record,
    terminate,
    wait_answering,
    wait_port_free,
    wait_served,
)
from .render import render_responder_config, render_wildcard_servers
from .upstreams import Upstreams

__all__ = [
    "DnsStatus", "SyncResult", "dns_paths", "find_binary", "is_ours",
    "render", "render_files", "responder_pids", "restart", "running_pid", "start", "status",
    "stop", "sync",
]

INSTALL_HINT = "install it (Debian/Ubuntu: apt-get install dnsmasq-base; macOS: brew install dnsmasq)"


# ---------------------------------------------------------------- results


@dataclass
class SyncResult:
    served: bool  # the server runs and serves the new records
    message: str  # one line for people; when not served, why and the fix
    binary: str | None = None
    pid: int | None = None
    started: bool = False
    restarted: bool = False  # the server itself (only when its own config changed)
    restart_gap_ms: float | None = None  # SIGTERM to the new server's first answer
    responders_started: list[str] = field(default_factory=list)  # env keys whose wildcard changed
    responders_stopped: list[str] = field(default_factory=list)
    wildcard_switch_ms: float | None = None  # new responders started until served (no gap)
    wait_ms: float | None = None  # until the probe names answered as rendered
    probes: list[str] = field(default_factory=list)
    config_changed: bool = False
    files_written: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    upstreams: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class DnsStatus:
    running: bool
    pid: int | None
    port: int
    suffix: str
    config: str
    binary: str | None
    names: dict[str, list[str]]
    upstreams: list[str]
    upstream_source: str
    system_route: dict[str, Any]
    responders: dict[str, dict[str, int | None]]  # env key -> {"pid", "port"}
    current: bool  # the processes serve what the state says now
    notes: list[str]

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


# ---------------------------------------------------------------- files as sync writes them


def render_files(state_doc: StateLike | None = None) -> dict[Path, str]:
    """Every file as sync would write it now (`dns render`); responders keep their running
    port (0 where none runs: a fresh port is picked at start)."""
    p = dns_paths()
    r = render(state_doc, p)
    files = {p.config: r.main, **{p.hosts_dir / n: t for n, t in r.hosts.items()}}
    ports: dict[str, int] = {}
    for key, wild in r.wildcards().items():
        started = started_record(p.responder(key))
        port = started[1] if started and started[0] == find_pid(p.responder(key)) else 0
        files[p.responder(key).config] = render_responder_config(wild, port=port)
        ports.update({d: port for d in wild})
    files[p.servers] = render_wildcard_servers(ports)
    return files


# ---------------------------------------------------------------- operations


def sync(state_doc: StateLike | None = None, *, wait: bool = True) -> SyncResult:
    """Make the DNS serve `state_doc` (None: the state file as it is now).

    Validate, render, write atomically, start what is not running, switch the wildcard
    responders of environments whose wildcard changed, restart the server only when its
    own config changed, then wait (bounded) until the changed names answer as rendered.
    A missing dnsmasq, or one that will not start, is reported in the result, never
    raised; the files are written either way. Unclean records raise CiloError before
    anything is written.
    """
    p = dns_paths()
    with dns_lock(p):
        return _sync(p, render(state_doc, p), wait=wait, force=False)


def restart(state_doc: StateLike | None = None) -> SyncResult:
    """Restart the server and every responder from freshly rendered files (`dns restart`)."""
    p = dns_paths()
    with dns_lock(p):
        return _sync(p, render(state_doc, p), wait=True, force=True)


def start(state_doc: StateLike | None = None) -> SyncResult:
    """`dns start`: like sync, but DNS not served is an error."""
    result = sync(state_doc)
    if not result.served:
        raise CiloError(result.message)
    return result


def stop() -> bool:
    """Stop the server and the responders; False when the server was not running."""
    p = dns_paths()
    with dns_lock(p):
        for conf, pids in responder_procs(p).items():
            for pid in pids:
                terminate(pid, proc_for(conf))
        pids = sorted({*filter(None, [find_pid(p.server)]), *scan_pids(str(p.config)).get(p.config, [])})
        for pid in pids:
            terminate(pid, p.server)
        if read_pid(p.server.pid) is not None:
            p.server.pid.unlink(missing_ok=True)  # stale: a dead or foreign pid
        return bool(pids)


def _sync(p: DnsPaths, r: Rendered, *, wait: bool, force: bool) -> SyncResult:
    port, suffix = config.dns_port(), r.recs.suffix
    written = write_hosts(p, r.hosts)
    result = SyncResult(
        served=False, message="", files_written=written.files, files_removed=written.removed,
        upstreams=list(r.upstreams.servers), notes=list(r.recs.notes), binary=find_binary(),
    )
    if result.binary is None:
        result.config_changed = write_if_changed(p.config, r.main)
        result.message = (f"dnsmasq not found, so *.{suffix} names are not served "
                          f"(files are ready in {p.dir}); {INSTALL_HINT}")
        return result
    old_domains = _forwarded_domains(read_text(p.servers))
    try:
        ports, retire = _switch_responders(p, r, result, force)
        servers_changed = write_if_changed(p.servers, render_wildcard_servers(ports))
        result.config_changed = write_if_changed(p.config, r.main)
        _run_server(p, r, result, port, force, servers_changed)
        probes = _probes(r, written.names, old_domains, result.responders_started)
        took = _wait_all(port, r, probes) if wait or retire else 0.0
        for pid, proc in retire:  # only now: until the SIGHUP took, they still answered
            terminate(pid, proc)
        _remove_unused_responder_files(p, r)
    except CiloError as e:
        result.message = str(e)
        return result
    result.probes = probes
    if took is None:
        result.message = (f"dnsmasq did not serve the change to {', '.join(probes)} within "
                          f"{WAIT_SERVED:g} s; see {p.log} or run docker cilo dns restart")
        return result
    result.wait_ms = round(took * 1000, 1) if probes else None
    if result.wildcard_switch_ms is not None:
        result.wildcard_switch_ms = round(result.wildcard_switch_ms + took * 1000, 1)
    result.served = True
    result.message = f"{len(r.recs.exact)} names served on 127.0.0.1:{port}"
    return result


def _switch_responders(p: DnsPaths, r: Rendered, result: SyncResult,
                       force: bool) -> tuple[dict[str, int], list[tuple[int, Proc]]]:
    """Keep each environment's responder while its wildcard is unchanged, else start a new
    one on a fresh port. Returns domain -> port, and the old processes to retire."""
    running = responder_procs(p)
    ports: dict[str, int] = {}
    retire: list[tuple[int, Proc]] = []
    t0 = time.monotonic()
    for key, wild in sorted(r.wildcards().items()):
        proc = p.responder(key)
        pids = running.pop(proc.config, [])
        started = started_record(proc)
        digest = responder_digest(wild)
        if started and started[0] in pids and started[2] == digest and not force:
            keep, port = started[0], started[1]
        else:
            keep, port = _start_responder(p, proc, wild, digest, r.recs.suffix, result.binary or "dnsmasq")
            result.responders_started.append(key)
        retire += [(pid, proc) for pid in pids if pid != keep]
        ports.update({domain: port for domain in wild})
    for conf, pids in running.items():  # environments that lost their wildcard
        result.responders_stopped.append(conf.stem)
        retire += [(pid, proc_for(conf)) for pid in pids]
    if result.responders_started:
        result.wildcard_switch_ms = (time.monotonic() - t0) * 1000
    return ports, retire


def _start_responder(p: DnsPaths, proc: Proc, wild: Mapping[str, tuple[str, ...]], digest: str,
                     suffix: str, binary: str) -> tuple[int, int]:
    p.wildcards_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    for attempt in range(3):  # a free port can be taken between the check and the bind
        port = free_port()
        if port == config.dns_port():  # free only because the server is not up yet
            continue
        atomic_write(proc.config, render_responder_config(wild, port=port), 0o600)
        try:
            pid = spawn(binary, proc, p, port)
            break
        except CiloError:
            if attempt == 2:
                raise
    else:
        raise CiloError("no free port on 127.0.0.1 for a wildcard responder")
    if wait_answering(port, suffix, WAIT_SERVED) is None:
        raise CiloError(f"cilo's wildcard responder (pid {pid}) does not answer; see {p.log}")
    atomic_write(proc.started, f"{pid} {port} {digest}\n", 0o600)
    return pid, port


def _remove_unused_responder_files(p: DnsPaths, r: Rendered) -> None:
    wanted = {p.responder(key).config.stem for key in r.wildcards()}
    for f in p.wildcards_dir.glob("*"):
        if f.stem not in wanted and f.suffix in (".conf", ".pid", ".started"):
            f.unlink(missing_ok=True)


def _run_server(p: DnsPaths, r: Rendered, result: SyncResult, port: int, force: bool,
                servers_changed: bool) -> None:
    """Start, restart (measuring the gap) or SIGHUP the server, as the change needs."""
    pid = find_pid(p.server)
    want = sha(r.main)
    if pid is not None and not force and started_record(p.server) == (pid, port, want):
        result.pid = pid
        if servers_changed:
            os.kill(pid, signal.SIGHUP)  # re-reads wildcards.servers; no query is dropped
        return
    t0 = time.monotonic()
    if pid is not None:
        terminate(pid, p.server)
        result.restarted = True
    else:
        result.started = True
    wait_port_free(port, PORT_WAIT)
    result.pid = spawn(result.binary or "dnsmasq", p.server, p, port)
    if wait_answering(port, r.recs.suffix, WAIT_SERVED) is None:
        raise CiloError(f"dnsmasq (pid {result.pid}) does not answer on 127.0.0.1:{port}; see {p.log}")
    if result.restarted:
        result.restart_gap_ms = round((time.monotonic() - t0) * 1000, 1)
    atomic_write(p.server.started, f"{result.pid} {port} {want}\n", 0o600)


def _forwarded_domains(servers_text: str | None) -> set[str]:
    return {line.split("/")[1] for line in (servers_text or "").splitlines()
            if line.startswith("server=/")}


def _probes(r: Rendered, changed: list[str], old_domains: set[str], started: list[str]) -> list[str]:
    """Names to query before returning: the last exact name changed, a wildcard domain
    that went away, and one whose responder is new."""
    probes = changed[-1:]
    gone = sorted(old_domains - set(r.recs.wildcards))
    if gone:
        probes.append(f"{PROBE_LABEL}.{gone[-1]}")
    if started:
        probes.append(f"{PROBE_LABEL}.{sorted(r.recs.envs[started[-1]].wildcards)[-1]}")
    return probes


def _wait_all(port: int, r: Rendered, probes: list[str]) -> float | None:
    start = time.monotonic()
    for name in probes:
        if wait_served(port, name, r.recs.answer(name), WAIT_SERVED) is None:
            return None
    return time.monotonic() - start


def status(state_doc: StateLike | None = None) -> DnsStatus:
    p = dns_paths()
    suffix, port = config.dns_suffix(), config.dns_port()
    pid = running_pid(p)
    notes: list[str] = []
    names: dict[str, list[str]] = {}
    responders: dict[str, dict[str, int | None]] = {}
    current = False
    try:
        r = render(state_doc, p)
        names = {n: list(ips) for n, ips in zone.all_names(r.recs)}
        notes += r.recs.notes
        ups = r.upstreams
        current = pid is not None and started_record(p.server) == (pid, port, sha(r.main)) and all(
            read_text(p.hosts_dir / f) == text for f, text in r.hosts.items())
        for key, wild in r.wildcards().items():
            proc = p.responder(key)
            rpid, started = find_pid(proc), started_record(proc)
            ok = started is not None and rpid == started[0] and started[2] == responder_digest(wild)
            responders[key] = {"pid": rpid, "port": started[1] if ok and started else None}
            current = current and ok
    except CiloError as e:
        notes.append(str(e))
        ups = Upstreams((), "unknown (records refused)")
    binary = find_binary()
    if binary is None:
        notes.append(f"dnsmasq not found; {INSTALL_HINT}")
    return DnsStatus(
        running=pid is not None, pid=pid, port=port, suffix=suffix, config=str(p.config),
        binary=binary, names=names, upstreams=list(ups.servers), upstream_source=ups.source,
        system_route=resolver.system_route(suffix, port).to_json(), responders=responders,
        current=current, notes=notes,
    )
