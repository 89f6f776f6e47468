"""Issue 13's measure of a drop-in: a test script written for plain docker compose runs
unchanged, but for `docker compose` -> `docker cilo` with CILO_ENV set, against a copy
beside the user's own `docker compose up` of the same project; every step's exit status
and output format equal compose's for the same step on the user's stack."""

from __future__ import annotations

import ipaddress
import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import Cilo

pytestmark = pytest.mark.engine

PROJECT = """\
name: drop{unique}
services:
  web:
    image: cilo-test/busybox
    init: true
    command: ["sh", "-c", "echo web says hello; exec httpd -f -p 80"]
    ports: ["127.0.0.1::80"]
    volumes: ["data:/data"]
    healthcheck: {{test: ["CMD", "true"], interval: 1s, timeout: 2s, retries: 3}}
  cache:
    image: cilo-test/busybox
    init: true
    command: ["sleep", "infinity"]
volumes:
  data:
"""

# written for plain compose; each step's stdout, stderr and exit status go to $1/STEP.*
SCRIPT = """\
#!/bin/sh
out=$1
step() {{ name=$1; shift; "$@" > "$out/$name.out" 2> "$out/$name.err"; echo $? > "$out/$name.rc"; }}
step up docker compose up -d --wait
step exec docker compose exec -T web sh -c 'echo in web; ls /data | wc -l'
step write docker compose exec -T web sh -c 'echo kept > /data/f'
step exit3 docker compose exec -T web sh -c 'exit 3'
step run docker compose run --rm --no-deps -e X=1 cache sh -c 'echo run $X'
step logs docker compose logs --no-color --tail 5 web
step ps docker compose ps --format json
step port docker compose port web 80
echo from-host > "$out/host.txt"
step cp_in docker compose cp "$out/host.txt" web:/tmp/host.txt
step cp_check docker compose exec -T web cat /tmp/host.txt
step cp_out docker compose cp web:/tmp/host.txt "$out/back.txt"
step services docker compose config --services
step config docker compose config --format json
step restart docker compose restart web
step stop docker compose stop
step ps_stopped docker compose ps -a --format '{{{{.Service}}}} {{{{.State}}}}'
step start docker compose start
step ps_started docker compose ps --format '{{{{.Service}}}} {{{{.State}}}}'
step down docker compose down
step ps_down docker compose ps -a --format '{{{{.Service}}}}'
step up_again docker compose up -d --wait
step read docker compose exec -T web cat /data/f
step down_v docker compose down -v
"""
STEPS = re.findall(r"^step (\w+)", SCRIPT, re.M)
SAME_OUTPUT = ["exec", "write", "exit3", "run", "logs", "cp_in", "cp_check", "cp_out", "ps_stopped",
               "ps_started", "ps_down", "read"]
SAME_LINES = ["services"]  # compose prints them in no fixed order, for its own stack too


def run_script(script: Path, out: Path, cwd: Path, env: dict[str, str]) -> dict[str, tuple[int, str]]:
    out.mkdir()
    subprocess.run(["sh", str(script), str(out)], cwd=cwd, env=env, check=True, timeout=600)
    return {s: (int((out / f"{s}.rc").read_text()), (out / f"{s}.out").read_text()) for s in STEPS}


def user_stack(project: str) -> list[tuple[str, str]]:
    got = subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={project}",
                          "--format", "{{.ID}} {{.State}}"], capture_output=True, text=True, check=True)
    return sorted(tuple(line.split()) for line in got.stdout.splitlines())  # type: ignore[misc]


@pytest.fixture
def project(tmp_path: Path, unique: str) -> Path:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "compose.yaml").write_text(PROJECT.format(unique=unique))
    return proj


