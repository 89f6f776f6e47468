"""A tiny DNS client for loopback only: one A query, time-to-resolve, and a bounded load.

Every function refuses a server address outside 127.0.0.0/8: load and probe traffic
never leave the machine.
"""

from __future__ import annotations

import ipaddress
import random
import re
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's package
from compose_cilo.dns import query as dnsquery  # noqa: E402 - the same wire code cilo itself uses

SERVER = "127.0.0.1"
QUERY_TIMEOUT = 0.5  # seconds, per query
LOST_AFTER = 1.0  # seconds: an outstanding load query older than this counts as lost


def _loopback(server: str) -> None:
    if not ipaddress.ip_address(server).is_loopback:
        raise ValueError(f"refusing to query {server}: benchmarks query loopback only")


def build_query(name: str, qid: int) -> bytes:
    """A standard A/IN query with recursion desired (cilo's own client builds it)."""
    return dnsquery.build_query(name, "A", qid)


def parse_a(msg: bytes) -> tuple[int, int, list[str]]:
    """(id, rcode, IPv4 addresses of the A records in the answer section)."""
    answer = dnsquery.parse_response(msg)
    return struct.unpack(">H", msg[:2])[0], answer.rcode, [a for a in answer.addresses if ":" not in a]


def query_a(port: int, name: str, server: str = SERVER, timeout: float = QUERY_TIMEOUT) -> list[str]:
    """The A records for name ([] on NXDOMAIN, empty answer or timeout)."""
    _loopback(server)
    qid = random.randrange(65536)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.connect((server, port))
        s.send(build_query(name, qid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                got_id, rcode, ips = parse_a(s.recv(4096))
            except (TimeoutError, ConnectionRefusedError):
                return []
            if got_id == qid:
                return sorted(ips) if rcode == 0 else []
    return []


@dataclass(frozen=True)
class Resolve:
    """How long after `up` returned the name first answered with the expected address."""

    wait_ms: float  # 0 when the very first query answered
    first_rtt_ms: float  # round trip of the first query, answered or not
    attempts: int
    answer: list[str]


def time_to_resolve(port: int, name: str, give_up: float = 10.0) -> Resolve:
    """Query name until it has an A record; call this right after `up` returned."""
    start = time.perf_counter()
    attempts, first_rtt = 0, None
    while True:
        sent = time.perf_counter()
        ips = query_a(port, name)
        attempts += 1
        if first_rtt is None:
            first_rtt = (time.perf_counter() - sent) * 1000
        if ips or sent - start > give_up:
            wait = 0.0 if attempts == 1 else (sent - start) * 1000
            return Resolve(wait, first_rtt, attempts, ips)
        time.sleep(0.005)


@dataclass(frozen=True)
class Load:
    tool: str
    seconds: float
    outstanding: int
    sent: int
    answered: int
    lost: int  # no answer within LOST_AFTER (dnsperf: its own timeout)
    unfinished: int = 0  # still in flight when the time was up: neither answered nor lost

    @property
    def per_second(self) -> float:
        return self.answered / self.seconds if self.seconds else 0.0


def python_load(port: int, name: str, seconds: float = 3.0, outstanding: int = 20,
                server: str = SERVER) -> Load:
    """Keep `outstanding` queries in flight for `seconds`; count answers with an A record."""
    _loopback(server)
    body = build_query(name, 0)[2:]
    inflight: dict[int, float] = {}
    sent = answered = lost = 0
    next_id = 0
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect((server, port))
        s.setblocking(False)
        start = time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            while len(inflight) < outstanding:
                next_id = (next_id + 1) & 0xFFFF
                if next_id in inflight:
                    break
                s.send(struct.pack(">H", next_id) + body)
                inflight[next_id] = now
                sent += 1
            if select.select([s], [], [], 0.05)[0]:
                while True:
                    try:
                        msg = s.recv(4096)
                    except BlockingIOError:
                        break
                    qid = struct.unpack(">H", msg[:2])[0]
                    if inflight.pop(qid, None) is not None and msg[3] & 0xF == 0 and msg[6:8] != b"\0\0":
                        answered += 1
            stale = [q for q, t in inflight.items() if now - t > LOST_AFTER]
            for q in stale:
                del inflight[q]
            lost += len(stale)
        elapsed = time.perf_counter() - start
    return Load("python UDP client", elapsed, outstanding, sent, answered, lost, len(inflight))


def dnsperf_load(port: int, name: str, seconds: float = 3.0, outstanding: int = 20,
                 server: str = SERVER) -> Load | None:
    """The same load with dnsperf (Debian package dnsperf), or None when it is missing."""
    _loopback(server)
    exe = shutil.which("dnsperf")
    if not exe:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as data:
        data.write(f"{name} A\n")
        data.flush()
        out = subprocess.run(
            [exe, "-s", server, "-p", str(port), "-d", data.name, "-l", str(seconds),
             "-q", str(outstanding), "-c", "1", "-T", "1"],
            capture_output=True, text=True, timeout=seconds + 30, stdin=subprocess.DEVNULL,
        ).stdout

    def num(label: str) -> float:
        m = re.search(rf"{label}:\s+([\d.]+)", out)
        if not m:
            raise ValueError(f"dnsperf printed no '{label}': {out.strip()[-300:]}")
        return float(m.group(1))

    noerror = re.search(r"NOERROR\s+(\d+)", out)
    return Load("dnsperf", num("Run time \\(s\\)"), outstanding, int(num("Queries sent")),
                int(noerror.group(1)) if noerror else int(num("Queries completed")),
                int(num("Queries lost")))
