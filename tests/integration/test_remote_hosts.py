"""Copies on two engines at once (issue 15): this machine's engine and a second dockerd in
its own network namespace, reached over TCP, as a build box or a cloud VM. Each
environment lives on one engine; commands follow it there from any context; the same
environment name on both needs a host-qualified reference; `list --all` shows everything
with its host and says within 5 s when an engine does not answer; doctor checks each.

Traffic goes only to the namespace's address and to loopback; never to the second
engine's container addresses.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Cilo
from tests.remote_engine import RemoteEngine

from .test_dns_lifecycle import dig, need_dns_tools  # noqa: F401 - the autouse fixture
from .test_remote_reach import _environ, get
from .test_router import until

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]

PROJECT = """\
name: rh{unique}
services:
  web:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "mkdir -p /www && echo unset > /www/index.html && exec httpd -f -p 8080 -h /www"]
    ports: ["18080:8080"]
"""
BIND = """\
  files:
    image: cilo-test/busybox
    command: ["sleep", "600"]
    volumes: ["./html:/www:ro"]
"""
HTTP_PORT = 8000


def labelled(docker: list[str], env: str) -> list[str]:
    out = subprocess.run([*docker, "ps", "-aq", "--filter", f"label=cilo.environment={env}"], capture_output=True,
                         text=True, timeout=60, env=_environ())
    return out.stdout.split()


def subnet_of(docker: list[str], network: str) -> str:
    out = subprocess.run([*docker, "network", "inspect", network, "--format", "{{(index .IPAM.Config 0).Subnet}}"],
                         capture_output=True, text=True, timeout=60, env=_environ())
    return out.stdout.strip()


def test_copies_on_two_engines_at_once_follow_their_engine_and_list_all_shows_them(
        tmp_path: Path, cilo: Cilo, unique: str, remote_engine: RemoteEngine) -> None:
    engine = remote_engine
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    here = {"CILO_ROUTER_IMAGE": "cilo-test/caddy", "CILO_REACH": "",  # auto: direct on this machine's engine
            "CILO_ROUTER_HTTP_PORT": str(HTTP_PORT)}
    remote = {**here, "DOCKER_HOST": engine.host}  # the same settings, another engine
    name = engine.address.replace(".", "-")  # the remote engine's short name: its endpoint's host
    alpha = f"a{unique}"
    local_docker, remote_docker = ["docker"], ["docker", "-H", engine.host]
    try:
        # made on the engine the docker options name
        cilo("up", alpha, cwd=proj, env=remote)
        cilo("exec", alpha, "-T", "web", "sh", "-c", "echo remote > /www/index.html", cwd=proj, env=remote)
        assert labelled(remote_docker, alpha) and not labelled(local_docker, alpha)

        # from this machine's context, `list --all` shows it with its host...
        listed = json.loads(cilo("list", "--all", "--json", cwd=proj, env=here).stdout)
        mine = [e for e in listed if e["name"] == alpha]
        assert [(e["host"], e["status"], e.get("host_reachable")) for e in mine] == [(name, "running", True)]
        table = cilo("list", "--all", cwd=proj, env=here).stdout.splitlines()
        assert table[0].split()[:3] == ["HOST", "PROJECT", "ENV"]
        assert any(line.split()[:3] == [name, f"rh{unique}", alpha] for line in table)
        # ...and a command about it goes to its engine, saying so
        stopped = cilo("stop", alpha, cwd=proj, env=here)
        assert f"on engine {name} ({engine.host})" in stopped.stderr
        assert not labelled(local_docker, alpha)
        cilo("up", alpha, cwd=proj, env=here)
        assert until(lambda: get(engine, f"http://web.{alpha}.test/", HTTP_PORT) == "unset\n")

        # the same name on this machine's engine takes a host-qualified reference
        cilo("--host", "default", "up", alpha, cwd=proj, env=here)
        cilo("exec", alpha, "-T", "web", "sh", "-c", "echo local > /www/index.html", cwd=proj, env=here)
        assert labelled(local_docker, alpha)
        both = [e for e in json.loads(cilo("list", "--all", "--json", cwd=proj, env=here).stdout)
                if e["name"] == alpha]
        assert sorted(e["host"] for e in both) == sorted([name, "local"])
        for e in both:  # each engine's network has the subnet state records for it
            docker = remote_docker if e["host"] == name else local_docker
            assert subnet_of(docker, e["network"]) == e["subnet"]
        third = {**here, "DOCKER_HOST": "tcp://127.0.0.1:9"}  # an engine neither copy is on
        mixed = cilo("status", alpha, cwd=proj, env=third, check=False)
        assert mixed.returncode != 0 and "exists on engines" in mixed.stderr and f"{name}:{alpha}" in mixed.stderr
        cilo("exec", f"{name}:{alpha}", "-T", "web", "sh", "-c", "echo remote > /www/index.html", cwd=proj, env=here)
        # the copy made first keeps its names; the other one's carry its engine's name
        remote_status = json.loads(cilo("status", f"{name}:{alpha}", "--json", cwd=proj, env=here).stdout)
        assert remote_status["reach"]["mode"] == "router"
        assert remote_status["services"]["web"]["urls"][0] == f"http://web.{alpha}.test:{HTTP_PORT}"
        local = json.loads(cilo("status", alpha, "--json", cwd=proj, env=here).stdout)
        assert local["reach"]["mode"] == "direct"
        assert local["services"]["web"]["urls"] == [f"http://web.{alpha}.local.test"]
        # names: the remote copy answers the remote engine's router, this machine's its container
        ip = local["services"]["web"]["ip"]
        assert dig(f"web.{alpha}.test") == [engine.address] and dig(f"web.{alpha}.local.test") == [ip]
        assert until(lambda: get(engine, f"http://web.{alpha}.test/", HTTP_PORT) == "remote\n")
        assert subprocess.run(["wget", "-qO-", "-T", "5", f"http://{ip}:8080/"], capture_output=True,
                              text=True, timeout=30).stdout == "local\n"

        # a remote engine that does not answer: list --all and doctor say so within 5 s
        engine.block(True)
        try:
            t0 = time.monotonic()
            cut = cilo("list", "--all", "--json", cwd=proj, env=here)
            took = time.monotonic() - t0
            rows = {e["host"]: e for e in json.loads(cut.stdout) if e["name"] == alpha}
            assert rows["local"]["status"] == "running" and rows[name]["host_reachable"] is False
            assert f"engine {name} ({engine.host}) is unreachable" in cut.stderr and took < 15
            t0 = time.monotonic()
            checked = cilo("doctor", "--json", cwd=proj, env=here, check=False)
            doctor_took = time.monotonic() - t0
            checks = json.loads(checked.stdout)["checks"]
            reach = {c.get("host"): c["status"] for c in checks if c["id"] == "engine.reachable"}
            assert reach == {"local": "ok", name: "warn"}, checks
            assert any(c.get("host") == "local" and c["subject"] == f"rh{unique}/{alpha}" for c in checks)
            assert doctor_took < 30  # one 5 s probe of the remote engine, then the local checks
        finally:
            engine.block(False)

        # a tcp:// engine cannot see this machine's files: bind mounts of the project are refused
        (proj / "html").mkdir()
        (proj / "compose.yaml").write_text(PROJECT.format(unique=unique) + BIND)
        refused = cilo("up", f"b{unique}", cwd=proj, env=remote, check=False)
        assert refused.returncode != 0 and "files (" in refused.stderr and "over ssh" in refused.stderr
        assert f"b{unique}" not in cilo("list", "--all", cwd=proj, env=here).stdout
        (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))

        # destroy from this machine's context: the remote copy goes from its engine
        cilo("destroy", f"{name}:{alpha}", "--force", cwd=proj, env=here)
        assert not labelled(remote_docker, alpha) and labelled(local_docker, alpha)
        cilo("destroy", alpha, "--force", cwd=proj, env=here)
        assert not labelled(local_docker, alpha)
        assert alpha not in cilo("list", "--all", cwd=proj, env=here).stdout
    finally:
        engine.block(False)
        cilo("destroy", "--all-projects", "--force", cwd=proj, env=here, check=False)
        for docker in (local_docker, remote_docker):
            left = labelled(docker, alpha)
            if left:
                subprocess.run([*docker, "rm", "-f", *left], capture_output=True, timeout=60)
