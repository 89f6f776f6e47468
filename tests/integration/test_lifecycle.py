"""The whole environment lifecycle against the real engine, through `docker cilo`.

The test project (tests/projects/shop) sets container_name, host ports, a fixed-subnet
network, extends, include, profiles, a docker-compose.override.yml, network_mode:
service: and replicas, and runs beside the user's own `docker compose up`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Cilo, copy_project
from tests.fakes import envs_of

pytestmark = pytest.mark.engine


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*")) if p.is_file()
    }


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def labelled(kind: str, project: str, env: str) -> list[str]:
    flt = ["--filter", f"label=cilo.project={project}", "--filter", f"label=cilo.environment={env}"]
    if kind == "container":
        return docker("ps", "-aq", *flt).split()
    return docker(kind, "ls", "-q", *flt).split()


def published_ports(container: str) -> dict:
    return json.loads(docker("inspect", "--format", "{{json .NetworkSettings.Ports}}", container)) or {}


@pytest.fixture
def shop(tmp_path: Path, cilo: Cilo) -> Iterator[Path]:
    proj = copy_project("shop", tmp_path)
    try:
        yield proj
    finally:
        cilo("destroy", "--all", "--force", cwd=proj, check=False)
        subprocess.run(["docker", "compose", "--profile", "*", "down", "-v", "-t", "0"],
                       cwd=proj, capture_output=True)


def test_two_copies_beside_the_users_own_compose_up(shop: Path, cilo: Cilo, unique: str) -> None:
    before = tree_digest(shop)
    alpha, beta = f"alpha-{unique}", f"beta-{unique}"
    # the user's own stack: fixed names, host ports 18080/19000, fixed subnet 172.30.0.0/24
    subprocess.run(["docker", "compose", "up", "-d"], cwd=shop, check=True, capture_output=True)
    try:
        cilo("up", alpha, cwd=shop)
        cilo("up", beta, cwd=shop)

        envs = {e["name"]: e for e in json.loads(cilo("list", "--json", cwd=shop).stdout)}
        assert set(envs) == {alpha, beta}
        subnets = [ipaddress.IPv4Network(envs[n]["subnet"]) for n in (alpha, beta)]
        assert not subnets[0].overlaps(subnets[1])
        for name, env in envs.items():
            assert env["project"] == "shop" and env["status"] == "running"
            assert env["workspace"] == str(shop)
            services = env["services"]
            assert set(services) == {"web", "api", "db", "sidecar", "worker", "debug"}
            for svc in ("web", "api", "db", "sidecar"):
                assert services[svc]["status"] == "running", (name, svc, services[svc])
            assert services["debug"]["status"] == "not created"  # profile not enabled
            subnet = ipaddress.IPv4Network(env["subnet"])
            assert ipaddress.IPv4Address(services["web"]["ip"]) in subnet
            assert services["sidecar"]["ip"] == services["web"]["ip"]  # shares web's namespace
            replicas = services["worker"]["replicas"]
            assert len(replicas) == 2 and all(ipaddress.IPv4Address(r["ip"]) in subnet for r in replicas)
            for cid in labelled("container", "shop", name):
                assert not any(published_ports(cid).values()), f"{cid} publishes host ports"

        # the user's own containers still run with their fixed names and ports
        assert docker("inspect", "--format", "{{.State.Running}}", "shop-web").strip() == "true"
        assert published_ports("shop-web")["80/tcp"][0]["HostPort"] == "18080"

        # a copy serves its own content on its own address, reachable from its network
        # (db shares `default` with web; api is on `front` only, as in the user's file)
        web_ip = envs[alpha]["services"]["web"]["ip"]
        got = cilo("exec", alpha, "db", "wget", "-qO-", f"http://{web_ip}/", cwd=shop).stdout
        assert "shop overridden" in got  # docker-compose.override.yml applied to the copy
        # service names resolve inside the copy, across the user's own networks too
        got = cilo("exec", alpha, "api", "wget", "-qO-", "http://web/", cwd=shop).stdout
        assert "shop overridden" in got

        # volumes are per environment
        vols = labelled("volume", "shop", alpha)
        assert sorted(vols) == sorted([f"cilo_shop_{alpha}_dbdata", f"cilo_shop_{alpha}_cache"])

        cilo("destroy", alpha, cwd=shop)
        for kind in ("container", "network", "volume"):
            assert labelled(kind, "shop", alpha) == [], f"{kind}s of {alpha} left behind"
        assert [e["name"] for e in json.loads(cilo("list", "--json", cwd=shop).stdout)] == [beta]
        assert labelled("container", "shop", beta), "destroying alpha touched beta"
    finally:
        subprocess.run(["docker", "compose", "down", "-v", "-t", "0"], cwd=shop, capture_output=True)
    assert tree_digest(shop) == before, "the user's files changed"


def test_profiles_down_up_and_status(shop: Path, cilo: Cilo, unique: str) -> None:
    env = f"prof-{unique}"
    cilo("--profile", "full", "up", env, cwd=shop)
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["services"]["debug"]["status"] == "running"

    cilo("stop", env, cwd=shop)
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["status"] == "stopped"
    assert all(s["status"] in ("exited", "not created") for s in status["services"].values())

    cilo("down", env, cwd=shop)  # compose's down: the containers go, the copy stays
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["status"] == "created"
    assert all(s["status"] == "not created" for s in status["services"].values())
    assert labelled("volume", "shop", env), "down must keep volumes"
    assert labelled("network", "shop", env), "down must keep the copy's network"

    cilo("up", env, cwd=shop)  # profiles recorded at creation are kept
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["status"] == "running" and status["services"]["debug"]["status"] == "running"


def test_options_on_an_existing_environment_are_applied_or_refused(shop: Path, cilo: Cilo,
                                                                  unique: str) -> None:
    """Issue 11 item 5: `--profile` (and -f, --env-file, --copy) were silently ignored."""
    env = f"opt-{unique}"
    cilo("up", env, cwd=shop)
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["services"]["debug"]["status"] == "not created"
    applied = cilo("--profile", "full", "up", env, cwd=shop)
    assert "now runs with" in applied.stderr and "profiles full" in applied.stderr
    status = json.loads(cilo("status", env, "--json", cwd=shop).stdout)
    assert status["services"]["debug"]["status"] == "running"
    from compose_cilo.state import store

    assert envs_of(store.read_state())[f"shop/{env}"]["profiles"] == ["full"]
    # other commands use what is recorded: other options are refused with the way out
    refused = cilo("--profile", "other", "logs", env, cwd=shop, check=False)
    assert refused.returncode == 1
    assert f"docker cilo --profile other up {env}" in refused.stderr
    copy = cilo("up", env, "--copy", cwd=shop, check=False)
    assert copy.returncode == 1 and "--copy takes effect when an environment is created" in copy.stderr
    # profiles apply from anywhere through PROJECT/ENV too
    cilo("--profile", "full", "--profile", "extra", "up", f"shop/{env}", cwd=shop.parent)
    assert envs_of(store.read_state())[f"shop/{env}"]["profiles"] == ["full", "extra"]


def test_addressing_from_outside_and_plugin_protocol(shop: Path, cilo: Cilo, unique: str,
                                                    tmp_path: Path) -> None:
    env = f"out-{unique}"
    cilo("create", env, cwd=shop)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    # PROJECT/ENV and --project NAME work from any folder; --context reaches the engine
    listed = json.loads(cilo("list", "--all", "--json", cwd=elsewhere,
                             docker_args=("--context", "default")).stdout)
    assert [(e["project"], e["name"], e["status"]) for e in listed] == [("shop", env, "created")]
    assert cilo("path", f"shop/{env}", cwd=elsewhere).stdout.strip() == str(shop)
    assert cilo("--project", "shop", "path", env, cwd=elsewhere).stdout.strip() == str(shop)
    out = cilo("status", f"shop/{env}", cwd=elsewhere).stdout
    assert f"environment shop/{env}: created" in out
    # docker lists the plugin, and the metadata answer is the manifest
    assert "cilo*" in subprocess.run(["docker", "--help"], capture_output=True, text=True,
                                     env={**__import__("os").environ,
                                          "DOCKER_CONFIG": str(cilo.docker_config)}).stdout


def test_copy_mode_runs_from_a_copy(shop: Path, cilo: Cilo, unique: str, cilo_home: Path) -> None:
    env = f"copy-{unique}"
    before = tree_digest(shop)
    cilo("up", env, "--copy", cwd=shop)
    workspace = Path(cilo("path", env, cwd=shop).stdout.strip())
    assert workspace == cilo_home / "envs" / "shop" / env / "workspace"
    assert tree_digest(workspace) == before
    run = cilo("with", env, "sh", "-c", "echo $CILO_ENV $CILO_PROJECT $PWD $CILO_BASE_URL", cwd=shop)
    assert run.stdout.split() == [env, "shop", str(workspace), f"http://shop.{env}.test"]
    cilo("destroy", env, cwd=shop)
    assert not workspace.exists() and not (cilo_home / "envs" / "shop" / env).exists()


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (("up", "Bad_Name"), 2, 'environment name "Bad_Name" has uppercase letters'),
        (("status", "nope"), 1, "environment shop/nope does not exist"),
        (("destroy", "--all", "--all-projects"), 1, "give one of: an environment name, --all"),
        (("-f", "missing.yml", "up", "x"), 1, "compose file .*missing.yml not found"),
    ],
)
def test_errors_are_one_clear_line(shop: Path, cilo: Cilo, args: tuple[str, ...], code: int,
                                   message: str) -> None:
    import re

    proc = cilo(*args, cwd=shop, check=False)
    assert proc.returncode == code
    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr


def test_compose_options_mean_what_they_mean_to_compose(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    proj = copy_project("plain", tmp_path)
    compose = proj / "compose.yaml"
    compose.write_text(compose.read_text().replace(
        '    command: ["sleep", "infinity"]',
        '    command: ["sleep", "infinity"]\n    environment:\n      GREETING: ${GREETING:-none}'))
    (proj / "custom.env").write_text("GREETING=hello-from-env-file\n")
    env = f"opts{unique}"
    args = ("-p", f"custom{unique}", "--env-file", "custom.env")
    try:
        cilo(*args, "up", env, cwd=proj)
        (listed,) = json.loads(cilo("--project", f"custom{unique}", "list", "--json", cwd=proj).stdout)
        assert listed["project"] == f"custom{unique}"
        got = cilo("--project", f"custom{unique}", "exec", env, "cache", "sh", "-c", "echo $GREETING",
                   cwd=proj).stdout.strip()
        assert got == "hello-from-env-file"
        logs = cilo("compose", f"custom{unique}/{env}", "ps", "--format", "{{.Service}}", cwd=proj).stdout
        assert sorted(logs.split()) == ["cache", "web"]
        cilo("logs", f"custom{unique}/{env}", "web", "--tail", "5", cwd=proj)
    finally:
        cilo("destroy", f"custom{unique}/{env}", "--force", cwd=proj, check=False)


def test_everything_after_the_service_is_the_commands(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    """Issue 11 item 8: as with docker compose, `-h`, `-f` or `--` after `exec ENV SERVICE`,
    `run ENV` and `compose ENV` belong to the command; docker's attached option forms
    (`-cNAME`, `--tlsverify=false`, `-H=...`) reach cilo as docker reads them."""
    proj = copy_project("plain", tmp_path)
    env = f"pass{unique}"
    try:
        cilo("up", env, cwd=proj)
        assert cilo("exec", env, "cache", "echo", "-h", "--help", cwd=proj).stdout.split() == ["-h", "--help"]
        # compose exec's own options before SERVICE are compose's; `--` after it is the command's
        got = cilo("exec", env, "-u", "65534", "-w", "/etc", "-e", "X=1", "cache",
                   "sh", "-c", 'echo "$(id -u) $PWD $X $0"', "--", cwd=proj).stdout.split()
        assert got == ["65534", "/etc", "1", "--"]
        assert cilo("with", env, "echo", "-h", "-f", "x", cwd=proj).stdout.split() == ["-h", "-f", "x"]
        assert cilo("with", env, "--", "echo", "--", "-v", cwd=proj).stdout.split() == ["--", "-v"]
        services = cilo("compose", env, "config", "--services", cwd=proj).stdout.split()
        assert sorted(services) == ["cache", "web"]
        assert "Usage:  docker compose" in cilo("compose", env, "ps", "-h", cwd=proj).stdout
        for docker_args in (("-cdefault",), ("--context=default",), ("--tlsverify=false",),
                            ("-D", "-H=unix:///var/run/docker.sock")):
            (listed,) = json.loads(cilo("list", "--json", cwd=proj, docker_args=docker_args).stdout)
            assert listed["name"] == env, docker_args
    finally:
        cilo("destroy", env, "--force", cwd=proj, check=False)


def test_each_git_worktree_gets_its_own_copy_with_cilo_env_auto(tmp_path: Path, cilo: Cilo,
                                                                 unique: str) -> None:
    """Issue 13: with CILO_ENV=auto, a bare `docker cilo up` in each worktree of one
    repository makes that worktree's own copy, named after its branch."""
    main = copy_project("plain", tmp_path / "repo")
    compose = main / "compose.yaml"
    compose.write_text(f"name: wt{unique}\n" + compose.read_text())

    def git(*args: str, cwd: Path = main) -> None:
        subprocess.run(["git", "-C", str(cwd), "-c", "user.email=t@example.invalid", "-c", "user.name=t",
                        *args], check=True, capture_output=True)

    git("init", "-q", "-b", f"main-{unique}")
    git("add", ".")
    git("commit", "-q", "-m", "project")
    linked = tmp_path / "linked"
    git("worktree", "add", "-q", "-b", f"Feature/Login-{unique}", str(linked))
    auto = {"CILO_ENV": "auto"}
    try:
        cilo("up", "-d", cwd=main, env=auto)  # compose's up, detached, of the selected copy
        cilo("up", "-d", cwd=linked, env=auto)
        listed = json.loads(cilo("list", "--json", cwd=main).stdout)  # this project's copies
        mine = sorted((e["project"], e["name"], e["workspace"]) for e in listed)
        assert mine == sorted([(f"wt{unique}", f"main-{unique}", str(main)),
                               (f"wt{unique}", f"feature-login-{unique}", str(linked))])
        table = cilo("list", cwd=linked).stdout
        assert f"main-{unique}" in table and f"feature-login-{unique}" in table
        assert cilo("use", cwd=linked, env=auto).stdout.startswith(f"feature-login-{unique} (from CILO_ENV=auto")
        assert cilo("status", "--json", cwd=linked, env=auto).stdout.count('"running"') >= 1
    finally:
        for where in (main, linked):
            cilo("destroy", "--force", cwd=where, env=auto, check=False)


