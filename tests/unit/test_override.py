"""The override generator: pure, golden-checked, and valid for real compose."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from compose_cilo import override
from compose_cilo.project import model_from_config

GOLDEN = Path(__file__).parent.parent / "golden" / "override"

# `docker compose --profile '*' config --format json` of tests/projects/shop (trimmed to
# what the model reads), so the golden test needs no engine.
SHOP_CONFIG = {
    "name": "shop",
    "services": {
        "api": {"image": "x", "ports": [{"target": 9000, "published": "19000", "host_ip": "127.0.0.1"}],
                "networks": {"front": {"ipv4_address": "172.30.0.10"}}},
        "db": {"image": "x", "container_name": "shop-db", "networks": {"default": None}},
        "debug": {"image": "x", "profiles": ["full"], "networks": {"default": None}},
        "sidecar": {"image": "x", "network_mode": "service:web"},
        "web": {"image": "x", "container_name": "shop-web",
                "ports": [{"target": 80, "published": "18080"}],
                "networks": {"default": None, "front": None},
                "labels": {"cilo.hostnames": "admin,shop-api"}},
        "worker": {"image": "x", "deploy": {"replicas": 2}, "networks": {"default": None}},
    },
    "networks": {
        "default": {"name": "shop_default", "ipam": {}},
        "front": {"name": "shop_front", "ipam": {"config": [{"subnet": "172.30.0.0/24"}]}},
        "shared": {"name": "corp-shared", "external": True},
        "named": {"name": "fixed-name"},
    },
    "volumes": {
        "cache": {"name": "shop_cache"},
        "dbdata": {"name": "shop_dbdata"},
        "legacy": {"name": "legacy-data"},
        "outside": {"name": "outside", "external": True},
    },
}
IDENT = override.EnvIdentity("shop", "alpha", "cilo_shop_alpha", "10.224.3.0/24")


META = {"cilo.project_dir": "/src/shop", "cilo.profiles": "full", "cilo.env_files": ""}


def _render(config: dict) -> str:
    model = model_from_config(config)
    addresses = override.assign_addresses(IDENT.subnet, override.fixed_address_services(model), {})
    return override.render(override.build_override(model, IDENT, addresses, META), IDENT)


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("CILO_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"override differs from {path} (CILO_UPDATE_GOLDEN=1 to accept)"


def test_shop_override_matches_golden() -> None:
    _golden("shop.yml", _render(SHOP_CONFIG))


def test_rendering_is_deterministic() -> None:
    shuffled = json.loads(json.dumps(SHOP_CONFIG))
    shuffled["services"] = dict(reversed(list(shuffled["services"].items())))
    assert _render(shuffled) == _render(SHOP_CONFIG)


def _doc(config: dict) -> dict:
    return yaml.safe_load(_render(config).replace("!reset", "").replace("!override", ""))


def test_isolation_rules() -> None:
    doc = _doc(SHOP_CONFIG)
    services = doc["services"]
    # published ports and fixed names are reset wherever the user set them
    assert "ports" in services["web"] and "container_name" in services["web"]
    assert "ports" in services["api"] and "container_name" in services["db"]
    # services on `default` are on the env network, with a fixed address unless replicated
    assert services["web"]["networks"]["default"] == {"ipv4_address": "10.224.3.4",
                                                      "aliases": ["shop-web"]}
    assert services["worker"]["networks"]["default"] == {}
    assert "networks" not in services["sidecar"]
    # the topology is the user's: api is on front only, as in the user's file
    assert set(services["api"]["networks"]) == {"front"}
    # a fixed address on a user network is dropped with the network's fixed subnet
    assert "ipv4_address" in services["api"]["networks"]["front"]
    # every network that is not external is cilo's own for this copy
    assert doc["networks"]["default"] == {"name": "cilo_shop_alpha", "external": True}
    assert doc["networks"]["front"] == {"name": "cilo_shop_alpha_front", "external": True}
    assert doc["networks"]["named"] == {"name": "cilo_shop_alpha_named", "external": True}
    assert "shared" not in doc["networks"] and "outside" not in doc["volumes"]
    # every volume name is reset, the default-looking ones too (compose cannot tell them apart)
    assert all("name" in doc["volumes"][k] for k in ("legacy", "cache", "dbdata"))
    for svc, body in services.items():
        assert body["labels"] == {"cilo": "true", "cilo.project": "shop",
                                  "cilo.environment": "alpha", "cilo.service": svc, **META}


def test_addresses_are_stable_and_in_the_fixed_range() -> None:
    first = override.assign_addresses("10.224.3.0/24", ["a", "b", "c"], {})
    assert first == {"a": "10.224.3.2", "b": "10.224.3.3", "c": "10.224.3.4"}
    # removing a service keeps the others; a new service takes the lowest free address
    again = override.assign_addresses("10.224.3.0/24", ["a", "c", "d"], first)
    assert again == {"a": "10.224.3.2", "c": "10.224.3.4", "d": "10.224.3.3"}
    gateway, ip_range, fixed = override.address_range("10.224.3.0/24")
    assert (gateway, ip_range) == ("10.224.3.1", "10.224.3.128/25")
    assert fixed[0] == "10.224.3.2" and fixed[-1] == "10.224.3.127"


def test_more_services_than_fixed_addresses() -> None:
    names = [f"s{i:03d}" for i in range(130)]
    got = override.assign_addresses("10.224.3.0/24", names, {})
    assert len(got) == override.FIXED_HOSTS and len(set(got.values())) == override.FIXED_HOSTS


@pytest.mark.engine
def test_override_is_accepted_by_real_compose(engine_available: None, tmp_path: Path) -> None:
    """compose itself merges the golden override onto the project: nothing leaks through."""
    import subprocess

    from tests.conftest import copy_project

    proj = copy_project("shop", tmp_path)
    text = subprocess.run(
        ["docker", "compose", "--profile", "*", "config", "--format", "json"],
        cwd=proj, check=True, capture_output=True, text=True,
    ).stdout
    model = model_from_config(json.loads(text))
    addresses = override.assign_addresses(IDENT.subnet, override.fixed_address_services(model), {})
    (tmp_path / "ov.yml").write_text(override.render(override.build_override(model, IDENT, addresses), IDENT))
    merged = json.loads(subprocess.run(
        ["docker", "compose", "-f", "docker-compose.yml", "-f", "docker-compose.override.yml",
         "-f", str(tmp_path / "ov.yml"), "-p", "cilo_shop_alpha", "--profile", "*", "config",
         "--format", "json"],
        cwd=proj, check=True, capture_output=True, text=True,
    ).stdout)
    for name, svc in merged["services"].items():
        assert not svc.get("ports"), f"{name} still publishes ports"
        assert not svc.get("container_name"), f"{name} keeps its container_name"
        assert svc["labels"]["cilo.environment"] == "alpha"
    assert merged["networks"]["front"].get("ipam", {}).get("config") is None
    assert merged["services"]["web"]["networks"]["default"]["ipv4_address"].startswith("10.224.3.")
    assert merged["services"]["web"]["environment"]["SHOP_FLAVOUR"] == "overridden"
    assert merged["services"]["api"]["environment"]["ROLE"] == "api"  # extends still works


def test_the_run_layer_frees_the_fixed_address_of_each_service_for_one_off_containers() -> None:
    model = model_from_config({"name": "shop", "services": {
        "web": {"image": "x", "networks": {"default": None}},
        "db": {"image": "x", "networks": {"default": None}}}, "networks": {"default": {"name": "shop_default"}}})
    layer = override.run_layer(model, {"web": "10.224.0.2", "db": "10.224.0.3", "gone": "10.224.0.4"})
    ident = override.EnvIdentity("shop", "dev", "cilo_shop_dev", "10.224.0.0/24", None)
    text = override.render(layer, ident)
    assert text.endswith(
        "services:\n  db:\n    networks:\n      default:\n        ipv4_address: !reset null\n"
        "  web:\n    networks:\n      default:\n        ipv4_address: !reset null\n")
