"""Copies that share nothing with the user's stack, on the real engine (issue 10).

Each test writes a small project the way real ones are written (explicit names equal to
compose's defaults, container names used as host names, references to containers by
name, fixed bridge names, internal networks, an external reverse-proxy network), runs the
user's own `docker compose up` beside copies, and checks with `docker inspect`.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import Cilo

pytestmark = pytest.mark.engine

SLEEP = '    image: cilo-test/busybox\n    init: true\n    command: ["sleep", "infinity"]\n'


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True).stdout


def inspect(kind: str, name: str) -> dict[str, Any]:
    return json.loads(docker(kind, "inspect", name))[0]


def compose(proj: Path, *args: str) -> None:
    proc = subprocess.run(["docker", "compose", *args], cwd=proj, capture_output=True, text=True)
    assert proc.returncode == 0, f"docker compose {' '.join(args)}: {proc.stderr}"


def copy_containers(project: str, env: str, service: str) -> list[str]:
    return docker("ps", "-q", "--filter", f"label=cilo.project={project}",
                  "--filter", f"label=cilo.environment={env}",
                  "--filter", f"label=com.docker.compose.service={service}").split()


@pytest.fixture
def project(tmp_path: Path, cilo: Cilo, unique: str) -> Iterator[tuple[Path, str]]:
    """A folder for the test's project; everything of it is removed after."""
    proj = tmp_path / "proj"
    proj.mkdir()
    name = f"iso{unique}"
    try:
        yield proj, name
    finally:
        cilo("destroy", "--all", "--force", cwd=proj, check=False)
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=proj, capture_output=True)


def test_destroy_never_removes_the_users_volumes(project: tuple[Path, str], cilo: Cilo) -> None:
    proj, name = project
    (proj / "compose.yaml").write_text(
        f"name: {name}\nservices:\n  db:\n{SLEEP}    volumes: [dbdata:/data, logs:/logs]\n"
        f"volumes:\n  dbdata:\n    name: {name}_dbdata\n  logs:\n    name: {name}-logs\n")
    cilo("up", "a", cwd=proj)  # a copy made before the user ever ran the project
    compose(proj, "up", "-d")  # the user's volumes are created after the copy
    docker("exec", f"{name}-db-1", "sh", "-c", "echo mine > /data/f && echo mine > /logs/f")
    cilo("up", "b", cwd=proj)  # and a copy made after them
    for env in ("a", "b"):
        (cid,) = copy_containers(name, env, "db")
        mounts = {m["Destination"]: m["Name"] for m in inspect("container", cid)["Mounts"]}
        assert mounts == {"/data": f"cilo_{name}_{env}_dbdata", "/logs": f"cilo_{name}_{env}_logs"}
        docker("exec", cid, "sh", "-c", f"test ! -e /data/f && echo {env} > /data/f")
    compose(proj, "down")  # the user's containers go, their volumes stay
    cilo("destroy", "a", "--force", cwd=proj)
    cilo("destroy", "b", "--force", cwd=proj)
    for vol in (f"{name}_dbdata", f"{name}-logs"):
        got = docker("run", "--rm", "-v", f"{vol}:/v", "cilo-test/busybox", "cat", "/v/f")
        assert got == "mine\n", f"the user's volume {vol} lost its data"
    assert not docker("volume", "ls", "-q", "--filter", f"label=cilo.project={name}").split()


def test_container_names_and_references_inside_a_copy(project: tuple[Path, str], cilo: Cilo) -> None:
    proj, name = project
    db = f"{name}-mariadb"
    (proj / "compose.yaml").write_text(
        f"name: {name}\nservices:\n"
        f"  db:\n{SLEEP}    container_name: {db}\n    networks: [default, back]\n"
        f"    volumes: [data:/var/lib/data]\n"
        f"  gateway:\n{SLEEP}    networks: [back]\n    environment: {{DB_HOST: {db}}}\n"
        f"  sidecar:\n{SLEEP}    network_mode: container:{db}\n    depends_on: [db]\n"
        f"  backup:\n{SLEEP}    volumes_from: ['container:{db}']\n    depends_on: [db]\n"
        "networks:\n  back: {}\nvolumes:\n  data: {}\n")
    compose(proj, "up", "-d")
    cilo("up", "a", cwd=proj)
    (copy_db,) = copy_containers(name, "a", "db")
    copy_db_info = inspect("container", copy_db)
    back = copy_db_info["NetworkSettings"]["Networks"][f"cilo_{name}_a_back"]
    assert db in back["Aliases"]
    (gateway,) = copy_containers(name, "a", "gateway")
    found = docker("exec", gateway, "nslookup", db)
    assert back["IPAddress"] in found  # the copy's own db, under the user's container name
    user_ip = inspect("container", db)["NetworkSettings"]["Networks"][f"{name}_back"]["IPAddress"]
    assert user_ip not in found
    (sidecar,) = copy_containers(name, "a", "sidecar")
    full_id = copy_db_info["Id"]
    assert inspect("container", sidecar)["HostConfig"]["NetworkMode"] == f"container:{full_id}"
    (backup,) = copy_containers(name, "a", "backup")
    sources = [v.split(":")[0] for v in inspect("container", backup)["HostConfig"]["VolumesFrom"]]
    assert len(sources) == 1 and full_id.startswith(sources[0])


