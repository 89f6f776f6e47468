"""Names are live the moment `up` returns and gone when `destroy` returns (real dnsmasq)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cilo, copy_project

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]


@pytest.fixture(autouse=True)
def need_dns_tools() -> None:
    for tool in ("dnsmasq", "dig"):
        if not shutil.which(tool) and not shutil.which(tool, path="/usr/sbin:/sbin"):
            if os.environ.get("CI"):
                pytest.fail(f"{tool} is required when CI is set")
            pytest.skip(f"{tool} not installed")


def dig(name: str) -> list[str]:
    out = subprocess.run(
        ["dig", "+short", "+tries=1", "+time=2", "@127.0.0.1", "-p", os.environ["CILO_DNS_PORT"], name],
        capture_output=True, text=True, check=True,
    ).stdout
    return sorted(line for line in out.split() if line[0].isdigit())


@pytest.fixture
def projects(tmp_path: Path, cilo: Cilo):
    shop, plain = copy_project("shop", tmp_path), copy_project("plain", tmp_path)
    yield shop, plain
    for proj in (shop, plain):
        cilo("destroy", "--all", "--force", cwd=proj, check=False)


def test_names_follow_the_lifecycle(projects: tuple[Path, Path], cilo: Cilo, unique: str) -> None:
    shop, plain = projects
    env = f"dev{unique}"
    up = cilo("up", env, cwd=shop).stdout
    assert f"http://web.{env}.test" in up  # up prints the URLs
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    ips = {name: svc["ip"] for name, svc in status["services"].items()}

    # right after `up` returned: no waiting, no retry loop
    assert dig(f"web.{env}.test") == [ips["web"]]
    assert dig(f"web.shop.{env}.test") == [ips["web"]]
    assert dig(f"shop.{env}.test") == [ips["web"]]  # apex -> ingress (web by name order)
    assert dig(f"anything.shop.{env}.test") == [ips["web"]]  # wildcard -> ingress
    assert dig(f"api.shop.{env}.test") == [ips["api"]]  # exact names win over the wildcard
    assert dig(f"admin.{env}.test") == [ips["web"]]  # cilo.hostnames label
    assert dig(f"shop-api.shop.{env}.test") == [ips["web"]]
    workers = sorted(r["ip"] for r in status["services"]["worker"]["replicas"])
    assert len(workers) == 2 and dig(f"worker.{env}.test") == workers  # every replica
    assert dig(f"sidecar.{env}.test") == [ips["web"]]  # network_mode: service:web
    assert dig(f"nothing.{env}.test") == []
    assert f"http://debug.{env}.test" not in up  # a service that is not running has no URL

    # a second project with an environment of the same name: qualified names for both
    cilo("up", env, cwd=plain)
    plain_web = json.loads(cilo("status", env, "--json", cwd=plain).stdout)["services"]["web"]["ip"]
    assert dig(f"web.plain.{env}.test") == [plain_web]
    assert dig(f"web.shop.{env}.test") == [ips["web"]]
    assert dig(f"web.{env}.test") == []  # ambiguous short name is not served
    shown = json.loads(cilo("status", env, "--json", cwd=shop).stdout)["services"]["web"]["urls"]
    assert shown == [f"http://web.shop.{env}.test"]  # status shows the qualified one
    assert dig(f"db.{env}.test") == [ips["db"]]  # only shop has db: short name still served

    cilo("down", env, cwd=plain)
    assert dig(f"web.plain.{env}.test") == []
    cilo("destroy", env, cwd=shop)
    for name in (f"web.shop.{env}.test", f"shop.{env}.test", f"x.shop.{env}.test",
                 f"admin.{env}.test", f"db.{env}.test"):
        assert dig(name) == [], name


def test_hostile_hostname_label_is_refused(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    proj = copy_project("plain", tmp_path)
    compose = proj / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        '    ports: ["80"]', '    ports: ["80"]\n    labels:\n      cilo.hostnames: "ok,x/server=8.8.8.8"'))
    proc = cilo("up", f"h{unique}", cwd=proj, check=False)
    assert proc.returncode == 1
    assert 'service "web"' in proc.stderr and "cilo.hostnames" in proc.stderr
    assert json.loads(cilo("list", "--json", cwd=proj).stdout) == []
    dns_dir = Path(os.environ["CILO_HOME"]) / "dns"
    for f in dns_dir.rglob("*") if dns_dir.exists() else []:
        if f.is_file():
            assert "8.8.8.8" not in f.read_text(errors="replace")
