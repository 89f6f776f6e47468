"""Names, labels and records: pure functions, no dnsmasq."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from compose_cilo.dns import zone
from compose_cilo.dns.labels import parse_service_labels, pick_ingress
from compose_cilo.dns.zone import names_for_env, records
from compose_cilo.errors import CiloError
from tests.fakes import envs_of
from tests.integration.dns_fixtures import environment, envs_of, service, state_doc

# Hostile or unclean values a compose file could put in cilo.hostnames.
HOSTILE_HOSTNAMES = [
    "a/b", "../etc", "admin\nserver=8.8.8.8", "admin\n", "\nadmin", "server=1.2.3.4",
    "address=/x/1.2.3.4", "address=/#/1.2.3.4", "#admin", "admin#x", "ad min", "admin\t",
    "ádmin", "админ", "admin\u200b", "\u212aadmin",  # Kelvin sign lowercases to ASCII k
    "a..b", ".admin", "admin.", "-admin", "admin-", "a.-b", "*", "*.admin", "admin*",
    "a" * 64, ("a" * 63 + ".") * 4 + "a", "admin\0", "\0", "ad_min", "admin,",
    ",admin", "admin,,api", "a\r\nb", "admin;rm -rf", "'admin'", '"admin"', "admin\\",
    "1.2.3.4/24", "[::1]", "admin:80", "@", "%", "admin=1",
]


def test_labels_parse_clean_values() -> None:
    assert parse_service_labels("web", {}) == (False, [])
    assert parse_service_labels("web", None) == (False, [])
    assert parse_service_labels("web", {"cilo.ingress": "true"}) == (True, [])
    assert parse_service_labels("web", {"cilo.ingress": "False"}) == (False, [])
    assert parse_service_labels("web", {"cilo.ingress": True}) == (True, [])
    labels = {"cilo.hostnames": "admin, Api.V2 ,admin,xn--bcher-kva"}
    assert parse_service_labels("web", labels) == (False, ["admin", "api.v2", "xn--bcher-kva"])
    assert parse_service_labels("web", {"cilo.hostnames": ""}) == (False, [])
    assert parse_service_labels("web", {"other": "x\ny"}) == (False, [])


@pytest.mark.parametrize("value", HOSTILE_HOSTNAMES)
def test_hostile_hostnames_are_refused_naming_service_and_label(value: str) -> None:
    with pytest.raises(CiloError) as e:
        parse_service_labels("my-svc", {"cilo.hostnames": value})
    msg = str(e.value)
    assert 'service "my-svc"' in msg and "cilo.hostnames" in msg
    assert "\n" not in msg and "\0" not in msg and "\r" not in msg


@pytest.mark.parametrize("value", ["yes please", "tru", "\n", "", "true\n", "server=1.2.3.4", 2])
def test_unclean_ingress_values_are_refused(value: Any) -> None:
    with pytest.raises(CiloError, match=r'service "web": label cilo\.ingress'):
        parse_service_labels("web", {"cilo.ingress": value})


@pytest.mark.parametrize("value", HOSTILE_HOSTNAMES)
def test_hostile_hostnames_in_the_state_never_reach_records(value: str) -> None:
    doc = state_doc({"shop/dev": environment("shop", "dev", "10.224.3.0/24", {
        "web": service("10.224.3.20", hostnames=(value,))})})
    with pytest.raises(CiloError, match='service "web"'):
        records(doc, "test")
    with pytest.raises(CiloError):
        names_for_env(doc, "shop/dev", "test")


@pytest.mark.parametrize("ip", ["10.224.4.1", "999.1.1.1", "10.224.3.1\nserver=1.1.1.1", "::1", ""])
def test_addresses_outside_the_subnet_are_refused(ip: str) -> None:
    svc = service("10.224.3.20")
    svc["replicas"][0]["ip"] = ip
    doc = state_doc({"shop/dev": environment("shop", "dev", "10.224.3.0/24", {"web": svc})})
    if not ip:  # an empty address is "no address yet": nothing served, nothing refused
        assert records(doc, "test").envs == {}
        return
    with pytest.raises(CiloError, match=r'shop/dev: service "web" has address .* subnet 10\.224\.3\.0/24'):
        records(doc, "test")


@pytest.mark.parametrize("key", ["shop/dev\nx", "shop", "Shop/dev", "shop/dev/x", "shop/-dev"])
def test_unclean_environment_keys_are_refused(key: str) -> None:
    doc = state_doc({key: environment("shop", "dev", "10.224.3.0/24", {"web": service("10.224.3.2")})})
    with pytest.raises(CiloError, match="not PROJECT/ENV"):
        records(doc, "test")


@pytest.mark.parametrize("suffix", ["", "te st", "test\n", "-test", "tést", "a..b", "*"])
def test_unclean_suffixes_are_refused(suffix: str) -> None:
    with pytest.raises(CiloError, match="CILO_DNS_SUFFIX"):
        records(state_doc({}), suffix)


def test_pick_ingress() -> None:
    assert pick_ingress({"api": False, "web": False, "nginx": False}) == "nginx"
    assert pick_ingress({"caddy": False, "frontend": False}) == "frontend"
    assert pick_ingress({"web": False, "gateway": True}) == "gateway"
    assert pick_ingress({"db": False, "api": False}) is None
    assert pick_ingress({}) is None
    with pytest.raises(CiloError, match="a, b are all labelled cilo.ingress"):
        pick_ingress({"a": True, "b": True})


def shop(**extra: Any) -> dict[str, Any]:
    return environment("shop", "dev", "10.224.3.0/24", {
        "nginx": service("10.224.3.10"),
        "web": service("10.224.3.20", hostnames=("admin",)),
        "db": service("10.224.3.5"),
        **extra,
    })


def test_names_of_one_environment() -> None:
    recs = records(state_doc({"shop/dev": shop()}), "test")
    assert recs.exact == {
        "admin.dev.test": ("10.224.3.20",), "admin.shop.dev.test": ("10.224.3.20",),
        "db.dev.test": ("10.224.3.5",), "db.shop.dev.test": ("10.224.3.5",),
        "nginx.dev.test": ("10.224.3.10",), "nginx.shop.dev.test": ("10.224.3.10",),
        "shop.dev.test": ("10.224.3.10",),
        "web.dev.test": ("10.224.3.20",), "web.shop.dev.test": ("10.224.3.20",),
    }
    assert recs.wildcards == {"shop.dev.test": ("10.224.3.10",)}
    assert recs.answer("web.shop.dev.test") == ("10.224.3.20",)  # exact beats the wildcard
    assert recs.answer("x.y.shop.dev.test") == ("10.224.3.10",)
    assert recs.answer("nope.dev.test") is None


def test_replicas_answer_all_their_addresses_sorted_numerically() -> None:
    env = shop(worker=service(None, replicas=["10.224.3.100", "10.224.3.9", "10.224.3.31"]))
    recs = records(state_doc({"shop/dev": env}), "test")
    assert recs.exact["worker.dev.test"] == ("10.224.3.9", "10.224.3.31", "10.224.3.100")


def test_ip_is_the_fallback_only_for_a_running_service_without_replicas() -> None:
    running = {**service("10.224.3.7"), "replicas": []}
    exited = {**service("10.224.3.8", status="exited"), "replicas": []}
    recs = records(state_doc({"shop/dev": shop(a=running, b=exited)}), "test")
    assert recs.exact["a.dev.test"] == ("10.224.3.7",)
    assert "b.dev.test" not in recs.exact


def test_only_running_local_environments_are_served() -> None:
    doc = state_doc({"shop/dev": shop()})
    envs_of(doc)["shop/dev"]["status"] = "stopped"
    assert records(doc, "test").envs == {}
    doc["hosts"]["remote"] = {"id": "remote", "provider": "docker",
                              "environments": {"blog/dev": environment(
                                  "blog", "dev", "10.224.4.0/24", {"web": service("10.224.4.2")})}}
    assert records(doc, "test").envs == {}


def test_same_env_name_in_two_projects_drops_only_the_shared_short_names() -> None:
    doc = state_doc({
        "shop/dev": shop(),
        "blog/dev": environment("blog", "dev", "10.224.4.0/24", {
            "web": service("10.224.4.20"), "search": service("10.224.4.7")}),
    })
    recs = records(doc, "test")
    assert "web.dev.test" not in recs.exact
    assert recs.exact["web.shop.dev.test"] == ("10.224.3.20",)
    assert recs.exact["web.blog.dev.test"] == ("10.224.4.20",)
    assert recs.exact["search.dev.test"] == ("10.224.4.7",)
    assert recs.exact["db.dev.test"] == ("10.224.3.5",)
    assert any(n.startswith("web.dev.test: not served") for n in recs.notes)
    assert names_for_env(doc, "shop/dev", "test")["web"] == [
        "web.shop.dev.test", "admin.dev.test", "admin.shop.dev.test"]
    assert names_for_env(doc, "blog/dev", "test")["search"] == ["search.dev.test", "search.blog.dev.test"]


def test_a_stopped_environment_still_makes_a_short_name_ambiguous() -> None:
    """So a short name does not change owner when another environment starts."""
    other = environment("blog", "dev", "10.224.4.0/24", {"web": service(None, status="exited")},
                        status="stopped")
    recs = records(state_doc({"shop/dev": shop(), "blog/dev": other}), "test")
    assert "web.dev.test" not in recs.exact and "web.shop.dev.test" in recs.exact


def test_exact_service_names_beat_hostnames() -> None:
    env = shop(api=service("10.224.3.30"))
    env["services"]["web"]["hostnames"] = ["api", "db"]
    recs = records(state_doc({"shop/dev": env}), "test")
    assert recs.exact["api.dev.test"] == ("10.224.3.30",)
    assert recs.exact["api.shop.dev.test"] == ("10.224.3.30",)
    assert recs.exact["db.dev.test"] == ("10.224.3.5",)


def test_one_hostname_on_two_services_is_served_by_neither() -> None:
    env = shop()
    env["services"]["db"]["hostnames"] = ["admin"]
    recs = records(state_doc({"shop/dev": env}), "test")
    assert "admin.dev.test" not in recs.exact and "admin.shop.dev.test" not in recs.exact


def test_another_projects_apex_and_names_are_off_limits() -> None:
    """Service `api` of shop/dev would be api.dev.test: the apex of project api's dev."""
    api = environment("api", "dev", "10.224.4.0/24", {"web": service("10.224.4.2")})
    env = shop(api=service("10.224.3.30"))
    env["services"]["web"]["hostnames"] = ["web.api"]  # web.api.dev.test: inside api/dev
    recs = records(state_doc({"shop/dev": env, "api/dev": api}), "test")
    assert recs.exact["api.dev.test"] == ("10.224.4.2",)  # api/dev's apex (its ingress: web)
    assert recs.exact["api.shop.dev.test"] == ("10.224.3.30",)
    assert recs.answer("web.api.dev.test") == ("10.224.4.2",)
    assert recs.envs["api/dev"].names["web.api.dev.test"] == ("10.224.4.2",)


