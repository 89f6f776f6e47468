"""cilo's dnsmasq processes: where their files live, finding, starting and stopping them.

A process counts as ours only when its argv[0] is dnsmasq and its arguments hold
`--conf-file=<that config>`: any other dnsmasq, or a recycled pid, is never signalled.
files.py renders and writes their files; dnsmasq.py builds on both to sync.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import paths, settings
from ..errors import CiloError
from . import query
from .render import HOSTS_EXT, hosts_filename

WAIT_SERVED = 2.0  # seconds sync waits for dnsmasq to serve a change
STOP_TIMEOUT = 3.0
PORT_WAIT = 1.0  # for the port of a server that was just stopped or killed
LOCK_TIMEOUT = 30.0
LOG_MAX = 1 << 20
SEARCH_DIRS = ("/usr/sbin", "/sbin", "/usr/local/sbin", "/opt/homebrew/sbin")
PROBE_LABEL = "_cilo-probe"  # no served name holds '_': a probe never hits an exact name


@dataclass(frozen=True)
class Proc:
    """One of our dnsmasq processes: its config, pid file and started record."""

    config: Path
    pid: Path
    started: Path


@dataclass(frozen=True)
class DnsPaths:
    dir: Path
    hosts_dir: Path
    staging: Path
    servers: Path
    wildcards_dir: Path
    log: Path
    lock: Path
    server: Proc

    @property
    def config(self) -> Path:
        return self.server.config

    def responder(self, key: str) -> Proc:
        """The wildcard responder of environment `key` (PROJECT/ENV)."""
        stem = hosts_filename(key)[: -len(HOSTS_EXT)]
        return proc_for(self.wildcards_dir / f"{stem}.conf")


def proc_for(conf: Path) -> Proc:
    return Proc(conf, conf.with_suffix(".pid"), conf.with_suffix(".started"))


def dns_paths() -> DnsPaths:
    d = paths.cilo_home() / "dns"
    conf = settings.current().dns_config or d / "dnsmasq.conf"
    return DnsPaths(
        dir=d, hosts_dir=d / "hosts.d", staging=d / "staging", servers=d / "wildcards.servers",
        wildcards_dir=d / "wildcards", log=d / "dnsmasq.log", lock=d / "lock",
        server=Proc(conf, d / "dnsmasq.pid", d / "dnsmasq.started"),
    )


def find_binary() -> str | None:
    """The dnsmasq executable (CILO_DNSMASQ overrides; sbin folders are searched too)."""
    env = os.environ.get("CILO_DNSMASQ")
    if env is not None:
        return env if env and os.access(env, os.X_OK) else None
    found = shutil.which("dnsmasq")
    if found:
        return found
    for d in SEARCH_DIRS:
        if os.access(f"{d}/dnsmasq", os.X_OK):
            return f"{d}/dnsmasq"
    return None


# ---------------------------------------------------------------- processes


def cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.decode(errors="replace").split("\0")[:-1]
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return None
    except OSError:
        return None
    try:  # macOS: no /proc
        text = subprocess.run(["ps", "-p", str(pid), "-o", "command="], capture_output=True,
                              text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return text.split() if text else None


def is_alive(pid: int) -> bool:
    """Running and not a zombie (a slow init can leave a dead dnsmasq unreaped for seconds)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        if Path("/proc/self").exists():
            return False
    except (OSError, IndexError):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_ours(pid: int, proc: Proc | None = None) -> bool:
    """argv[0] is dnsmasq and it runs with our config (the server's by default)."""
    conf = (proc or dns_paths().server).config
    args = cmdline(pid)
    if not args or os.path.basename(args[0]) != "dnsmasq":
        return False
    return f"--conf-file={conf}" in args and is_alive(pid)


def read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def scan_pids(prefix: str) -> dict[Path, list[int]]:
    """Our dnsmasq processes whose --conf-file starts with `prefix`, by config (Linux /proc)."""
    found: dict[Path, list[int]] = {}
    if not Path("/proc").is_dir():
        return found
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        args = cmdline(int(entry.name)) or [""]
        if os.path.basename(args[0]) != "dnsmasq":
            continue
        for arg in args:
            if arg.startswith("--conf-file=" + prefix) and is_alive(int(entry.name)):
                found.setdefault(Path(arg.split("=", 1)[1]), []).append(int(entry.name))
    return found


def find_pid(proc: Proc) -> int | None:
    """The pid file's process if it is ours, else one found in /proc."""
    pid = read_pid(proc.pid)
    if pid and is_ours(pid, proc):
        return pid
    return next(iter(scan_pids(str(proc.config)).get(proc.config, [])), None)


def responder_procs(p: DnsPaths) -> dict[Path, list[int]]:
    """Every running wildcard responder, by config file: pid files, then /proc."""
    found = scan_pids(f"{p.wildcards_dir}/")
    for pidfile in sorted(p.wildcards_dir.glob("*.pid")):
        proc = proc_for(pidfile.with_suffix(".conf"))
        pid = read_pid(pidfile)
        if pid and is_ours(pid, proc) and pid not in found.get(proc.config, []):
            found.setdefault(proc.config, []).insert(0, pid)
    return found


