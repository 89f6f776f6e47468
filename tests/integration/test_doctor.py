"""doctor finds every injected fault on a real engine and dnsmasq; --fix repairs, twice is a no-op."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from compose_cilo import paths
from tests.conftest import Cilo, copy_project

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def failing(cilo: Cilo, cwd: Path, unique: str) -> dict[str, list[str]]:
    """Failed checks about this test's objects (the engine may hold other tests' too)."""
    proc = cilo("doctor", "--json", cwd=cwd, check=False)
    report = json.loads(proc.stdout)
    assert proc.returncode == (0 if report["ok"] else 1)
    out: dict[str, list[str]] = {}
    for c in report["checks"]:
        assert set(c) - {"host"} == {"id", "status", "subject", "message", "fix"}
        if c["status"] == "fail" and (unique in c["subject"] or "/" not in c["subject"]):
            out.setdefault(c["id"], []).append(c["subject"])
            assert c["fix"], c
    return out


def remove_labelled(env: str) -> None:
    """Everything of an environment, whether state knows it or not."""
    flt = ["--filter", f"label=cilo.environment={env}"]
    for ids, rm in ((docker("ps", "-aq", *flt), ["rm", "-f"]),
                    (docker("network", "ls", "-q", *flt), ["network", "rm"]),
                    (docker("volume", "ls", "-q", *flt), ["volume", "rm", "-f"])):
        if ids.split():
            subprocess.run(["docker", *rm, *ids.split()], capture_output=True)


@pytest.fixture
def shop(tmp_path: Path, cilo: Cilo, unique: str):
    proj = copy_project("shop", tmp_path)
    routes: list[str] = []
    ghosts: list[tuple[str, str]] = []
    yield proj, routes, ghosts
    for r in routes:
        subprocess.run(["ip", "route", "del", "blackhole", r], capture_output=True)
    for kind, name in ghosts:
        subprocess.run(["docker", kind, "rm", "-f", name] if kind == "container"
                       else ["docker", kind, "rm", name], capture_output=True)
    cilo("destroy", "--all", "--force", cwd=proj, check=False)
    for env in (f"a{unique}", f"b{unique}", f"c{unique}"):
        remove_labelled(env)


def test_seven_faults_detected_fixed_and_second_fix_is_clean(shop, cilo: Cilo, unique: str) -> None:
    proj, routes, ghosts = shop
    a, b, c = f"a{unique}", f"b{unique}", f"c{unique}"
    for env in (a, b, c):
        cilo("up", env, cwd=proj)
    assert failing(cilo, proj, unique) == {}
    envs = {e["name"]: e for e in json.loads(cilo("list", "--json", cwd=proj).stdout)}

    # 1. a container is killed
    docker("rm", "-f", envs[a]["services"]["web"]["container"])
    # 2. an environment's network is removed
    net = envs[c]["network"]
    for cid in docker("ps", "-q", "--filter", f"network={net}").split():
        docker("network", "disconnect", "-f", net, cid)
    docker("network", "rm", net)
    # 3. dnsmasq is stopped, 4. its rendered config corrupted
    cilo("dns", "stop", cwd=proj)
    conf = Path(os.environ["CILO_HOME"]) / "dns" / "dnsmasq.conf"
    conf.write_text(conf.read_text() + "address=/evil.test/6.6.6.6\n")
    # 5. an environment is deleted from state while it runs
    doc = json.loads(paths.state_path().read_text())
    del next(iter(doc["hosts"].values()))["environments"][f"shop/{b}"]
    paths.state_path().write_text(json.dumps(doc))
    # 6. a labelled container and network of a project that never existed
    ghost = f"ghost{unique}"
    labels = ["--label", "cilo=true", "--label", f"cilo.project={ghost}", "--label", "cilo.environment=x"]
    docker("network", "create", *labels, f"{ghost}-net")
    ghosts.append(("network", f"{ghost}-net"))
    docker("run", "-d", "--name", f"{ghost}-c", *labels, "cilo-test/busybox", "sleep", "600")
    ghosts.insert(0, ("container", f"{ghost}-c"))
    # 7. a host route over an environment's subnet (a VPN)
    vpn = envs[a]["subnet"].replace(".0/24", ".0/25")
    subprocess.run(["ip", "route", "add", "blackhole", vpn], check=True)
    routes.append(vpn)

    found = failing(cilo, proj, unique)
    assert f"shop/{a}" in found["env.drift"] and f"shop/{c}" in found["env.drift"]
    assert found["dns.running"] and found["dns.in_sync"]
    assert f"shop/{b}" in found["orphan.container"] and f"shop/{b}" in found["orphan.network"]
    assert f"shop/{b}" in found["orphan.volume"]
    assert f"{ghost}/x" in found["orphan.container"] and f"{ghost}/x" in found["orphan.network"]
    assert found["subnet.overlap"] == [f"shop/{a}"]
    unchanged = json.loads(paths.state_path().read_text())
    assert f"shop/{b}" not in next(iter(unchanged["hosts"].values()))["environments"], "doctor alone changed state"

    fixed = cilo("doctor", "--fix", "--yes", cwd=proj, check=False)
    assert fixed.returncode == 1  # the overlap cannot be fixed automatically
    assert f"adopted shop/{b} back into state" in fixed.stderr
    assert failing(cilo, proj, unique) == {"subnet.overlap": [f"shop/{a}"]}
    # re-adopted, running, and every name resolves again
    envs = {e["name"]: e for e in json.loads(cilo("list", "--json", cwd=proj).stdout)}
    assert set(envs) == {a, b, c} and all(e["status"] == "running" for e in envs.values())
    from compose_cilo.dns import query

    port = int(os.environ["CILO_DNS_PORT"])
    for env in (a, b, c):
        web = json.loads(cilo("status", env, "--json", cwd=proj).stdout)["services"]["web"]
        assert web["status"] == "running"
        assert query.query(f"web.shop.{env}.test", port=port).addresses == (web["ip"],)
    assert query.query("x.evil.test", port=port).addresses == ()
    assert docker("ps", "-aq", "--filter", f"label=cilo.project={ghost}") == ""
    assert docker("network", "ls", "-q", "--filter", f"label=cilo.project={ghost}") == ""

    before = paths.state_path().read_bytes()
    again = cilo("doctor", "--fix", "--yes", cwd=proj, check=False)
    assert "fixed:" not in again.stderr, again.stderr
    assert paths.state_path().read_bytes() == before


def test_doctor_alone_changes_nothing_and_asks_before_removing(shop, cilo: Cilo, unique: str) -> None:
    proj, _, ghosts = shop
    ghost = f"ghost{unique}"
    docker("network", "create", "--label", "cilo=true", "--label", f"cilo.project={ghost}",
           "--label", "cilo.environment=x", f"{ghost}-net")
    ghosts.append(("network", f"{ghost}-net"))
    docker("network", "create", f"plain{unique}")  # no cilo labels: never touched
    ghosts.append(("network", f"plain{unique}"))
    assert failing(cilo, proj, unique)["orphan.network"] == [f"{ghost}/x"]
    # --fix without --yes and without a terminal: removals are skipped, and said so
    proc = cilo("doctor", "--fix", cwd=proj, check=False)
    assert "not removing without --yes" in proc.stderr
    assert docker("network", "ls", "-q", "--filter", f"name={ghost}-net")
    cilo("doctor", "--fix", "--yes", cwd=proj, check=False)
    assert not docker("network", "ls", "-q", "--filter", f"name={ghost}-net")
    assert docker("network", "ls", "-q", "--filter", f"name=plain{unique}")
