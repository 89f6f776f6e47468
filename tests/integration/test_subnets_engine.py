"""Subnet allocation against the real engine and host routes, and 100 concurrent creates."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path

import pytest

from compose_cilo import paths
from compose_cilo.state import store
from tests.conftest import Cilo, copy_project
from tests.fakes import envs_of

pytestmark = pytest.mark.engine


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def engine_snapshot() -> dict[str, list[str]]:
    """Everything on the engine that is not cilo's (must be untouched by cilo)."""
    return {
        "networks": sorted(docker("network", "ls", "--format", "{{.Name}} {{.Label \"cilo\"}}").splitlines()),
        "containers": sorted(docker("ps", "-a", "--format", "{{.Names}}").splitlines()),
    }


@pytest.fixture
def host_route():
    """Adds blackhole host routes: real routes that need no device and carry no traffic."""
    added: list[str] = []

    def add(cidr: str) -> None:
        proc = subprocess.run(["ip", "route", "add", "blackhole", cidr], capture_output=True, text=True)
        if proc.returncode != 0:
            if os.environ.get("CI"):
                pytest.fail(f"cannot add a host route in CI: {proc.stderr}")
            pytest.skip(f"cannot add a host route here: {proc.stderr.strip()}")
        added.append(cidr)

    yield add
    for cidr in added:
        subprocess.run(["ip", "route", "del", "blackhole", cidr], capture_output=True)


@pytest.fixture
def plain(tmp_path: Path, cilo: Cilo):
    proj = copy_project("plain", tmp_path)
    yield proj
    cilo("destroy", "--all", "--force", cwd=proj, check=False)


def test_skips_docker_networks_and_host_routes(plain: Path, cilo: Cilo, unique: str,
                                               host_route) -> None:
    taken = [n for n in ("10.224.0.0/24", "10.224.1.0/24", "10.224.2.0/24", "10.224.3.0/24")
             if any(ipaddress.IPv4Network(n).overlaps(ipaddress.IPv4Network(s))
                    for s in docker("network", "inspect", "--format",
                                    "{{range .IPAM.Config}}{{.Subnet}} {{end}}",
                                    *docker("network", "ls", "-q").split()).split()
                    if ":" not in s)]
    assert not taken, f"the engine already uses {taken}; this test needs them free"
    nets = [f"cilo-test-a-{unique}", f"cilo-test-b-{unique}"]
    docker("network", "create", "--subnet", "10.224.0.0/24", nets[0])
    docker("network", "create", "--subnet", "10.224.1.0/24", nets[1])
    try:
        host_route("10.224.2.0/24")
        cilo("create", f"n-{unique}", cwd=plain)
        (record,) = envs_of(store.read_state()).values()
        assert record["subnet"] == "10.224.3.0/24"
        assert docker("network", "inspect", "--format", "{{range .IPAM.Config}}{{.Subnet}}{{end}}",
                      record["network"]).strip() == "10.224.3.0/24"
    finally:
        docker("network", "rm", *nets)


def test_small_pool_exhausts_clearly_and_reuses(plain: Path, cilo: Cilo, unique: str,
                                                cilo_home: Path) -> None:
    env = {"CILO_BASE_SUBNET": "10.232.0.0/23"}
    before = engine_snapshot()
    cilo("create", f"a-{unique}", cwd=plain, env=env)
    cilo("create", f"b-{unique}", cwd=plain, env=env)
    state_before = paths.state_path().read_bytes()
    proc = cilo("create", f"c-{unique}", cwd=plain, env=env, check=False)
    assert proc.returncode == 1
    assert "base subnet 10.232.0.0/23 has no free /24" in proc.stderr
    assert "2 by environments" in proc.stderr and "CILO_BASE_SUBNET" in proc.stderr
    assert paths.state_path().read_bytes() == state_before
    assert not (cilo_home / "envs" / "plain" / f"c-{unique}").exists()
    assert docker("network", "ls", "-q", "--filter", f"label=cilo.environment=c-{unique}") == ""

    freed = envs_of(store.read_state())[f"plain/a-{unique}"]["subnet"]
    cilo("destroy", f"a-{unique}", cwd=plain, env=env)
    cilo("create", f"c-{unique}", cwd=plain, env=env)
    assert envs_of(store.read_state())[f"plain/c-{unique}"]["subnet"] == freed
    cilo("destroy", "--all", "--force", cwd=plain, env=env)
    assert engine_snapshot() == before


def test_100_concurrent_creates(plain: Path, cilo: Cilo, unique: str) -> None:
    before = engine_snapshot()
    env = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}
    procs = [
        subprocess.Popen(["docker", "cilo", "create", f"c{i}-{unique}"], cwd=plain, env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for i in range(100)
    ]
    failures = []
    for i, p in enumerate(procs):
        out, err = p.communicate(timeout=600)
        if p.returncode != 0:
            failures.append((i, err.strip()))
    assert failures == []
    doc = json.loads(paths.state_path().read_text())
    store.validate(doc, paths.state_path())
    envs = next(iter(doc["hosts"].values()))["environments"]
    assert len(envs) == 100
    subnets = [e["subnet"] for e in envs.values()]
    assert len(set(subnets)) == 100
    nets = docker("network", "ls", "--filter", "label=cilo.project=plain", "--format", "{{.Name}}").split()
    assert sorted(nets) == sorted(e["network"] for e in envs.values())
    cilo("destroy", "--all", "--force", cwd=plain)
    assert engine_snapshot() == before


def test_overlap_drift_is_flagged_and_recreate_moves(plain: Path, cilo: Cilo, unique: str,
                                                     host_route) -> None:
    env = f"d-{unique}"
    cilo("up", env, cwd=plain)
    listed = json.loads(cilo("list", "--json", cwd=plain).stdout)
    assert listed[0]["subnet_overlaps"] == []
    subnet = listed[0]["subnet"]
    # a VPN came up over part of the environment's subnet (the /24 itself is docker's
    # bridge route already, so the VPN's route is more specific)
    vpn = str(next(ipaddress.IPv4Network(subnet).subnets(new_prefix=25)))
    host_route(vpn)
    listed = json.loads(cilo("list", "--json", cwd=plain).stdout)
    assert [o.startswith(f"host route {vpn}") for o in listed[0]["subnet_overlaps"]] == [True]
    assert "! overlaps host route" in cilo("list", cwd=plain).stdout
    status = cilo("status", env, cwd=plain).stdout
    assert f"docker cilo up {env} --recreate" in status

    cilo("up", env, "--recreate", cwd=plain)
    moved = json.loads(cilo("status", env, "--json", cwd=plain).stdout)
    assert moved["subnet"] != subnet and moved["subnet_overlaps"] == []
    assert moved["status"] == "running"
    assert all(ipaddress.IPv4Address(s["ip"]) in ipaddress.IPv4Network(moved["subnet"])
               for s in moved["services"].values())
