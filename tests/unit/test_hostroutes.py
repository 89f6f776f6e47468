from __future__ import annotations

import json
import subprocess
from ipaddress import IPv4Network

import pytest

from compose_cilo.network import hostroutes
from compose_cilo.network.hostroutes import parse_ip_json, parse_netstat, parse_proc_net_route
from compose_cilo.network.subnets import Taken, allocate

# `ip -j route show table all` on a laptop with docker, a wg-quick tunnel (policy
# routing in table 51820), tailscale (table 52) and a BGP daemon's blackhole.
IP_JSON = json.dumps(
    [
        {"dst": "default", "gateway": "192.168.1.1", "dev": "wlp2s0", "protocol": "dhcp",
         "prefsrc": "192.168.1.23", "metric": 600, "flags": []},
        {"dst": "169.254.0.0/16", "dev": "wlp2s0", "scope": "link", "metric": 1000, "flags": []},
        {"dst": "172.17.0.0/16", "dev": "docker0", "protocol": "kernel", "scope": "link",
         "prefsrc": "172.17.0.1", "flags": ["linkdown"]},
        {"dst": "172.18.0.0/16", "dev": "br-3f2a9c1d7e4b", "protocol": "kernel", "scope": "link",
         "prefsrc": "172.18.0.1", "flags": []},
        {"dst": "192.168.1.0/24", "dev": "wlp2s0", "protocol": "kernel", "scope": "link",
         "prefsrc": "192.168.1.23", "metric": 600, "flags": []},
        {"dst": "203.0.113.7", "gateway": "192.168.1.1", "dev": "wlp2s0", "flags": []},
        {"dst": "10.224.9.0/24", "flags": [], "nexthops": [
            {"gateway": "192.168.1.2", "dev": "wlp2s0", "weight": 1, "flags": []},
            {"gateway": "192.168.1.3", "dev": "wlp2s0", "weight": 1, "flags": []}]},
        {"type": "blackhole", "dst": "10.224.64.0/26", "protocol": "bird", "flags": []},
        {"dst": "default", "dev": "wg0", "table": "51820", "scope": "link", "flags": []},
        {"dst": "10.224.2.0/24", "dev": "wg0", "table": "51820", "scope": "link", "flags": []},
        {"dst": "100.101.102.103", "dev": "tailscale0", "table": "52", "flags": []},
        {"type": "throw", "dst": "127.0.0.0/8", "table": "52", "flags": []},
        {"type": "unreachable", "dst": "default", "table": "52", "flags": []},
        {"type": "multicast", "dst": "224.0.0.0/4", "dev": "wlp2s0", "table": "local",
         "flags": []},
        {"dst": "224.0.0.0/4", "dev": "wlp2s0", "scope": "link", "flags": []},
        {"type": "local", "dst": "127.0.0.0/8", "dev": "lo", "table": "local",
         "protocol": "kernel", "scope": "host", "prefsrc": "127.0.0.1", "flags": []},
        {"type": "local", "dst": "10.224.2.1", "dev": "wg0", "table": "local",
         "protocol": "kernel", "scope": "host", "prefsrc": "10.224.2.1", "flags": []},
        {"dst": "10.224.5.0/24", "dev": "eth9", "table": "local", "flags": []},
        {"type": "broadcast", "dst": "172.17.255.255", "dev": "docker0", "table": "local",
         "protocol": "kernel", "scope": "link", "prefsrc": "172.17.0.1", "flags": ["linkdown"]},
        {"dst": "fe80::/64", "dev": "wlp2s0", "protocol": "kernel", "metric": 256, "flags": [],
         "pref": "medium"},
        {"dst": "default", "gateway": "fe80::1", "dev": "wlp2s0", "metric": 600, "flags": []},
    ]
)