def test_compose_verbs_run_against_the_selected_copy(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    """Issue 13: `docker cilo VERB ARGS` is `docker compose VERB ARGS` on the copy, beside
    the user's own `docker compose up` of the same project; same exit status and format."""
    proj = copy_project("plain", tmp_path)
    (proj / "compose.yaml").write_text(f"name: verbs{unique}\n" + (proj / "compose.yaml").read_text())
    env = f"v{unique}"
    selected = {"CILO_ENV": env}

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["docker", "compose", *args], cwd=proj, capture_output=True, text=True,
                              timeout=300)

    def states(out: str) -> set[tuple[str, str]]:
        return {(c["Service"], c["State"]) for c in map(json.loads, out.splitlines())}

    try:
        assert compose("up", "-d").returncode == 0
        cilo("up", env, cwd=proj)
        for args in (("ps", "--format", "json"), ("config", "--services"), ("images", "--format", "json")):
            mine, theirs = cilo(*args, cwd=proj, env=selected), compose(*args)
            assert mine.returncode == theirs.returncode == 0, args
            if args[0] == "ps":
                assert states(mine.stdout) == states(theirs.stdout) == {("web", "running"), ("cache", "running")}
                projects = {c["Project"] for c in map(json.loads, mine.stdout.splitlines())}
                assert projects == {f"cilo_verbs{unique}_{env}"}
            elif args[0] == "config":
                assert sorted(mine.stdout.split()) == sorted(theirs.stdout.split())
            else:
                assert {i["ContainerName"].rsplit("-", 2)[-2] for i in json.loads(mine.stdout)} == {"web", "cache"}
        # what changes containers is recorded; the user's stack is not touched
        assert cilo("stop", "cache", cwd=proj, env=selected).returncode == 0
        assert ("cache", "exited") in states(cilo("ps", "-a", "--format", "json", cwd=proj, env=selected).stdout)
        status = json.loads(cilo("status", "--json", cwd=proj, env=selected).stdout)
        assert status["services"]["cache"]["status"] == "exited"
        assert states(compose("ps", "--format", "json").stdout) == {("web", "running"), ("cache", "running")}
        cilo("start", env, "cache", cwd=proj)  # without a selection: the environment first
        status = json.loads(cilo("status", env, "--json", cwd=proj).stdout)
        assert {s["status"] for s in status["services"].values()} == {"running"}
        # a copy publishes no host port: its port is the container's own address
        assert re.fullmatch(r"0\.0\.0\.0:\d+\n", compose("port", "web", "80").stdout)
        web_ip = status["services"]["web"]["ip"]
        assert cilo("port", "web", "80", cwd=proj, env=selected).stdout == f"{web_ip}:80\n"
        unselected = cilo("ps", cwd=proj, check=False)
        assert unselected.returncode == 2 and "docker cilo ps needs an environment" in unselected.stderr
    finally:
        cilo("destroy", env, "--force", cwd=proj, check=False)
        compose("down", "-v", "-t", "0")