def test_projects_with_the_same_dns_label_share_nothing() -> None:
    a = environment("my_app", "dev", "10.224.4.0/24", {"web": service("10.224.4.2")})
    b = environment("my-app", "dev", "10.224.5.0/24", {"web": service("10.224.5.2")})
    recs = records(state_doc({"my_app/dev": a, "my-app/dev": b}), "test")
    assert recs.exact == {} and recs.wildcards == {}
    assert any("my-app.dev.test" in n for n in recs.notes)


def test_ingress_by_label_and_the_apex() -> None:
    env = shop(gateway={**service("10.224.3.2"), "ingress": True})
    recs = records(state_doc({"shop/dev": env}), "test")
    assert recs.exact["shop.dev.test"] == ("10.224.3.2",)
    assert recs.wildcards == {"shop.dev.test": ("10.224.3.2",)}
    names = names_for_env(state_doc({"shop/dev": env}), "shop/dev", "test")
    assert names["gateway"] == ["gateway.dev.test", "gateway.shop.dev.test", "shop.dev.test"]
    assert names["nginx"] == ["nginx.dev.test", "nginx.shop.dev.test"]


def test_project_and_service_names_become_labels() -> None:
    env = environment("my_shop", "dev", "10.224.3.0/24", {
        "Cache_V1": service("10.224.3.6"), "metrics.exporter": service("10.224.3.7")})
    recs = records(state_doc({"my_shop/dev": env}), "test")
    assert recs.exact["cache-v1.my-shop.dev.test"] == ("10.224.3.6",)
    assert not any("metrics" in n for n in recs.exact)
    assert any('"metrics.exporter" has no DNS name' in n for n in recs.notes)


