"""The router's Caddyfile, rendered from state: checked byte for byte against a golden file
(regenerate with CILO_UPDATE_GOLDEN=1 and review), and its routes against DNS's names."""

from __future__ import annotations

import copy
from typing import Any

from compose_cilo.dns import zone
from compose_cilo.reach import routes

from .test_dnsrender import check_golden, golden_state


def test_the_golden_state_renders_the_golden_caddyfile() -> None:
    check_golden("Caddyfile", routes.caddyfile(routes.routes(golden_state(), "test", "local")))


def test_every_name_dns_serves_is_routed_once_to_its_own_service() -> None:
    doc = golden_state()
    recs = zone.records(doc, "test")
    served = {n for e in recs.envs.values() for n in e.names} | {
        f"*.{d}" for e in recs.envs.values() for d in e.wildcards}
    found = routes.routes(doc, "test", "local")
    routed = [n for r in found for n in r.names]
    assert sorted(routed) == sorted(served) and len(routed) == len(set(routed))
    owner = zone.owners(doc, "test")
    assert all(owner[n] == (r.key, r.service) for r in found for n in r.names)


def test_the_http_port_of_a_service_is_where_its_route_goes() -> None:
    doc: dict[str, Any] = copy.deepcopy(golden_state())
    key, service = next((r.key, r.service) for r in routes.routes(doc, "test", "local"))
    doc["hosts"]["local"]["environments"][key]["services"][service]["http_port"] = 8080
    first = routes.routes(doc, "test", "local")[0]
    assert first.upstreams and all(u.endswith(":8080") for u in first.upstreams)
    assert all(u.endswith(":80") for r in routes.routes(doc, "test", "local")[1:] for u in r.upstreams)


def test_stopped_copies_have_no_routes_and_an_empty_state_only_the_global_block() -> None:
    doc: dict[str, Any] = copy.deepcopy(golden_state())
    for rec in doc["hosts"]["local"]["environments"].values():
        rec["status"] = "stopped"
    assert routes.routes(doc, "test", "local") == []
    text = routes.caddyfile([])
    assert "reverse_proxy" not in text and "\tlocal_certs\n" in text and "auto_https disable_redirects" in text


def test_router_mode_dns_answers_the_routers_address_for_every_name() -> None:
    recs = zone.records(golden_state(), "test")
    at = zone.answered_at(recs, "127.0.0.1")
    assert [sorted(e.names) for e in at.envs.values()] == [sorted(e.names) for e in recs.envs.values()]
    assert {ip for e in at.envs.values() for ips in [*e.names.values(), *e.wildcards.values()] for ip in ips} == {
        "127.0.0.1"}