def test_host_network_services_are_flagged(tmp_path: Path, cilo: Cilo, unique: str) -> None:
    proj = copy_project("plain", tmp_path)
    compose = proj / "compose.yaml"
    compose.write_text(compose.read_text() + (
        "  hostnet:\n    image: cilo-test/busybox\n    init: true\n"
        '    command: ["sleep", "infinity"]\n    network_mode: host\n'))
    env = f"host{unique}"
    try:
        refused = cilo("up", f"s{env}", "--strict", cwd=proj, check=False)
        assert refused.returncode == 1 and "--strict" in refused.stderr
        assert "service hostnet: network_mode: host" in refused.stderr
        assert json.loads(cilo("list", "--json", cwd=proj).stdout) == []  # nothing was created
        proc = cilo("up", env, cwd=proj)
        assert proc.stderr.count("warning: service hostnet shares what a copy cannot isolate: "
                                 "network_mode: host") == 1
        status = json.loads(cilo("status", env, "--json", cwd=proj).stdout)
        assert status["services"]["hostnet"]["status"] == "running"
        assert status["services"]["hostnet"]["ip"] is None  # not on the environment network
    finally:
        cilo("destroy", env, "--force", cwd=proj, check=False)


OUTSIDE_COMPOSE = """services:
  app:
    build: ../shared/app
    image: cilo-test/busybox
    init: true
    command: ["sleep", "infinity"]
    volumes: ["../shared/src:/src", "./data:/data"]
    env_file:
      - ../shared/required.env
      - path: ../shared/optional.env
        required: false
      - path: ../shared/absent.env
        required: false
      - ./local.env
"""


