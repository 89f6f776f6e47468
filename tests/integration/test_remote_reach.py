"""Copies on an engine whose container addresses this host cannot reach (issue 14): a
second dockerd in its own network namespace over TCP, as Docker Desktop or a remote
machine. `auto` picks the router; each copy answers by name over HTTP and HTTPS through
it with its own content, its database answers on its published port, routes come and go
with the copies, requests to one copy never fail while another churns, and the user's own
`docker compose up` of the same project runs beside them on its own ports.

Traffic goes only to the namespace's address (ports published there) and to loopback
(cilo's dnsmasq); never to the engine's container addresses.
"""

from __future__ import annotations

import json
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import Cilo
from tests.remote_engine import RemoteEngine

from .test_dns_lifecycle import dig, need_dns_tools  # noqa: F401 - the autouse fixture
from .test_router import until

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]

PROJECT = """\
name: rr{unique}
services:
  web:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo unset > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["18080:8080"]
  db:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "echo unset > /who && exec nc -ll -p 5432 -e cat /who"]
    ports: ["15432:5432"]
"""
HTTP_PORT = 8000  # the router's HTTP port on the engine host; HTTPS stays on 443
CHURN_REQUESTS = 150  # to alpha while beta is destroyed and made again (bounded)


def get(engine: RemoteEngine, url: str, port: int, ca: Path | None = None, timeout: float = 5) -> str:
    """GET `url` from the router at the engine's address (curl --resolve: nothing else is contacted)."""
    host = url.split("/")[2]
    args = ["curl", "-sS", "--max-time", str(timeout), "--resolve", f"{host}:{port}:{engine.address}"]
    args += ["--cacert", str(ca)] if ca else []
    proc = subprocess.run([*args, url.replace(host, f"{host}:{port}", 1)], capture_output=True, text=True)
    return proc.stdout if proc.returncode == 0 else f"curl failed ({proc.returncode}): {proc.stderr.strip()}"


def tcp_read(address: str) -> str:
    host, _, port = address.rpartition(":")
    with socket.create_connection((host, int(port)), timeout=5) as s:
        return s.recv(100).decode()


