"""The stdlib DNS client: packets built and parsed without a server."""

from __future__ import annotations

import socket
import struct

import pytest

from compose_cilo.dns import query


def reply(query: bytes, rcode: int, answers: list[tuple[int, bytes]]) -> bytes:
    qid = struct.unpack("!H", query[:2])[0]
    header = struct.pack("!HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0, 0)
    body = query[12:]
    for rtype, rdata in answers:
        body += b"\xc0\x0c" + struct.pack("!HHIH", rtype, 1, 0, len(rdata)) + rdata
    return header + body


def test_build_query() -> None:
    q = query.build_query("web.dev.test", "A", qid=0x1234)
    assert q[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert q[12:] == b"\x03web\x03dev\x04test\x00\x00\x01\x00\x01"
    with pytest.raises(ValueError):
        query.build_query("a..b")
    with pytest.raises(ValueError):
        query.build_query("a" * 64 + ".test")


def test_parse_answers_and_rcodes() -> None:
    q = query.build_query("web.dev.test", qid=7)
    ans = query.parse_response(reply(q, 0, [(1, bytes([10, 224, 3, 20])), (1, bytes([10, 224, 3, 21])),
                                               (5, b"\x00")]), qid=7)
    assert ans == query.DnsAnswer(0, ("10.224.3.20", "10.224.3.21"))
    nx = query.parse_response(reply(q, 3, []), qid=7)
    assert nx.nxdomain and nx.status == "NXDOMAIN" and nx.addresses == ()
    with pytest.raises(query.DnsQueryError, match="does not match"):
        query.parse_response(reply(q, 0, []), qid=8)
    with pytest.raises(query.DnsQueryError):
        query.parse_response(q)  # a query, not a reply
    with pytest.raises(query.DnsQueryError):
        query.parse_response(reply(q, 0, [(1, b"\x01\x02\x03\x04")])[:-3])


def test_query_against_a_loopback_responder() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind(("127.0.0.1", 0))
        port = server.getsockname()[1]
        import threading

        def answer() -> None:
            data, addr = server.recvfrom(512)
            server.sendto(reply(data, 0, [(1, bytes([127, 0, 0, 9]))]), addr)

        t = threading.Thread(target=answer)
        t.start()
        assert query.query("x.test", port=port).addresses == ("127.0.0.9",)
        t.join()


def test_nothing_listening_fails_fast() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(query.DnsQueryError):
        query.query("x.test", port=port, timeout=0.5)
