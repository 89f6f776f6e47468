"""Rendering checked byte for byte against golden files.

Regenerate after an intended change with CILO_UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import pytest

from compose_cilo.dns import dnsmasq, render, zone
from compose_cilo.errors import CiloError
from tests.integration.dns_fixtures import environment, service, state_doc

from .test_dnsnames import HOSTILE_HOSTNAMES

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "dns"
HOSTS_DIR = "/home/u/.cilo/dns/hosts.d"
SERVERS_FILE = "/home/u/.cilo/dns/wildcards.servers"
WILDCARD_PORT = 40053


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / "expected" / name
    if os.environ.get("CILO_UPDATE_GOLDEN") == "1":
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert path.exists(), f"no golden file {path}; run with CILO_UPDATE_GOLDEN=1"
    assert text == path.read_text(), f"{path} differs; run with CILO_UPDATE_GOLDEN=1 and review"


def golden_state() -> dict[str, Any]:
    return json.loads((GOLDEN / "state.json").read_text())


def render_all(doc: dict[str, Any], suffix: str = "test", port: int = 5354,
               upstreams: tuple[str, ...] = ()) -> tuple[str, dict[str, str]]:
    recs = zone.records(doc, suffix)
    main = render.render_main_config(recs, port=port, hosts_dir=HOSTS_DIR,
                                        servers_file=SERVERS_FILE, upstreams=upstreams)
    return main, render.render_hosts(recs)


def render_wildcards(doc: dict[str, Any], suffix: str = "test") -> tuple[dict[str, str], str]:
    """Each environment's responder config, and the servers-file (fixed ports)."""
    recs = zone.records(doc, suffix)
    ports = {key: WILDCARD_PORT + n for n, key in enumerate(sorted(recs.envs))}
    configs = {key: render.render_responder_config(env.wildcards, port=ports[key])
               for key, env in recs.envs.items() if env.wildcards}
    servers = render.render_wildcard_servers(
        {d: ports[key] for key, env in recs.envs.items() for d in env.wildcards})
    return configs, servers


def test_golden_state_is_a_valid_state_file() -> None:
    from compose_cilo.state import store

    store.validate(golden_state(), GOLDEN / "state.json")


def test_main_config_and_hosts_files_match_the_golden_files() -> None:
    main, hosts = render_all(golden_state())
    check_golden("dnsmasq.conf", main)
    expected_dir = GOLDEN / "expected" / "hosts.d"
    if os.environ.get("CILO_UPDATE_GOLDEN") == "1" and expected_dir.exists():
        for old in expected_dir.iterdir():
            old.unlink()
    for name, text in hosts.items():
        check_golden(f"hosts.d/{name}", text)
    assert sorted(p.name for p in expected_dir.iterdir()) == sorted(hosts)
    responders, servers = render_wildcards(golden_state())
    for key, text in responders.items():
        check_golden(f"wildcards/{render.hosts_filename(key)[:-6]}.conf", text)
    check_golden("wildcards.servers", servers)


def test_main_config_with_upstreams_and_another_suffix_matches_the_golden_file() -> None:
    main, _ = render_all(golden_state(), suffix="cilo.internal", port=5999,
                         upstreams=("192.0.2.53", "2001:db8::53#5353"))
    check_golden("dnsmasq-upstreams.conf", main)


def test_rendering_is_deterministic_whatever_the_input_order() -> None:
    doc = golden_state()
    first = render_all(doc)
    rng = random.Random(7)
    for _ in range(5):
        envs = doc["hosts"]["local"]["environments"]
        items = list(envs.items())
        rng.shuffle(items)
        for _, env in items:
            svcs = list(env["services"].items())
            rng.shuffle(svcs)
            env["services"] = dict(svcs)
            for svc in env["services"].values():
                rng.shuffle(svc["replicas"])
        doc["hosts"]["local"]["environments"] = dict(items)
        assert render_all(doc) == first
        assert render_wildcards(doc) == render_wildcards(golden_state())


def test_environments_change_only_hosts_and_wildcard_files_never_the_main_config() -> None:
    main, hosts = render_all(golden_state())
    assert main == render_all(state_doc({}))[0]  # nothing in it depends on environments
    assert "\naddress=" not in main and f"servers-file={SERVERS_FILE}\n" in main
    responders, servers = render_wildcards(golden_state())
    assert sorted(responders) == ["blog/dev", "my_api/qa", "shop/dev"]
    shop = responders["shop/dev"]
    assert "address=/shop.dev.test/10.224.3.10\nlocal=/shop.dev.test/\n" in shop
    assert "blog.dev.test" not in shop  # one responder per environment
    assert f"server=/shop.dev.test/127.0.0.1#{WILDCARD_PORT + 2}\n" in servers
    assert "web.shop.dev.test" not in shop  # exact names live in hosts.d
    assert "10.224.3.20 web.shop.dev.test\n" in hosts["shop.dev.hosts"]
    everything = "".join(responders.values()) + servers + "".join(hosts.values())
    assert "shop.stage" not in everything  # stopped
    assert "10.224.8." not in everything  # another engine's host
    assert "no-resolv\n" in main and "\nserver=" not in main


