"""A tiny stdlib DNS client: one question over UDP, answers parsed (no dnspython).

Used by `sync` to wait until a change is served, by `doctor` and by the tests. It only
asks the server it is given (cilo's own dnsmasq on 127.0.0.1 in practice).
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from dataclasses import dataclass

QTYPES = {"A": 1, "AAAA": 28, "MX": 15, "TXT": 16, "PTR": 12, "CNAME": 5, "ANY": 255}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
NOERROR, NXDOMAIN = 0, 3
_A, _AAAA = 1, 28


class DnsQueryError(OSError):
    """No usable answer: timeout, connection refused (nothing listening), garbled reply."""


@dataclass(frozen=True)
class DnsAnswer:
    rcode: int
    addresses: tuple[str, ...]  # A and AAAA answers, in the order the server sent them

    @property
    def status(self) -> str:
        return RCODES.get(self.rcode, str(self.rcode))

    @property
    def nxdomain(self) -> bool:
        return self.rcode == NXDOMAIN


def encode_name(name: str) -> bytes:
    out = b""
    for label in name.rstrip(".").split("."):
        raw = label.encode("ascii")
        if not 0 < len(raw) < 64:
            raise ValueError(f"DNS name {name!r} has an empty or too long label")
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def build_query(name: str, qtype: str = "A", qid: int = 0) -> bytes:
    header = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)  # RD=1, one question
    return header + encode_name(name) + struct.pack("!HH", QTYPES[qtype], 1)


def _skip_name(msg: bytes, pos: int) -> int:
    while True:
        if pos >= len(msg):
            raise DnsQueryError("truncated DNS name in reply")
        length = msg[pos]
        if length & 0xC0 == 0xC0:  # compression pointer: two bytes, name ends here
            return pos + 2
        if length == 0:
            return pos + 1
        pos += 1 + length


def parse_response(msg: bytes, qid: int | None = None) -> DnsAnswer:
    if len(msg) < 12:
        raise DnsQueryError("DNS reply shorter than its header")
    rid, flags, qdcount, ancount, _, _ = struct.unpack("!HHHHHH", msg[:12])
    if qid is not None and rid != qid:
        raise DnsQueryError(f"DNS reply id {rid} does not match query id {qid}")
    if not flags & 0x8000:
        raise DnsQueryError("DNS message is not a reply")
    pos = 12
    for _ in range(qdcount):
        pos = _skip_name(msg, pos) + 4
    addresses: list[str] = []
    for _ in range(ancount):
        pos = _skip_name(msg, pos)
        if pos + 10 > len(msg):
            raise DnsQueryError("truncated DNS answer")
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[pos : pos + 10])
        rdata = msg[pos + 10 : pos + 10 + rdlen]
        if len(rdata) != rdlen:
            raise DnsQueryError("truncated DNS answer data")
        if rtype == _A and rdlen == 4:
            addresses.append(str(ipaddress.IPv4Address(rdata)))
        elif rtype == _AAAA and rdlen == 16:
            addresses.append(str(ipaddress.IPv6Address(rdata)))
        pos += 10 + rdlen
    return DnsAnswer(rcode=flags & 0x000F, addresses=tuple(addresses))


def query(
    name: str,
    *,
    port: int,
    server: str = "127.0.0.1",
    qtype: str = "A",
    timeout: float = 1.0,
) -> DnsAnswer:
    """Ask `server:port` one question; raise DnsQueryError when no answer comes.

    The socket is connected, so "nothing listens on that port" comes back at once as
    ECONNREFUSED on loopback instead of waiting for the timeout.
    """
    qid = struct.unpack("!H", os.urandom(2))[0]
    family = socket.AF_INET6 if ":" in server else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((server, port))
            sock.send(build_query(name, qtype, qid))
            while True:
                reply = sock.recv(4096)
                try:
                    return parse_response(reply, qid)
                except DnsQueryError:
                    continue  # a late reply to someone else's query: keep waiting
        except TimeoutError:
            raise DnsQueryError(f"no DNS answer from {server}#{port} within {timeout:g} s") from None
        except OSError as e:
            if isinstance(e, DnsQueryError):
                raise
            raise DnsQueryError(f"DNS query to {server}#{port} failed: {e.strerror or e}") from None
