"""A copy on an engine reached over ssh through a docker context (issue 15): another
machine in network and files (tests/remote_engine.py, `ssh=True`: a dockerd and an sshd
in namespaces of their own, where the project's folder does not exist). `up` copies the
workspace there before compose runs, so bind mounts serve this machine's files; again on
each `up`; `list --all` shows the copy with its host; its names answer through that
engine's router; `destroy` from this machine's context removes it and the remote folder.

Traffic goes only to the namespace's address (ssh, the router's ports) and loopback.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.conftest import Cilo
from tests.remote_engine import RemoteEngine

from .test_dns_lifecycle import dig, need_dns_tools  # noqa: F401 - the autouse fixture
from .test_remote_reach import get
from .test_router import until

pytestmark = [pytest.mark.engine, pytest.mark.dnsmasq]

PROJECT = """\
name: rs{unique}
services:
  web:
    image: cilo-test/busybox
    init: true
    command: ["httpd", "-f", "-p", "8080", "-h", "/www"]
    volumes: ["./html:/www:ro"]
    ports: ["18080:8080"]
  worker:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "cat /app/config.txt > /data/seen && exec sleep 600"]
    volumes: ["./config.txt:/app/config.txt:ro", "data:/data"]
volumes:
  data: {{}}
"""
HTTP_PORT = 8000


def remote_sh(engine: RemoteEngine, script: str) -> subprocess.CompletedProcess[str]:
    """A shell on the engine's machine (its own files), over the test's ssh."""
    return subprocess.run(["ssh", "-o", "BatchMode=yes", engine.address, "sh", "-c", f"'{script}'"],
                          capture_output=True, text=True, timeout=60)


def test_a_copy_over_ssh_serves_this_machines_files_after_the_sync_and_destroy_removes_them(
        cilo: Cilo, unique: str, ssh_engine: RemoteEngine, docker_config: Path) -> None:
    engine = ssh_engine
    assert engine.hidden is not None
    proj = engine.hidden / f"proj{unique}"  # exists here only
    (proj / "html").mkdir(parents=True)
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    (proj / "html" / "index.html").write_text(f"synced {unique}\n")
    (proj / "html" / "old.html").write_text("to be removed\n")
    (proj / "config.txt").write_text("config one\n")
    context = f"ssh{unique}"
    env = {"CILO_ROUTER_IMAGE": "cilo-test/caddy", "CILO_REACH": "", "CILO_ROUTER_HTTP_PORT": str(HTTP_PORT)}
    on_remote = ("--context", context)
    alpha = f"a{unique}"
    subprocess.run(["docker", "context", "create", context, "--docker", f"host={engine.ssh}"], check=True,
                   capture_output=True, env={"DOCKER_CONFIG": str(docker_config), "PATH": "/usr/bin:/bin"})
    assert remote_sh(engine, f"test -e {proj}").returncode == 1  # the engine's machine has no such folder
    try:
        made = cilo("up", alpha, cwd=proj, env=env, docker_args=on_remote)
        assert f"copied the workspace {proj} to root@{engine.address}" in made.stderr
        # bind mounts on the engine's machine serve the files copied there
        assert until(lambda: get(engine, f"http://web.{alpha}.test/", HTTP_PORT) == f"synced {unique}\n")
        seen = cilo("exec", alpha, "-T", "worker", "cat", "/data/seen", cwd=proj, env=env, docker_args=on_remote)
        assert seen.stdout == "config one\n"
        assert remote_sh(engine, f"cat {proj}/html/old.html").stdout == "to be removed\n"

        # from this machine's context: listed with its host, names through that engine's router
        listed = [e for e in json.loads(cilo("list", "--all", "--json", cwd=proj, env=env).stdout)
                  if e["name"] == alpha]
        assert [(e["host"], e["status"]) for e in listed] == [(context, "running")]
        status = json.loads(cilo("status", alpha, "--json", cwd=proj, env=env).stdout)
        assert status["reach"]["mode"] == "router"
        assert status["services"]["web"]["urls"] == [f"http://web.{alpha}.test:{HTTP_PORT}", f"https://web.{alpha}.test"]
        assert dig(f"web.{alpha}.test") == [engine.address]

        # each `up` copies again: changed files change there, removed ones go
        (proj / "html" / "index.html").write_text(f"changed {unique}\n")
        (proj / "html" / "old.html").unlink()
        cilo("up", alpha, cwd=proj, env=env)  # this machine's context: the copy's engine is found
        assert until(lambda: get(engine, f"http://web.{alpha}.test/", HTTP_PORT) == f"changed {unique}\n")
        assert remote_sh(engine, f"test -e {proj}/html/old.html").returncode == 1

        # destroy from this machine's context: the copy and its remote folder go, ours stays
        cilo("destroy", alpha, "--force", cwd=proj, env=env)
        assert remote_sh(engine, f"test -e {proj}").returncode == 1
        assert (proj / "html" / "index.html").read_text() == f"changed {unique}\n"
        left = engine.docker("ps", "-aq", "--filter", f"label=cilo.environment={alpha}").stdout.split()
        assert not left and alpha not in cilo("list", "--all", cwd=proj, env=env).stdout
    finally:
        cilo("destroy", "--all-projects", "--force", cwd=proj, env=env, check=False)
        subprocess.run(["docker", "context", "rm", "-f", context], capture_output=True,
                       env={"DOCKER_CONFIG": str(docker_config), "PATH": "/usr/bin:/bin"})