@pytest.mark.parametrize("value", HOSTILE_HOSTNAMES)
def test_hostile_values_never_reach_the_rendered_files(value: str) -> None:
    doc = state_doc({"shop/dev": environment("shop", "dev", "10.224.3.0/24", {
        "web": service("10.224.3.20", hostnames=(value,))})})
    with pytest.raises(CiloError):
        render_all(doc)


@pytest.mark.parametrize("value", ["8.8.8.8\nserver=1.1.1.1", "1.1.1.1 #x", "dns.google", "1.1.1.1#0",
                                   "1.1.1.1#99999", "1.1.1.1#53#53", "/x/1.2.3.4", "1.1.1"])
def test_unclean_upstreams_are_refused(value: str) -> None:
    with pytest.raises(CiloError, match="CILO_DNS_UPSTREAMS"):
        render.parse_upstreams(value)


def test_upstreams_parse() -> None:
    assert render.parse_upstreams("") == []
    assert render.parse_upstreams(" , ") == []
    assert render.parse_upstreams("192.0.2.1, 2001:DB8::1#5353,192.0.2.1") == [
        "192.0.2.1", "2001:db8::1#5353"]


@pytest.mark.parametrize("path", ["/a b/hosts.d", "/x\nserver=1.1.1.1", "/x#y", "relative/hosts.d", '/x"y', "/x,y"])
def test_unsafe_paths_are_refused(path: str) -> None:
    recs = zone.records(state_doc({}), "test")
    with pytest.raises(CiloError, match="CILO_HOME"):
        render.render_main_config(recs, port=5354, hosts_dir=path, servers_file=SERVERS_FILE,
                                     upstreams=())


def test_hosts_file_names_are_unambiguous() -> None:
    assert render.hosts_filename("shop/dev") == "shop.dev.hosts"
    assert render.hosts_filename("my_shop-x/dev-2") == "my_shop-x.dev-2.hosts"


# ---------------------------------------------------------------- sync without dnsmasq


@pytest.fixture
def no_dnsmasq(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from compose_cilo import config

    home = tmp_path / "home"
    monkeypatch.setenv("CILO_HOME", str(home))
    monkeypatch.setenv("CILO_DNSMASQ", "")  # as if dnsmasq were not installed
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "")
    monkeypatch.delenv("CILO_DNS_CONFIG", raising=False)
    config.clear_cache()
    return home


def test_sync_without_dnsmasq_writes_the_files_and_says_so(no_dnsmasq: Path) -> None:
    result = dnsmasq.sync(golden_state())
    assert not result.served and "dnsmasq not found" in result.message
    assert "apt-get install dnsmasq-base" in result.message
    hosts = sorted(p.name for p in (no_dnsmasq / "dns/hosts.d").iterdir())
    assert hosts == ["blog.dev.hosts", "my_api.qa.hosts", "shop.dev.hosts"]
    assert not list((no_dnsmasq / "dns/staging").iterdir())  # nothing left half-way


def test_sync_removes_files_of_gone_environments(no_dnsmasq: Path) -> None:
    doc = golden_state()
    dnsmasq.sync(doc)
    del doc["hosts"]["local"]["environments"]["blog/dev"]
    result = dnsmasq.sync(doc)
    assert result.files_removed == ["blog.dev.hosts"]
    assert "shop.dev.hosts" in result.files_written  # its short names web/db are no longer shared
    assert not (no_dnsmasq / "dns/hosts.d/blog.dev.hosts").exists()


def test_config_location_follows_cilo_dns_config(no_dnsmasq: Path, tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_DNS_CONFIG", str(tmp_path / "etc" / "cilo-dnsmasq.conf"))
    dnsmasq.sync(golden_state())
    assert (tmp_path / "etc" / "cilo-dnsmasq.conf").read_text().startswith(render.GENERATED)
    assert not (no_dnsmasq / "dns/dnsmasq.conf").exists()


@pytest.mark.parametrize("value", HOSTILE_HOSTNAMES[:12])
def test_sync_of_a_hostile_state_writes_nothing(no_dnsmasq: Path, value: str) -> None:
    dnsmasq.sync(golden_state())
    before = {p: p.read_bytes() for p in (no_dnsmasq / "dns").rglob("*") if p.is_file()}
    doc = golden_state()
    doc["hosts"]["local"]["environments"]["shop/dev"]["services"]["web"]["hostnames"] = [value]
    with pytest.raises(CiloError, match='service "web"'):
        dnsmasq.sync(doc)
    after = {p: p.read_bytes() for p in (no_dnsmasq / "dns").rglob("*") if p.is_file()}
    assert after == before
