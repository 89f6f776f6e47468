from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network

import pytest

from compose_cilo import config
from compose_cilo.errors import CiloError
from compose_cilo.network.subnets import (
    SubnetsExhausted,
    Taken,
    allocate,
    candidates,
    configured_pool,
    env_prefix,
    overlapping,
    parse_pool,
)

POOL = IPv4Network("10.224.0.0/16")


def net(text: str) -> IPv4Network:
    return IPv4Network(text)


def docker(cidr: str, name: str) -> Taken:
    return Taken(net(cidr), f'docker network "{name}"')


def route(cidr: str, detail: str = "dev wg0") -> Taken:
    return Taken(net(cidr), f"host route {cidr} {detail}")


def env(cidr: str, key: str) -> Taken:
    return Taken(net(cidr), f"environment {key}")


# --- parse_pool -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text", ["10.224.0.0/16", "10.224.0.0/24", "192.168.64.0/20", " 10.9.0.0/16\n"]
)
def test_parse_pool_accepts_16_to_24(text: str) -> None:
    assert parse_pool(text) == net(text.strip())


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("banana", "is not an IPv4 CIDR range"),
        ("", "is not an IPv4 CIDR range"),
        ("10.224.0.0", "has no prefix length"),
        ("10.0.0.0/8", "is larger than /16"),
        ("10.224.0.0/25", "cannot hold one environment"),
        ("fd00::/64", "is not an IPv4 range"),
        ("127.0.0.0/16", "loopback"),
    ],
)
def test_parse_pool_refuses(text: str, problem: str) -> None:
    with pytest.raises(CiloError) as caught:
        parse_pool(text, source="CILO_BASE_SUBNET")
    message = str(caught.value)
    assert f'base subnet "{text}" (CILO_BASE_SUBNET)' in message
    assert problem in message


def test_parse_pool_range_errors_show_an_example() -> None:
    with pytest.raises(CiloError, match=r"from /16 to /24, e\.g\. 10\.224\.0\.0/16"):
        parse_pool("10.0.0.0/8")


def test_parse_pool_host_bits_are_an_error_that_names_the_network_meant() -> None:
    with pytest.raises(CiloError, match=r"has host bits set; use 10\.224\.0\.0/16 instead"):
        parse_pool("10.224.1.0/16")


def test_parse_pool_prefix_problem_wins_over_host_bits() -> None:
    with pytest.raises(CiloError, match="larger than /16"):
        parse_pool("10.224.0.0/8")