# /proc/net/route of the same kind of host (main table only, little-endian hex)
PROC_NET_ROUTE = """\
Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
wlp2s0\t00000000\t0101A8C0\t0003\t0\t0\t600\t00000000\t0\t0\t0
wlp2s0\t0000FEA9\t00000000\t0001\t0\t0\t1000\t0000FFFF\t0\t0\t0
docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
wlp2s0\t0001A8C0\t00000000\t0001\t0\t0\t600\t00FFFFFF\t0\t0\t0
tun0\t0000E00A\t00000000\t0001\t0\t0\t0\t0080FFFF\t0\t0\t0
wlp2s0\t077100CB\t0101A8C0\t0007\t0\t0\t0\tFFFFFFFF\t0\t0\t0
"""

# macOS `netstat -rn -f inet` with an OpenVPN def1 tunnel and a split route
NETSTAT = """\
Routing tables

Internet:
Destination        Gateway            Flags               Netif Expire
0/1                10.8.0.1           UGScg               utun3
default            192.168.1.1        UGScg                 en0
10.8/16            10.8.0.1           UGSc                utun3
10.224.2/24        10.8.0.1           UGSc                utun3
10.8.0.1           10.8.0.2           UH                  utun3
127                127.0.0.1          UCS                   lo0
127.0.0.1          127.0.0.1          UH                    lo0
128.0/1            10.8.0.1           UGSc                utun3
169.254            link#6             UCS                   en0      !
172.16             link#22            UCS              bridge100      !
192.168.1          link#6             UCS                   en0      !
192.168.1.1/32     link#6             UCS                   en0      !
192.168.1.1        a4:91:b1:2c:aa:bb  UHLWIir               en0   1190
192.168.1.23/32    link#6             UCS                   en0      !
203.0.113.9        192.168.1.1        UGHW3I                en0   3582
224.0.0/4          link#6             UmCS                  en0      !
224.0.0.251        1:0:5e:0:0:fb      UHmLWI                en0
255.255.255.255/32 link#6             UCS                   en0      !
"""


def by_network(routes: list[Taken]) -> dict[str, str]:
    return {str(t.network): t.by for t in routes}


# --- ip -j route show table all ---------------------------------------------------------


def test_ip_json_keeps_every_table_but_local() -> None:
    assert by_network(parse_ip_json(IP_JSON)) == {
        "169.254.0.0/16": "host route 169.254.0.0/16 dev wlp2s0",
        "172.17.0.0/16": "host route 172.17.0.0/16 dev docker0",
        "172.18.0.0/16": "host route 172.18.0.0/16 dev br-3f2a9c1d7e4b",
        "192.168.1.0/24": "host route 192.168.1.0/24 dev wlp2s0",
        "203.0.113.7/32": "host route 203.0.113.7/32 dev wlp2s0",
        "10.224.9.0/24": "host route 10.224.9.0/24 dev wlp2s0,wlp2s0",
        "10.224.64.0/26": "host route 10.224.64.0/26 (blackhole)",
        "10.224.2.0/24": "host route 10.224.2.0/24 dev wg0 (table 51820)",
        "100.101.102.103/32": "host route 100.101.102.103/32 dev tailscale0 (table 52)",
    }


def test_ip_json_routes_are_ipv4_networks() -> None:
    for t in parse_ip_json(IP_JSON):
        assert isinstance(t.network, IPv4Network)
        assert t.network.prefixlen > 0


def test_ip_json_from_this_sample_feeds_allocation() -> None:
    pool = IPv4Network("10.224.0.0/16")
    routes = parse_ip_json(IP_JSON)
    taken = routes + [Taken(IPv4Network("10.224.0.0/24"), 'docker network "a"')]
    assert allocate(pool, taken) == IPv4Network("10.224.1.0/24")
    taken.append(Taken(IPv4Network("10.224.1.0/24"), 'docker network "b"'))
    assert allocate(pool, taken) == IPv4Network("10.224.3.0/24")


def test_ip_json_edge_cases() -> None:
    assert parse_ip_json("[]") == []
    assert parse_ip_json('[{"dst": "nonsense"}, 3, {"dev": "eth0"}]') == []
    # the same route twice is listed once
    twice = json.dumps([{"dst": "10.1.0.0/16", "dev": "eth1", "flags": []}] * 2)
    assert len(parse_ip_json(twice)) == 1