@pytest.fixture
def outside(tmp_path: Path, cilo: Cilo) -> Iterator[Path]:
    """A project whose build context, a bind mount and env files lie outside its folder."""
    root = tmp_path / "tree"
    proj = root / "proj"
    for rel, text in {
        "proj/compose.yaml": OUTSIDE_COMPOSE, "proj/local.env": "L=local\n",
        "proj/data/d.txt": "inside\n", "shared/app/Dockerfile": "FROM cilo-test/busybox\n",
        "shared/src/hello.txt": "hello from the user's src\n",
        "shared/required.env": "R=required\n", "shared/optional.env": "O=optional\n",
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    try:
        yield proj
    finally:
        cilo("destroy", "--all", "--force", cwd=proj, check=False)


def test_copy_uses_what_lies_outside_the_project_where_it_is(outside: Path, cilo: Cilo, unique: str,
                                                             cilo_home: Path) -> None:
    """Issue 10 item 9: build contexts, bind mounts and env files outside the folder."""
    env = f"out-{unique}"
    shared = outside.parent / "shared"
    before = tree_digest(outside.parent)
    first = cilo("up", env, "--copy", cwd=outside)
    lines = first.stderr.splitlines()
    outside_lines = [ln for ln in lines if ln.startswith("outside ") and str(shared / "src") in ln]
    assert len(outside_lines) == 1, first.stderr  # the shared paths are listed once
    warned = [ln for ln in lines if ln.startswith("warning: service app ")]
    assert len(warned) == 1 and f"bind mount {shared / 'src'} is a host folder" in warned[0]
    assert str(shared / "required.env") in first.stderr and str(shared / "app") in first.stderr
    got = cilo("exec", env, "app", "sh", "-c", "cat /src/hello.txt /data/d.txt; echo $R $O $L",
               cwd=outside).stdout.split("\n")
    assert got[:3] == ["hello from the user's src", "inside", "required optional local"]
    config = json.loads(cilo("compose", env, "config", "--format", "json", cwd=outside).stdout)
    workspace = cilo_home / "envs" / "proj" / env / "workspace"
    app = config["services"]["app"]
    assert app["build"]["context"] == str(shared / "app")
    assert {v["target"]: v["source"] for v in app["volumes"]} == {
        "/src": str(shared / "src"), "/data": str(workspace / "data")}
    again = cilo("up", env, "--copy", cwd=outside)
    assert str(shared) not in again.stderr  # only the first up says it
    assert tree_digest(outside.parent) == before, "the user's files changed"


def test_concurrent_copies_of_a_new_environment_both_succeed(tmp_path: Path, cilo: Cilo, unique: str,
                                                             cilo_home: Path) -> None:
    import os

    outside = copy_project("plain", tmp_path)
    (outside / "src").mkdir()
    for i in range(3000):  # a copy that takes long enough for the two to overlap
        (outside / "src" / f"f{i}.txt").write_text(f"{i}\n")
    env = f"race-{unique}"
    full_env = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}
    procs = [subprocess.Popen(["docker", "cilo", "up", env, "--copy"], cwd=outside, env=full_env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read() if p.stderr else "") for p in procs]
    assert [code for code, _ in results] == [0, 0], results
    try:
        env_dir = cilo_home / "envs" / "plain" / env
        assert not (env_dir / "workspace.partial").exists()
        assert (env_dir / "workspace" / "compose.yaml").is_file()
        status = json.loads(cilo("status", env, "--json", cwd=outside).stdout)
        assert {s["status"] for s in status["services"].values()} == {"running"}
    finally:
        cilo("destroy", env, "--force", cwd=outside, check=False)
