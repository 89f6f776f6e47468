"""cilo's router on the local engine (issue 14, `reach: router`): two copies answer by
name over HTTP and HTTPS through one Caddy container, each with its own content; DNS
answers the router's address; routes come and go with the copies, and the router goes
with the last one. The test talks only to loopback: the router's published ports."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from compose_cilo.dns.process import free_port
from tests.conftest import Cilo

from .test_dns_lifecycle import dig, need_dns_tools  # noqa: F401 - the autouse fixture

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]

PROJECT = """\
name: rt{unique}
services:
  web:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo unset > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["8080"]
  db:
    image: cilo-test/busybox
    init: true
    command: ["sleep", "infinity"]
"""


def routers(home: str) -> list[str]:
    out = subprocess.run(["docker", "ps", "-aq", "--filter", "label=cilo.router=true",
                          "--filter", f"label=cilo.home={home}"], capture_output=True, text=True, check=True)
    return out.stdout.split()


def fetch(url: str, port: int, cacert: Path | None = None) -> str:
    """GET `url` from the router on 127.0.0.1:`port` (curl --resolve: only loopback is contacted)."""
    host = url.split("/")[2]
    args = ["curl", "-sS", "--max-time", "5", "--resolve", f"{host}:{port}:127.0.0.1"]
    args += ["--cacert", str(cacert)] if cacert else []
    proc = subprocess.run([*args, url.replace(host, f"{host}:{port}", 1)], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else f"curl failed ({proc.returncode}): {proc.stderr.strip()}"


def until(check, seconds: float = 20) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def test_copies_answer_by_name_over_http_and_https_through_the_router(
        tmp_path: Path, cilo: Cilo, unique: str, router_image: str, cilo_home: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    http, https = free_port(), free_port()
    env = {"CILO_REACH": "router", "CILO_ROUTER_IMAGE": router_image,
           "CILO_ROUTER_HTTP_PORT": str(http), "CILO_ROUTER_HTTPS_PORT": str(https)}
    alpha, beta = f"a{unique}", f"b{unique}"
    home = ""
    try:
        # the user's own stack beside the copies, on its own ports
        subprocess.run(["docker", "compose", "up", "-d"], cwd=proj, check=True, capture_output=True)
        for name in (alpha, beta):
            cilo("up", name, cwd=proj, env=env)
            cilo("exec", name, "-T", "web", "sh", "-c", f"echo {name} > /www/index.html", cwd=proj, env=env)
        home = json.loads((cilo_home / "state.json").read_text())["home_id"]
        assert len(routers(home)) == 1  # one router for every copy
        assert dig(f"web.{alpha}.test") == ["127.0.0.1"] == dig(f"web.rt{unique}.{beta}.test")

        status = json.loads(cilo("status", alpha, "--json", cwd=proj, env=env).stdout)
        assert status["reach"] == {"mode": "router", "reason": "reach is set to router"}
        assert status["services"]["web"]["urls"] == [f"http://web.{alpha}.test:{http}",
                                                     f"https://web.{alpha}.test:{https}"]
        assert until(lambda: fetch(f"http://web.{alpha}.test/", http) == f"{alpha}\n")
        assert fetch(f"http://web.{beta}.test/", http) == f"{beta}\n"
        # HTTPS with a certificate of the router's own CA, verified against that CA
        ca = tmp_path / "root.crt"
        subprocess.run(["docker", "cp", f"{routers(home)[0]}:/data/caddy/pki/authorities/local/root.crt",
                        str(ca)], check=True, capture_output=True)
        trusted = cilo("trust", cwd=proj, env=env).stdout
        assert f"cilo's router CA certificate: {cilo_home / 'router' / 'root.crt'}" in trusted
        assert (cilo_home / "router" / "root.crt").read_text() == ca.read_text()  # what trust hands out
        inside = cilo("exec", alpha, "-T", "db", "cat", "/etc/cilo/ca/root.crt", cwd=proj, env=env).stdout
        assert inside == ca.read_text()  # offered in every service of a copy
        assert until(lambda: fetch(f"https://web.{beta}.test/", https, ca) == f"{beta}\n")
        assert fetch(f"https://rt{unique}.{alpha}.test/", https, ca) == f"{alpha}\n"  # the ingress

        cilo("destroy", alpha, "--force", cwd=proj, env=env)  # its routes go; beta's stay
        assert fetch(f"http://web.{alpha}.test/", http) != f"{alpha}\n"
        assert fetch(f"http://web.{beta}.test/", http) == f"{beta}\n"
        cilo("down", beta, cwd=proj, env=env)
        assert routers(home) == []  # no copy needs it any more
        theirs = subprocess.run(["docker", "compose", "ps", "--format", "{{.Service}} {{.State}}"], cwd=proj,
                                capture_output=True, text=True, check=True).stdout.split("\n")
        assert sorted(filter(None, theirs)) == ["db running", "web running"]  # the user's stack: untouched
    finally:
        if home and routers(home):  # a failed test must not leave the router holding networks
            subprocess.run(["docker", "rm", "-f", *routers(home)], capture_output=True)
        for name in (alpha, beta):
            cilo("destroy", name, "--force", cwd=proj, env=env, check=False)
        if home:  # the router's volumes (its CA) outlive it by design; the test's go
            subprocess.run(["docker", "volume", "rm", f"cilo_router_{home}_data", f"cilo_router_{home}_ca"],
                           capture_output=True)
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=proj, capture_output=True)


def test_auto_stays_direct_on_the_local_engine(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    env = f"d{unique}"
    try:
        cilo("up", env, cwd=proj, env={"CILO_REACH": ""})
        status = json.loads(cilo("status", env, "--json", cwd=proj).stdout)
        assert status["reach"]["mode"] == "direct" and status["reach"]["reason"].startswith("auto: ")
        assert dig(f"web.{env}.test") == [status["services"]["web"]["ip"]]
        assert status["services"]["web"]["urls"] == [f"http://web.{env}.test"]
    finally:
        cilo("destroy", env, "--force", cwd=proj, check=False)