def test_ip_json_refuses_malformed_output() -> None:
    with pytest.raises(ValueError):
        parse_ip_json("Option \"-j\" is unknown")
    with pytest.raises(ValueError):
        parse_ip_json('{"dst": "10.0.0.0/8"}')


# --- /proc/net/route ------------------------------------------------------------------


def test_proc_net_route() -> None:
    assert by_network(parse_proc_net_route(PROC_NET_ROUTE, byteorder="little")) == {
        "169.254.0.0/16": "host route 169.254.0.0/16 dev wlp2s0",
        "172.17.0.0/16": "host route 172.17.0.0/16 dev docker0",
        "192.168.1.0/24": "host route 192.168.1.0/24 dev wlp2s0",
        "10.224.0.0/17": "host route 10.224.0.0/17 dev tun0",
        "203.0.113.7/32": "host route 203.0.113.7/32 dev wlp2s0",
    }


def test_proc_net_route_big_endian_host() -> None:
    text = "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\tMTU\tWindow\tIRTT\n"
    text += "eth0\t0AE00000\t00000000\t0001\t0\t0\t0\tFFFF8000\t0\t0\t0\n"
    assert by_network(parse_proc_net_route(text, byteorder="big")) == {
        "10.224.0.0/17": "host route 10.224.0.0/17 dev eth0"
    }


def test_proc_net_route_junk() -> None:
    assert parse_proc_net_route("") == []
    assert parse_proc_net_route("garbage\n1 2 3\n") == []
    text = PROC_NET_ROUTE.splitlines()[0] + "\neth0\tZZZZ\t0\t1\t0\t0\t0\t00FFFFFF\t0\t0\t0\n"
    assert parse_proc_net_route(text, byteorder="little") == []
    # a non-contiguous mask is no network
    text = PROC_NET_ROUTE.splitlines()[0] + "\neth0\t0000000A\t0\t1\t0\t0\t0\t00FF00FF\t0\t0\t0\n"
    assert parse_proc_net_route(text, byteorder="little") == []


# --- macOS netstat --------------------------------------------------------------------


def test_netstat() -> None:
    assert by_network(parse_netstat(NETSTAT)) == {
        "0.0.0.0/1": "host route 0.0.0.0/1 dev utun3",
        "10.8.0.0/16": "host route 10.8.0.0/16 dev utun3",
        "10.224.2.0/24": "host route 10.224.2.0/24 dev utun3",
        "10.8.0.1/32": "host route 10.8.0.1/32 dev utun3",
        "127.0.0.0/8": "host route 127.0.0.0/8 dev lo0",
        "127.0.0.1/32": "host route 127.0.0.1/32 dev lo0",
        "128.0.0.0/1": "host route 128.0.0.0/1 dev utun3",
        "169.254.0.0/16": "host route 169.254.0.0/16 dev en0",
        "172.16.0.0/16": "host route 172.16.0.0/16 dev bridge100",
        "192.168.1.0/24": "host route 192.168.1.0/24 dev en0",
        "192.168.1.1/32": "host route 192.168.1.1/32 dev en0",
        "192.168.1.23/32": "host route 192.168.1.23/32 dev en0",
        "255.255.255.255/32": "host route 255.255.255.255/32 dev en0",
    }


def test_netstat_def1_halves_do_not_block_the_pool() -> None:
    pool = IPv4Network("10.224.0.0/16")
    assert allocate(pool, parse_netstat(NETSTAT)) == IPv4Network("10.224.0.0/24")
    assert allocate(pool, parse_netstat(NETSTAT.replace("10.224.2/24", "10.224.0/24"))) == (
        IPv4Network("10.224.1.0/24")
    )


def test_netstat_ignores_other_sections_and_junk() -> None:
    text = NETSTAT + "\nInternet6:\nDestination  Gateway  Flags  Netif Expire\n"
    text += "default  fe80::1%en0  UGcg  en0\n::1  ::1  UHL  lo0\n"
    assert len(parse_netstat(text)) == len(parse_netstat(NETSTAT))
    assert parse_netstat("") == []
    assert parse_netstat("Destination Gateway Flags Netif\n10.1&0xff00ff00 x UGS en0\n") == []