def running_pid(p: DnsPaths | None = None) -> int | None:
    """The DNS server's pid (stale or foreign pid files are ignored)."""
    return find_pid((p or dns_paths()).server)


def responder_pids(p: DnsPaths | None = None) -> dict[str, list[int]]:
    """Running wildcard responders by environment file stem (PROJECT.ENV)."""
    return {conf.stem: pids for conf, pids in sorted(responder_procs(p or dns_paths()).items())}


def started_record(proc: Proc) -> tuple[int, int, str] | None:
    """(pid, port, config hash) recorded when the process was started."""
    try:
        pid, port, digest = proc.started.read_text().split()
        return int(pid), int(port), digest
    except (OSError, ValueError):
        return None


def _user_args() -> list[str]:
    """Started as root, dnsmasq would switch to `nobody`, who cannot read the 0700 cilo home."""
    if os.geteuid() != 0:
        return []
    try:
        return [f"--user={pwd.getpwuid(0).pw_name}"]
    except KeyError:
        return ["--user=root"]


def spawn(binary: str, proc: Proc, p: DnsPaths, port: int) -> int:
    with contextlib.suppress(OSError):
        if p.log.stat().st_size > LOG_MAX:
            os.replace(p.log, p.log.with_name(p.log.name + ".1"))
    proc.pid.unlink(missing_ok=True)
    cmd = [binary, f"--conf-file={proc.config}", f"--pid-file={proc.pid}",
           f"--log-facility={p.log}", *_user_args()]
    # stderr to a file, not a pipe: the daemon must not hold our pipe open.
    with tempfile.TemporaryFile() as err:
        try:
            done = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                  stderr=err, timeout=10, start_new_session=True)
        except (OSError, subprocess.TimeoutExpired) as e:
            raise CiloError(f"dnsmasq ({binary}) could not be started: {e}") from None
        err.seek(0)
        message = err.read().decode(errors="replace").strip()
    if done.returncode != 0:
        raise CiloError(_start_failure(message, port, proc, p))
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        pid = read_pid(proc.pid)
        if pid and is_ours(pid, proc):
            return pid
        time.sleep(0.005)
    raise CiloError(f"dnsmasq started but wrote no pid to {proc.pid}; see {p.log}")


def _start_failure(message: str, port: int, proc: Proc, p: DnsPaths) -> str:
    if "Address already in use" in message:
        return (f"dnsmasq cannot listen on 127.0.0.1:{port}: another program uses that port; "
                "stop it or choose another port with CILO_DNS_PORT (then run docker cilo init again)")
    return f"dnsmasq did not start: {message or 'no message'} (config {proc.config}, log {p.log})"


def terminate(pid: int, proc: Proc) -> None:
    if not is_ours(pid, proc):
        return
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while is_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.0005)
    if is_alive(pid) and is_ours(pid, proc):
        os.kill(pid, signal.SIGKILL)
        while is_alive(pid) and time.monotonic() < deadline + 1.0:
            time.sleep(0.005)
    if read_pid(proc.pid) == pid:
        proc.pid.unlink(missing_ok=True)
    started = started_record(proc)
    if started and started[0] == pid:
        proc.started.unlink(missing_ok=True)


def port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as dnsmasq binds
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                return False
    return True


def wait_port_free(port: int, timeout: float) -> None:
    """A killed process's sockets can outlive it briefly (the kernel closes them late)."""
    deadline = time.monotonic() + timeout
    while not port_free(port) and time.monotonic() < deadline:
        time.sleep(0.002)


def free_port() -> int:
    """A port free on 127.0.0.1 for UDP and TCP (dnsmasq binds both)."""
    for _ in range(20):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port: int = u.getsockname()[1]  # getsockname() is typed Any
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                with contextlib.suppress(OSError):
                    t.bind(("127.0.0.1", port))
                    return port
    raise CiloError("no free port on 127.0.0.1 for cilo's wildcard responder")


def wait_answering(port: int, suffix: str, timeout: float) -> float | None:
    """Seconds until a dnsmasq answers anything (NXDOMAIN, REFUSED count), None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            query.query(f"{PROBE_LABEL}.{suffix}", port=port, timeout=0.2)
            return time.monotonic() - start
        except query.DnsQueryError:
            time.sleep(0.001)
    return None


def wait_served(port: int, name: str, expected: tuple[str, ...] | None, timeout: float) -> float | None:
    """Seconds until `name` answers `expected` (None: NXDOMAIN), None on timeout."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        try:
            ans = query.query(name, port=port, timeout=0.2)
            if (ans.nxdomain and expected is None) or (
                expected is not None and ans.rcode == 0 and sorted(ans.addresses) == sorted(expected)
            ):
                return time.monotonic() - start
        except query.DnsQueryError:
            pass
        time.sleep(0.002)
    return None


@contextlib.contextmanager
def dns_lock(p: DnsPaths) -> Iterator[None]:
    """Serialise DNS changes between cilo commands (flock: a dead holder blocks no one)."""
    paths.ensure_private_dir(p.dir)
    with open(p.lock, "a") as f:
        deadline = time.monotonic() + LOCK_TIMEOUT
        while True:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CiloError(f"DNS lock {p.lock} still held after {LOCK_TIMEOUT:g} s by "
                                    "another cilo command; wait for it to finish") from None
                time.sleep(0.02)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)