def test_configured_pool_names_the_environment_variable(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CILO_HOME", str(tmp_path))
    config.clear_cache()
    monkeypatch.setenv("CILO_BASE_SUBNET", "10.77.0.0/16")
    assert configured_pool() == net("10.77.0.0/16")
    monkeypatch.setenv("CILO_BASE_SUBNET", "10.77.0.0/8")
    with pytest.raises(CiloError, match=r"\(CILO_BASE_SUBNET\)"):
        configured_pool()


def test_configured_pool_names_the_config_file(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CILO_HOME", str(tmp_path))
    monkeypatch.delenv("CILO_BASE_SUBNET", raising=False)
    (tmp_path / "config.json").write_text('{"base_subnet": "10.1.2.0/16"}')
    config.clear_cache()
    try:
        with pytest.raises(CiloError, match="config.json.*host bits set; use 10.1.0.0/16"):
            configured_pool()
    finally:
        config.clear_cache()


def test_configured_pool_default(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("CILO_HOME", str(tmp_path))
    monkeypatch.delenv("CILO_BASE_SUBNET", raising=False)
    config.clear_cache()
    assert configured_pool() == POOL


# --- candidates -----------------------------------------------------------------------


def test_env_prefix_is_24() -> None:
    assert env_prefix(POOL) == 24
    assert env_prefix(net("10.224.0.0/24")) == 24


def test_candidates_are_the_24s_in_ascending_order() -> None:
    assert list(candidates(net("10.224.0.0/23"))) == [net("10.224.0.0/24"), net("10.224.1.0/24")]
    assert list(candidates(net("10.224.7.0/24"))) == [net("10.224.7.0/24")]
    all_of_them = list(candidates(POOL))
    assert len(all_of_them) == 256
    assert all_of_them == sorted(all_of_them)
    assert all_of_them[-1] == net("10.224.255.0/24")


# --- overlapping ----------------------------------------------------------------------


def test_overlapping_in_both_directions() -> None:
    inside = route("10.224.3.128/25")
    around = route("10.224.0.0/17", "dev tun0")
    elsewhere = docker("10.224.4.0/24", "other")
    assert overlapping(net("10.224.3.0/24"), [inside, around, elsewhere]) == [inside, around]


def test_overlapping_ignores_default_routes_and_ipv6() -> None:
    default = route("0.0.0.0/0", "dev eth0")
    def1 = [route("0.0.0.0/1", "dev tun0"), route("128.0.0.0/1", "dev tun0")]
    v6 = Taken(IPv6Network("::/0"), "host route ::/0")  # type: ignore[arg-type]
    assert overlapping(net("10.224.0.0/24"), [default, *def1, v6]) == []


# --- allocate -------------------------------------------------------------------------


def test_allocate_skips_docker_networks_and_host_routes() -> None:
    taken = [
        docker("10.224.0.0/24", "shop_default"),
        docker("10.224.1.0/24", "vpn"),
        route("10.224.2.0/24"),
    ]
    assert allocate(POOL, taken) == net("10.224.3.0/24")


def test_allocate_empty_pool_gives_the_first_24() -> None:
    assert allocate(POOL, []) == net("10.224.0.0/24")


def test_allocate_accepts_any_iterable() -> None:
    assert allocate(POOL, iter([docker("10.224.0.0/24", "a")])) == net("10.224.1.0/24")


def test_vpn_route_inside_the_pool_skips_the_whole_half() -> None:
    assert allocate(POOL, [route("10.224.0.0/17", "dev tun0")]) == net("10.224.128.0/24")


def test_small_routes_block_the_24_they_fall_in() -> None:
    taken = [route("10.224.0.7/32", "dev eth1"), route("10.224.1.128/25", "dev eth2")]
    assert allocate(POOL, taken) == net("10.224.2.0/24")


def test_ranges_outside_the_pool_do_not_matter() -> None:
    taken = [docker("172.17.0.0/16", "bridge"), route("10.223.255.0/24"), route("10.225.0.0/16")]
    assert allocate(POOL, taken) == net("10.224.0.0/24")


def test_default_route_is_ignored() -> None:
    taken = [route("0.0.0.0/0", "dev eth0"), route("0.0.0.0/1", "dev tun0")]
    assert allocate(POOL, taken) == net("10.224.0.0/24")


def test_exclusions_are_skipped() -> None:
    assert allocate(POOL, [], exclude=[net("10.224.0.0/24")]) == net("10.224.1.0/24")
    assert allocate(POOL, [docker("10.224.0.0/24", "a")], exclude=[net("10.224.1.0/24")]) == net(
        "10.224.2.0/24"
    )
    assert allocate(POOL, [], exclude=[net("10.224.0.0/23")]) == net("10.224.2.0/24")


def test_a_freed_subnet_is_reused_lowest_first() -> None:
    taken = [env(f"10.224.{i}.0/24", f"shop/e{i}") for i in range(5)]
    assert allocate(POOL, taken) == net("10.224.5.0/24")
    freed = [t for t in taken if t.network not in (net("10.224.1.0/24"), net("10.224.3.0/24"))]
    assert allocate(POOL, freed) == net("10.224.1.0/24")


def test_unsorted_and_duplicate_and_nested_entries() -> None:
    taken = [
        route("10.224.2.0/24"),
        env("10.224.0.0/24", "shop/dev"),
        docker("10.224.0.0/24", "cilo_shop_dev_default"),
        route("10.224.0.0/23", "dev br-1"),
        route("10.224.1.5/32", "dev br-1"),
        route("10.224.4.0/24"),
    ]
    assert allocate(POOL, taken) == net("10.224.3.0/24")


def test_the_last_24_can_be_allocated() -> None:
    taken = [route("10.224.0.0/17"), route("10.224.128.0/18"), route("10.224.192.0/19")]
    taken += [route("10.224.224.0/20"), route("10.224.240.0/21"), route("10.224.248.0/22")]
    taken += [route("10.224.252.0/23"), route("10.224.254.0/24")]
    assert allocate(POOL, taken) == net("10.224.255.0/24")


def test_ten_thousand_taken_entries() -> None:
    # every /24 below 10.224.200.0 holds many /32 host routes; one /24 in the middle is free
    taken = [
        route(f"10.224.{i % 200}.{i // 200 + 1}/32", "dev eth0")
        for i in range(10_000)
        if i % 200 != 57
    ]
    taken += [docker("172.30.0.0/16", f"n{i}") for i in range(200)]
    assert allocate(POOL, taken) == net("10.224.57.0/24")
    without_gap = taken + [route("10.224.57.0/24")]
    assert allocate(POOL, without_gap) == net("10.224.200.0/24")


# --- exhaustion -----------------------------------------------------------------------


def test_route_containing_the_pool_exhausts_it() -> None:
    taken = [Taken(net("10.0.0.0/8"), "host route 10.0.0.0/8 dev tun0 (table 51820)")]
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(POOL, taken)
    message = str(caught.value)
    assert "base subnet 10.224.0.0/16 has no free /24" in message
    assert (
        "all 256 /24s are taken (256 by host routes (10.0.0.0/8 dev tun0 (table 51820)))"
    ) in message
    # the example must be outside the route that swallowed the pool
    assert "set CILO_BASE_SUBNET to a larger or other free range, e.g. 172.16.0.0/16" in message
    assert "destroy unused environments" not in message
    assert caught.value.pool == POOL
    assert caught.value.counts == {"host route": 256}


def test_exhausted_23_names_the_pool_and_counts() -> None:
    pool = net("10.224.0.0/23")
    taken = [env("10.224.0.0/24", "shop/dev"), docker("10.224.1.0/24", "vpn")]
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(pool, taken)
    message = str(caught.value)
    assert "base subnet 10.224.0.0/23 has no free /24: all 2 /24s are taken" in message
    assert "1 by environments (shop/dev)" in message
    assert "1 by docker networks (vpn)" in message
    assert "e.g. 10.225.0.0/16" in message
    assert "destroy unused environments" in message
    assert isinstance(caught.value, CiloError)
    assert caught.value.counts == {"environment": 1, "docker network": 1}


def test_exhaustion_counts_each_24_once() -> None:
    # an environment's network is also a docker network and a host route: count it once
    pool = net("10.224.0.0/23")
    taken = [
        route("10.224.0.0/24", "dev br-0123"),
        docker("10.224.0.0/24", "cilo_shop_dev_default"),
        env("10.224.0.0/24", "shop/dev"),
        route("10.224.1.0/24", "dev wg0 (table 51820)"),
    ]
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(pool, taken)
    message = str(caught.value)
    assert "all 2 /24s are taken (1 by environments (shop/dev), 1 by host routes" in message
    assert "docker networks" not in message
    assert "br-0123" not in message
    assert caught.value.counts == {"environment": 1, "host route": 1}


def test_exhaustion_summarises_many_holders() -> None:
    taken = [env(str(c), f"shop/e{i}") for i, c in enumerate(candidates(POOL)) if i < 253]
    taken += [docker("10.224.253.0/24", "vpn"), docker("10.224.254.0/25", "bridge2")]
    taken += [route("10.224.254.128/25", "dev eth1"), route("10.224.255.0/24", "dev eth2")]
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(POOL, taken)
    message = str(caught.value)
    assert (
        "all 256 /24s are taken (253 by environments (shop/e0, shop/e1, shop/e2, and 250 more), "
        "2 by docker networks (vpn, bridge2), 1 by host routes (10.224.255.0/24 dev eth2))"
    ) in message
    assert "or destroy unused environments, or remove unused docker networks" in message


def test_exhaustion_by_exclusion_and_unknown_holders() -> None:
    pool = net("10.224.0.0/23")
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(pool, [Taken(net("10.224.0.0/24"), "something")], exclude=[net("10.224.1.0/24")])
    message = str(caught.value)
    assert "1 by others (something), 1 excluded (10.224.1.0/24)" in message


def test_no_example_when_every_private_16_is_taken() -> None:
    taken = [route("10.0.0.0/8"), route("172.16.0.0/12"), route("192.168.0.0/16")]
    with pytest.raises(SubnetsExhausted) as caught:
        allocate(POOL, taken)
    assert "e.g." not in str(caught.value)


# --- Taken ----------------------------------------------------------------------------


def test_taken_helpers_build_the_descriptions() -> None:
    assert Taken.environment(net("10.224.0.0/24"), "shop/dev").by == "environment shop/dev"
    assert Taken.docker_network(net("10.224.0.0/24"), "vpn").by == 'docker network "vpn"'
    hr = Taken.host_route(net("10.224.2.0/24"), "dev wg0 (table 51820)")
    assert hr.by == "host route 10.224.2.0/24 dev wg0 (table 51820)"
    assert (hr.kind, hr.label) == ("host route", "10.224.2.0/24 dev wg0 (table 51820)")
    assert Taken(net("10.0.0.0/8"), "mystery").kind == "other"