def test_netstat_older_columns() -> None:
    text = "Internet:\nDestination  Gateway  Flags  Refs  Use  Netif Expire\n"
    text += "10.224.4/22  10.8.0.1  UGSc  1  0  utun1\n"
    assert by_network(parse_netstat(text)) == {
        "10.224.4.0/22": "host route 10.224.4.0/22 dev utun1"
    }


# --- host_routes ----------------------------------------------------------------------


def fake_run(outputs: dict[str, str | Exception]):
    def run(argv, **kwargs):
        result = outputs[argv[0]]
        if isinstance(result, Exception):
            raise result
        return subprocess.CompletedProcess(argv, 0, stdout=result, stderr="")

    return run


def test_host_routes_linux_uses_ip(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "linux")
    monkeypatch.setattr(hostroutes.subprocess, "run", fake_run({"ip": IP_JSON}))
    monkeypatch.setattr(hostroutes, "_read", lambda path: pytest.fail("no fallback needed"))
    assert hostroutes.host_routes() == parse_ip_json(IP_JSON)


@pytest.mark.parametrize(
    "failure",
    [
        FileNotFoundError("ip"),
        subprocess.CalledProcessError(255, ["ip"]),
        subprocess.TimeoutExpired(["ip"], 10),
    ],
)
def test_host_routes_linux_falls_back_to_proc(monkeypatch, failure) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "linux")
    monkeypatch.setattr(hostroutes.subprocess, "run", fake_run({"ip": failure}))
    monkeypatch.setattr(hostroutes, "_read", lambda path: PROC_NET_ROUTE)
    assert hostroutes.host_routes() == parse_proc_net_route(PROC_NET_ROUTE)


def test_host_routes_linux_falls_back_when_ip_prints_no_json(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "linux")
    monkeypatch.setattr(hostroutes.subprocess, "run", fake_run({"ip": "Usage: ip [ OPTIONS ]"}))
    monkeypatch.setattr(hostroutes, "_read", lambda path: PROC_NET_ROUTE)
    assert hostroutes.host_routes() == parse_proc_net_route(PROC_NET_ROUTE)


def test_host_routes_linux_nothing_readable(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "linux")
    monkeypatch.setattr(hostroutes.subprocess, "run", fake_run({"ip": FileNotFoundError("ip")}))
    monkeypatch.setattr(hostroutes, "_read", lambda path: None)
    assert hostroutes.host_routes() == []


def test_host_routes_macos_uses_netstat(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "darwin")
    monkeypatch.setattr(hostroutes.subprocess, "run", fake_run({"netstat": NETSTAT}))
    assert hostroutes.host_routes() == parse_netstat(NETSTAT)


def test_host_routes_other_platforms(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.sys, "platform", "win32")
    monkeypatch.setattr(hostroutes.subprocess, "run", lambda *a, **k: pytest.fail("no command"))
    assert hostroutes.host_routes() == []


def test_host_routes_here_are_ipv4_taken() -> None:
    # whatever this machine has: never a default route, always IPv4 host routes
    for t in hostroutes.host_routes():
        assert isinstance(t.network, IPv4Network)
        assert t.network.prefixlen > 0
        assert t.by.startswith(f"host route {t.network}")


# --- route sources ----------------------------------------------------------------------


def test_host_routes_default_source_is_the_system(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes, "system_routes", lambda: parse_ip_json(IP_JSON))
    assert hostroutes.host_routes() == parse_ip_json(IP_JSON)


def test_host_routes_from_a_fixed_source_run_nothing(monkeypatch) -> None:
    monkeypatch.setattr(hostroutes.subprocess, "run", lambda *a, **k: pytest.fail("no command"))
    monkeypatch.setattr(hostroutes, "_read", lambda path: pytest.fail("no file"))
    wg = Taken.host_route(IPv4Network("10.224.2.0/24"), "dev wg0 (table 51820)")
    source = hostroutes.fixed_routes([wg])
    assert hostroutes.host_routes(source) == [wg]
    hostroutes.host_routes(source).clear()  # a caller's copy: the source keeps its routes
    assert source() == [wg]

