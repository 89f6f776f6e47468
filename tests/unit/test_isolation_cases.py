"""Each way a copy used to stay tied to the user's stack (issue 10), one case a project.

For each case, compose itself resolves the user's project and the project merged with
cilo's override (no engine: `docker compose config`), the override is checked against
its golden file, and the merged copy must hold every isolation invariant
(tests/invariants.py), with two copies asking for no common host-global name.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from compose_cilo import isolation
from tests.conftest import PROJECTS
from tests.invariants import Copy, global_names, render_copy, user_global_names, violations

CASES = PROJECTS / "isolation"
GOLDEN = Path(__file__).parent.parent / "golden" / "override"


def _copies(case: str, tmp_path: Path) -> tuple[Copy, Copy]:
    folder = tmp_path / case
    shutil.copytree(CASES / case, folder)
    return (render_copy(folder, [], "alpha", 0, tmp_path), render_copy(folder, [], "beta", 1, tmp_path))


def _golden(case: str, text: str) -> None:
    path = GOLDEN / f"{case}.yml"
    if os.environ.get("CILO_UPDATE_GOLDEN"):
        path.write_text(text)
    assert text == path.read_text(), f"override differs from {path} (CILO_UPDATE_GOLDEN=1 to accept)"


@pytest.mark.parametrize("case", sorted(p.name for p in CASES.iterdir() if p.is_dir()))
def test_case_holds_the_invariants(case: str, compose_cli: None, tmp_path: Path) -> None:
    alpha, beta = _copies(case, tmp_path)
    _golden(case, alpha.override_text)
    assert violations(alpha) == []
    assert violations(beta) == []
    assert global_names(alpha) & global_names(beta) == set()
    assert global_names(alpha) & user_global_names(alpha.user) == set()


def test_names_equal_to_the_default_are_reset(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("names", tmp_path)
    assert alpha.user["volumes"]["dbdata"]["name"] == "volshop_dbdata"
    assert alpha.merged["volumes"]["dbdata"]["name"] == "cilo_volshop_alpha_dbdata"
    assert alpha.merged["networks"]["back"]["name"] == "cilo_volshop_alpha_back"


def test_container_references_become_the_copys_services(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("refs", tmp_path)
    svc = alpha.merged["services"]
    assert svc["sidecar"]["network_mode"] == "service:db"
    assert svc["backup"]["ipc"] == svc["backup"]["pid"] == "service:db"
    assert svc["backup"]["volumes_from"] == ["db:ro", "realtime"]
    assert svc["legacy"]["network_mode"] == "container:some-container-outside"  # not ours
    # reset container names stay host names on the copy's networks (the sidecar's on db's)
    assert set(svc["db"]["networks"]["default"]["aliases"]) == {"mariadb-database", "db-sidecar"}
    assert "realtime-dev.supabase-realtime" in svc["realtime"]["networks"]["back"]["aliases"]
    lines = isolation.messages(isolation.findings(alpha.model, "/src/project", False))
    assert any("service legacy" in ln and "container:some-container-outside" in ln for ln in lines)


def test_host_folders_are_not_shared(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("folders", tmp_path)
    vols = alpha.merged["volumes"]
    for key in ("bindvol", "nfsvol", "cifsvol"):
        assert not vols[key].get("driver_opts"), key
    assert vols["scratch"]["driver_opts"]["type"] == "tmpfs"  # private to each volume: kept
    assert vols["outside"] == {"name": "corp-data", "external": True}
    project = str(tmp_path / "folders")
    lines = isolation.messages(isolation.findings(alpha.model, project, copy=False))
    db = next(ln for ln in lines if ln.startswith("warning: service db"))
    assert "./postgres14" in db and "--copy" in db
    assert "/srv/shared" in db and "docker.sock" in db and "corp-data" in db
    assert "db.conf" not in db  # read-only
    assert any(ln.startswith("note: volume bindvol points at /srv/data") for ln in lines)
    with_copy = isolation.messages(isolation.findings(alpha.model, project, copy=True))
    assert "./postgres14" not in " ".join(with_copy)
    assert isolation.refusal("folders", isolation.findings(alpha.model, project, False))


def test_host_global_network_settings_are_dropped(compose_cli: None, tmp_path: Path) -> None:
    alpha, beta = _copies("hostnets", tmp_path)
    web = alpha.merged["services"]["web"]["networks"]
    assert web["default"]["ipv4_address"] == "10.200.0.2" and "ipv6_address" not in web["default"]
    assert "ipv4_address" not in web["lan"] and "ipv4_address" not in web["proxy"]
    default, bridged, lan = (alpha.specs[k] for k in ("default", "bridged", "lan"))
    assert default.ipv6_subnet and default.ipv6_subnet != beta.specs["default"].ipv6_subnet
    assert bridged.options == {"com.docker.network.driver.mtu": "1400"}
    assert lan.driver == "macvlan" and "parent" not in lan.options
    assert lan.subnet == alpha.subnets[2]


def test_segmentation_is_kept(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("segments", tmp_path)
    assert set(alpha.merged["services"]["db"]["networks"]) == {"backend"}
    assert alpha.specs["backend"].internal
    assert alpha.specs["backend"].labels["com.example.tier"] == "data"
    assert alpha.specs["default"].options == {"com.docker.network.driver.mtu": "1450",
                                              "com.docker.network.bridge.enable_icc": "false"}


def test_external_default_network_is_kept(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("proxynet", tmp_path)
    app = alpha.merged["services"]["app"]["networks"]
    assert set(app) == {"default", "cilo"}
    net = alpha.merged["networks"]["default"]
    assert (net["name"], net["external"]) == ("proxy", True)
    assert "aliases" not in (app["default"] or {})  # never the user's name on a shared network
    assert app["cilo"]["aliases"] == ["proxynet-app"]
    assert set(alpha.merged["services"]["worker"]["networks"]) == {"default", "cilo", "private"}


def test_chains_of_shared_namespaces(compose_cli: None, tmp_path: Path) -> None:
    from compose_cilo.envrecord import apply_containers, service_records

    alpha, _ = _copies("chain", tmp_path)
    assert set(alpha.merged["services"]["c"]["networks"]["default"]["aliases"]) == {
        "chain-root", "chain-middle"}
    record = {"network": "cilo_chain_alpha", "networks": {},
              "services": service_records(alpha.model, {"c": "10.200.0.2"}, {})}
    assert record["services"]["a"]["shares"] == "c" and record["services"]["b"]["shares"] == "c"
    from compose_cilo.engine.api import ContainerInfo

    apply_containers(record, [ContainerInfo("1", "c1", "c", "running", {"cilo_chain_alpha": "10.200.0.2"}, {}),
                              ContainerInfo("2", "b1", "b", "running", {}, {}),
                              ContainerInfo("3", "a1", "a", "running", {}, {})])
    assert {s["ip"] for s in record["services"].values()} == {"10.200.0.2"}


def test_proxy_routing_is_switched_off(compose_cli: None, tmp_path: Path) -> None:
    alpha, _ = _copies("proxies", tmp_path)
    svc = alpha.merged["services"]
    assert svc["traefikd"]["labels"]["traefik.enable"] == "false"
    assert svc["traefikd"]["labels"]["com.example.keep"] == "cost$$centre"
    assert not any(k.startswith("caddy") for k in svc["caddyd"]["labels"])
    assert svc["caddyd"]["labels"]["com.example.keep"] == "yes"
    env = svc["nginxd"]["environment"]
    assert "VIRTUAL_HOST" not in env and "LETSENCRYPT_HOST" not in env
    assert env["FROM_FILE"] == "1" and env["PRICE"] == "5$$" and env["VIRTUAL_PORT"] == "80"