def test_a_compose_test_script_runs_unchanged_against_a_copy(
        project: Path, tmp_path: Path, cilo: Cilo, unique: str) -> None:
    env = f"drop{unique}"
    compose_env = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}
    plain = tmp_path / "compose.sh"
    plain.write_text(SCRIPT.format())
    ours = tmp_path / "cilo.sh"
    ours.write_text(SCRIPT.format().replace("docker compose", "docker cilo"))
    assert ours.read_text().count("docker cilo") == len(STEPS) and "docker compose" not in ours.read_text()
    try:
        subprocess.run(["docker", "compose", "up", "-d", "--wait"], cwd=project, check=True,
                       capture_output=True, timeout=300)
        theirs_before = user_stack(f"drop{unique}")
        mine = run_script(ours, tmp_path / "cilo-out", project, {**compose_env, "CILO_ENV": env})
        # the copy ran beside the user's stack and never touched it
        assert user_stack(f"drop{unique}") == theirs_before
        untouched = subprocess.run(["docker", "compose", "exec", "-T", "web", "ls", "/data"], cwd=project,
                                   capture_output=True, text=True, check=True)
        assert untouched.stdout == ""  # the copy's write went to the copy's own volume

        theirs = run_script(plain, tmp_path / "compose-out", project, compose_env)
        for step in STEPS:
            assert mine[step][0] == theirs[step][0], (step, mine[step], theirs[step])
        assert theirs["exit3"][0] == 3 and theirs["up"][0] == 0
        for step in SAME_OUTPUT:
            assert mine[step][1] == theirs[step][1], (step, mine[step][1], theirs[step][1])
        for step in SAME_LINES:
            assert sorted(mine[step][1].splitlines()) == sorted(theirs[step][1].splitlines()), step
        assert mine["read"][1] == "kept\n"  # down then up kept the copy's named volume
        assert mine["ps_down"][1] == ""

        ps_mine = [json.loads(line) for line in mine["ps"][1].splitlines()]
        ps_theirs = [json.loads(line) for line in theirs["ps"][1].splitlines()]
        assert [sorted(p) for p in ps_mine] == [sorted(p) for p in ps_theirs]
        assert [(p["Service"], p["State"]) for p in ps_mine] == [(p["Service"], p["State"]) for p in ps_theirs]
        assert {p["Project"] for p in ps_mine} == {f"cilo_drop{unique}_{env}"}

        # port: HOST:PORT for both; the copy's host is the container's own address
        assert re.fullmatch(r"127\.0\.0\.1:\d+\n", theirs["port"][1])
        address, _, port = mine["port"][1].strip().rpartition(":")
        status = json.loads(cilo("status", env, "--json", cwd=project).stdout)
        assert port == "80" and ipaddress.ip_address(address) in ipaddress.ip_network(status["subnet"])

        config_mine, config_theirs = json.loads(mine["config"][1]), json.loads(theirs["config"][1])
        assert sorted(config_mine) == sorted(config_theirs)
        assert sorted(config_mine["services"]) == sorted(config_theirs["services"])
        assert config_mine["name"] == f"cilo_drop{unique}_{env}"  # what compose runs: the override included
        assert not config_mine["services"]["web"].get("ports")

        # down -v removed the copy's volumes; the user's are theirs
        volumes = subprocess.run(["docker", "volume", "ls", "-q", "--filter",
                                  f"label=cilo.environment={env}"], capture_output=True, text=True, check=True)
        assert volumes.stdout == ""
        listed = json.loads(cilo("list", "--json", cwd=project).stdout)
        assert [(e["name"], e["status"]) for e in listed] == [(env, "created")]  # down -v keeps the copy
    finally:
        cilo("destroy", env, "--force", cwd=project, check=False)
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=project, capture_output=True)


def _interrupt_attached_up(argv: list[str], cwd: Path, env: dict[str, str], ready: object) -> int:
    """Start an attached `up` as a terminal's foreground job, wait for `ready()`, then ^C it
    (SIGINT to its process group, as the terminal sends it); its exit status."""
    proc = subprocess.Popen(argv, cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not ready():  # type: ignore[operator]
            assert proc.poll() is None and time.monotonic() < deadline, "attached up never got ready"
            time.sleep(0.3)
        os.killpg(proc.pid, signal.SIGINT)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_an_attached_up_is_recorded_while_it_runs_and_ctrl_c_stops_the_copy_as_compose_does(
        project: Path, cilo: Cilo, unique: str) -> None:
    env = f"att{unique}"
    base = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}

    def copy_status() -> str | None:
        listed = json.loads(cilo("list", "--json", cwd=project).stdout)
        return next((e["status"] for e in listed if e["name"] == env), None)

    def user_running() -> bool:
        return [s for _, s in user_stack(f"drop{unique}")] == ["running", "running"]

    try:
        theirs = _interrupt_attached_up(["docker", "compose", "up"], project, base, user_running)
        ours = _interrupt_attached_up(["docker", "cilo", "up"], project, {**base, "CILO_ENV": env},
                                      lambda: copy_status() == "running")
        assert ours == theirs  # compose's own exit status for a ^C'd attached up
        assert copy_status() == "stopped"
        states = subprocess.run(["docker", "ps", "-a", "--filter", f"label=cilo.environment={env}",
                                 "--format", "{{.State}}"], capture_output=True, text=True, check=True)
        assert states.stdout.split() == ["exited", "exited"]  # stopped gracefully, not left running
    finally:
        cilo("destroy", env, "--force", cwd=project, check=False)
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=project, capture_output=True)