def test_copies_on_an_unroutable_engine_answer_through_the_router_and_published_ports(
        tmp_path: Path, cilo: Cilo, unique: str, remote_engine: RemoteEngine, cilo_home: Path) -> None:
    engine = remote_engine
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    env = {"DOCKER_HOST": engine.host, "CILO_ROUTER_IMAGE": "cilo-test/caddy", "CILO_REACH": "",
           "CILO_ROUTER_HTTP_PORT": str(HTTP_PORT)}
    user = {"DOCKER_HOST": engine.host}
    alpha, beta = f"a{unique}", f"b{unique}"

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", *args], cwd=proj, env={**_environ(), **user},
                              capture_output=True, text=True, check=True, timeout=120)

    try:
        compose("up", "-d")  # the user's own stack, on the ports their file publishes
        for name in (alpha, beta):
            cilo("up", name, cwd=proj, env=env)
            cilo("exec", name, "-T", "web", "sh", "-c", f"echo {name} > /www/index.html", cwd=proj, env=env)
            cilo("exec", name, "-T", "db", "sh", "-c", f"echo db-{name} > /who", cwd=proj, env=env)

        status = json.loads(cilo("status", alpha, "--json", cwd=proj, env=env).stdout)
        assert status["reach"]["mode"] == "router", status["reach"]
        assert status["reach"]["reason"].startswith(f"auto: {engine.host} is a tcp:// engine")
        assert status["services"]["web"]["urls"] == [f"http://web.{alpha}.test:{HTTP_PORT}",
                                                     f"https://web.{alpha}.test"]
        # names answer the engine host's address, where the router publishes
        assert dig(f"web.{alpha}.test") == [engine.address] == dig(f"db.rr{unique}.{beta}.test")

        # HTTP and HTTPS by name through the router, each copy its own content
        assert until(lambda: get(engine, f"http://web.{alpha}.test/", HTTP_PORT) == f"{alpha}\n")
        assert get(engine, f"http://web.{beta}.test/", HTTP_PORT) == f"{beta}\n"
        trusted = cilo("trust", cwd=proj, env=env).stdout
        name = engine.address.replace(".", "-")  # the engine's short name: its endpoint's host
        ca = cilo_home / "router" / name / "root.crt"  # each engine's router has its own CA
        assert f"cilo's router CA certificate: {ca}" in trusted and "BEGIN CERTIFICATE" in ca.read_text()
        assert until(lambda: get(engine, f"https://web.{beta}.test/", 443, ca) == f"{beta}\n")
        assert get(engine, f"https://rr{unique}.{alpha}.test/", 443, ca) == f"{alpha}\n"  # the ingress

        # the database on its published port: HOST:PORT on the engine's address, per copy
        ports = {}
        for name in (alpha, beta):
            ports[name] = cilo("port", name, "db", "5432", cwd=proj, env=env).stdout.strip()
            assert ports[name].startswith(f"{engine.address}:") and ports[name] != f"{engine.address}:15432"
            assert tcp_read(ports[name]) == f"db-{name}\n"
            listed = json.loads(cilo("status", name, "--json", cwd=proj, env=env).stdout)["services"]["db"]
            assert [f"{p['host']}:{p['port']}" for p in listed["ports"] if p["target"] == 5432] == [ports[name]]
        assert ports[alpha] != ports[beta]
        seen = cilo("with", alpha, "--", "sh", "-c", "echo $CILO_DB_5432 $CILO_WEB_8080", cwd=proj, env=env)
        assert seen.stdout.split()[0] == ports[alpha] and seen.stdout.split()[1].startswith(engine.address)
        # compose's own `port`, for a selected copy, answers the same
        assert cilo("port", "db", "5432", cwd=proj, env={**env, "CILO_ENV": beta}).stdout.strip() == ports[beta]

        # inside a copy: the router's CA as a file, and the routed names reach the router
        inside = cilo("exec", alpha, "-T", "db", "cat", "/etc/cilo/ca/root.crt", cwd=proj, env=env).stdout
        assert inside == ca.read_text()
        assert cilo("exec", beta, "-T", "db", "wget", "-qO-", f"http://web.{beta}.test/", cwd=proj,
                    env=env).stdout == f"{beta}\n"

        # alpha keeps answering while beta is destroyed and made again; beta's routes follow
        failures: list[str] = []
        stop = threading.Event()

        def load() -> None:
            for _ in range(CHURN_REQUESTS):
                if stop.is_set():
                    return
                got = get(engine, f"https://web.{alpha}.test/", 443, ca)
                if got != f"{alpha}\n":
                    failures.append(got)
                time.sleep(0.02)

        worker = threading.Thread(target=load)
        worker.start()
        try:
            cilo("destroy", beta, "--force", cwd=proj, env=env)
            assert get(engine, f"http://web.{beta}.test/", HTTP_PORT) != f"{beta}\n"  # gone with it
            cilo("up", beta, cwd=proj, env=env)
            cilo("exec", beta, "-T", "web", "sh", "-c", f"echo {beta}-again > /www/index.html", cwd=proj, env=env)
            assert until(lambda: get(engine, f"http://web.{beta}.test/", HTTP_PORT) == f"{beta}-again\n")
        finally:
            worker.join(timeout=60)
            stop.set()
        assert failures == []

        # the user's stack: untouched, on its own ports
        assert get(engine, "http://user.invalid/", 18080) == "unset\n"
        assert tcp_read(f"{engine.address}:15432") == "unset\n"
        theirs = compose("ps", "--format", "{{.Service}} {{.State}}").stdout.split("\n")
        assert sorted(filter(None, theirs)) == ["db running", "web running"]

        for name in (alpha, beta):
            cilo("destroy", name, "--force", cwd=proj, env=env)
        routers = engine.docker("ps", "-aq", "--filter", "label=cilo.router=true").stdout.split()
        assert routers == []  # no copy needs it any more
    finally:
        for name in (alpha, beta):
            cilo("destroy", name, "--force", cwd=proj, env=env, check=False)
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=proj, env={**_environ(), **user},
                       capture_output=True, timeout=120)


def _environ() -> dict[str, str]:
    import os

    return dict(os.environ)