def test_networks_keep_their_flags_and_lose_host_names(project: tuple[Path, str], cilo: Cilo,
                                                       unique: str) -> None:
    proj, name = project
    proxy = f"proxy{unique}"
    (proj / "compose.yaml").write_text(
        f"name: {name}\nservices:\n"
        f"  web:\n{SLEEP}    networks: [default, backend, edge]\n"
        f"  db:\n{SLEEP}    networks: [backend]\n"
        f"  public:\n{SLEEP}    networks: [default, proxy]\n"
        "networks:\n"
        "  default:\n    driver_opts: {com.docker.network.driver.mtu: '1450'}\n"
        "  backend:\n    internal: true\n"
        f"  edge:\n    driver_opts: {{com.docker.network.bridge.name: br-{unique}}}\n"
        f"  proxy:\n    external: true\n    name: {proxy}\n")
    docker("network", "create", proxy)
    try:
        compose(proj, "up", "-d")  # the user's stack holds bridge br-<unique>
        cilo("up", "a", cwd=proj)
        cilo("up", "b", cwd=proj)
        for env in ("a", "b"):
            backend = inspect("network", f"cilo_{name}_{env}_backend")
            assert backend["Internal"] and backend["IPAM"]["Config"][0]["Subnet"].startswith("10.224.")
            assert inspect("network", f"cilo_{name}_{env}")["Options"] == {
                "com.docker.network.driver.mtu": "1450"}
            assert "com.docker.network.bridge.name" not in inspect("network", f"cilo_{name}_{env}_edge")["Options"]
            (db,) = copy_containers(name, env, "db")
            assert set(inspect("container", db)["NetworkSettings"]["Networks"]) == {f"cilo_{name}_{env}_backend"}
            (public,) = copy_containers(name, env, "public")
            assert set(inspect("container", public)["NetworkSettings"]["Networks"]) == {
                f"cilo_{name}_{env}", proxy}
        status = json.loads(cilo("status", "a", "--json", cwd=proj).stdout)
        assert status["services"]["db"]["ip"].startswith("10.224.")  # named on its only network
    finally:
        cilo("destroy", "--all", "--force", cwd=proj, check=False)
        subprocess.run(["docker", "compose", "down", "-t", "0"], cwd=proj, capture_output=True)
        docker("network", "rm", proxy, check=False)


def test_twenty_copies_leave_dockers_address_pools_to_the_user(
        project: tuple[Path, str], cilo: Cilo) -> None:
    """Three user networks each: 60 networks from dockerd's pools (about 31) before."""
    proj, name = project
    (proj / "compose.yaml").write_text(
        f"name: {name}\nservices:\n  app:\n{SLEEP}    networks: [default, front, back, jobs]\n"
        "networks:\n  front: {}\n  back: {}\n  jobs: {}\n")
    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(lambda i: cilo("up", f"c{i}", cwd=proj).returncode, range(20)))
    assert done == [0] * 20
    copies = [n for n in docker("network", "ls", "--format", "{{.Name}}").split()
              if n.startswith(f"cilo_{name}_")]
    assert len(copies) == 80
    subnets = {inspect("network", n)["IPAM"]["Config"][0]["Subnet"] for n in copies}
    assert len(subnets) == 80 and all(s.startswith("10.224.") for s in subnets)
    running = docker("ps", "-q", "--filter", f"label=cilo.project={name}").split()
    assert len(running) == 20
    compose(proj, "up", "-d")  # the user's own stack still gets its networks
    for key in ("default", "front", "back", "jobs"):
        assert inspect("network", f"{name}_{key}")["Name"] == f"{name}_{key}"


def test_a_project_folder_that_is_not_utf8(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    folder = Path(os.fsdecode(bytes(tmp_path) + b"/caf\xe9"))
    folder.mkdir()
    (folder / "compose.yaml").write_text(f"name: nu{unique}\nservices:\n  web:\n{SLEEP}")
    env = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}

    def run(*args: str) -> subprocess.CompletedProcess[bytes]:  # output names the folder: bytes
        return subprocess.run(["docker", "cilo", *args], cwd=folder, env=env, capture_output=True,
                              timeout=120)

    try:
        up = run("up", "a")
        assert up.returncode == 0, up.stderr.decode(errors="replace")
        status = json.loads(run("status", "a", "--json").stdout)
        assert status["services"]["web"]["status"] == "running"
        override = Path(status["workspace"]).name  # the record keeps the folder as it is
        assert os.fsencode(override) == b"caf\xe9"
    finally:
        run("destroy", "a", "--force")