def test_names_that_would_be_too_long_are_not_served() -> None:
    host = ".".join(["a" * 60] * 3)  # 182 characters: a clean hostname on its own
    env = environment("p" * 30, "e" * 40, "10.224.3.0/24", {"web": service("10.224.3.2", hostnames=(host,))})
    recs = records(state_doc({f"{'p' * 30}/{'e' * 40}": env}), "test")
    assert all(len(n) <= 253 for n in recs.exact)
    assert any(n.startswith(host[:20]) for n in recs.exact)  # the short hostname fits
    assert any("longer than 253" in n for n in recs.notes)


def test_custom_suffix() -> None:
    recs = records(state_doc({"shop/dev": shop()}), "cilo.internal")
    assert "web.dev.cilo.internal" in recs.exact


def test_validate_refuses_a_name_in_two_environments() -> None:
    recs = records(state_doc({"shop/dev": shop()}), "test")
    other = zone.EnvRecords("blog/dev", "blog", "dev", {"web.dev.test": ("10.224.4.2",)}, {})
    bad = zone.DnsRecords("test", {**recs.envs, "blog/dev": other}, ())
    with pytest.raises(CiloError, match="web.dev.test points at both"):
        zone.validate(bad)
    under = zone.EnvRecords("blog/dev", "blog", "dev", {"x.shop.dev.test": ("10.224.4.2",)}, {})
    with pytest.raises(CiloError, match=r"lies under \*\.shop\.dev\.test"):
        zone.validate(zone.DnsRecords("test", {**recs.envs, "blog/dev": under}, ()))


def test_dns_modules_import_without_heavy_libraries() -> None:
    code = ("import sys, compose_cilo.dns.zone, compose_cilo.dns.render, compose_cilo.dns.query; "
            "heavy = [m for m in ('typer', 'jsonschema', 'python_on_whales', 'pydantic', 'yaml') "
            "if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
