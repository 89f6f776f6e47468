"""Test session set-up: a private cilo home, and the real engine and dnsmasq when needed.

Policy: when CI is set, a missing engine or dnsmasq FAILS the tests that need it (a
skipped suite proves nothing); locally those tests skip with the reason.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from compose_cilo.dns.process import free_port
from tests.remote_engine import RemoteEngine

# In CI the property tests run the same examples every time (a found failure is kept as
# a unit test, not left to chance); locally they explore new ones on every run.
hypothesis_settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI"):
    hypothesis_settings.load_profile("ci")

ROOT = Path(__file__).resolve().parent.parent
PROJECTS = Path(__file__).resolve().parent / "projects"
TEST_IMAGE = "cilo-test/busybox"
ROUTER_IMAGE = "cilo-test/caddy"
CADDY = Path(sys.prefix) / "share" / "caddy" / "caddy"  # unpacked by ./install.sh --dev


@pytest.fixture(autouse=True)
def cilo_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
              ) -> Iterator[Path]:
    """Every test gets its own CILO_HOME; nothing touches the real home.

    Commands start cilo's dnsmasq on demand; it is stopped when the test ends.
    """
    home = tmp_path_factory.mktemp("cilo-home")
    monkeypatch.setenv("CILO_HOME", str(home))
    monkeypatch.delenv("CILO_STATE_PATH", raising=False)
    monkeypatch.delenv("CILO_BASE_SUBNET", raising=False)
    monkeypatch.delenv("CILO_DNS_CONFIG", raising=False)
    monkeypatch.delenv("COMPOSE_FILE", raising=False)
    monkeypatch.delenv("COMPOSE_PROFILES", raising=False)
    monkeypatch.delenv("COMPOSE_PROJECT_NAME", raising=False)
    monkeypatch.delenv("CILO_ENV", raising=False)  # no test acts on the developer's selection
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "")  # dnsmasq in tests never forwards
    monkeypatch.setenv("CILO_DNS_PORT", str(free_port()))
    from compose_cilo import config, settings
    from compose_cilo.dns import dnsmasq

    config.clear_cache()
    yield home
    try:
        dnsmasq.stop()
    except settings.SettingsError as e:  # a test left a bad setting: stop with it unset
        for var in e.env_vars:
            monkeypatch.delenv(var, raising=False)
        monkeypatch.setenv("CILO_HOME", str(home))  # not one with a bad config.json
        config.clear_cache()
        dnsmasq.stop()


def need(what: str, ok: bool, reason: str) -> None:
    if ok:
        return
    if os.environ.get("CI"):
        pytest.fail(f"{what} is required when CI is set: {reason}")
    pytest.skip(f"{what} not available: {reason}")


def _engine_answers() -> tuple[bool, str]:
    if not shutil.which("docker"):
        return False, "no docker CLI on PATH"
    proc = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"],
                          capture_output=True, text=True)
    return proc.returncode == 0, proc.stderr.strip()


@pytest.fixture(scope="session")
def engine_available() -> None:
    ok, reason = _engine_answers()
    need("a Docker engine", ok, reason)
    compose = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    need("docker compose v2", compose.returncode == 0, compose.stderr.strip())


@pytest.fixture(scope="session")
def compose_cli() -> None:
    """The docker CLI with compose v2: enough for `docker compose config` (no engine)."""
    ok = shutil.which("docker") is not None and subprocess.run(
        ["docker", "compose", "version"], capture_output=True).returncode == 0
    need("docker compose v2", ok, "install it with ./install.sh --dev")


@pytest.fixture(scope="session")
def test_image(engine_available: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A 1 MB image with sh, sleep, httpd, nc and wget, built locally (no registry here)."""
    if subprocess.run(["docker", "image", "inspect", TEST_IMAGE], capture_output=True).returncode == 0:
        return TEST_IMAGE
    busybox = shutil.which("busybox")
    need("busybox (busybox-static)", bool(busybox), "install busybox-static")
    ctx = tmp_path_factory.mktemp("image")
    shutil.copy(busybox, ctx / "busybox")  # type: ignore[arg-type]
    (ctx / "Dockerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox","--install","-s","/bin"]\n'
        'CMD ["sh"]\n'
    )
    subprocess.run(["docker", "build", "-q", "-t", TEST_IMAGE, str(ctx)], check=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"}, capture_output=True)
    return TEST_IMAGE


@pytest.fixture(scope="session")
def router_image(engine_available: None, tmp_path_factory: pytest.TempPathFactory) -> str:
    """cilo's router image for the tests: Debian's caddy binary and the libraries it links,
    built locally (the official caddy:2 image needs a registry)."""
    if subprocess.run(["docker", "image", "inspect", ROUTER_IMAGE], capture_output=True).returncode == 0:
        return ROUTER_IMAGE
    need("caddy (Debian's binary)", CADDY.is_file(), "run ./install.sh --dev")
    ctx = tmp_path_factory.mktemp("router-image")
    shutil.copy(CADDY, ctx / "caddy")
    libs = [line.split("=>")[-1].split("(")[0].strip() for line in
            subprocess.run(["ldd", str(CADDY)], capture_output=True, text=True, check=True).stdout.splitlines()]
    copies = []
    for n, lib in enumerate(p for p in libs if p.startswith("/")):
        shutil.copy(lib, ctx / f"lib{n}")
        copies.append(f"COPY lib{n} {lib}\n")
    (ctx / "Caddyfile").write_text("{\n\tadmin localhost:2019\n}\n")
    (ctx / "Dockerfile").write_text(
        "FROM scratch\nCOPY caddy /usr/bin/caddy\n" + "".join(copies)
        + "COPY Caddyfile /etc/caddy/Caddyfile\nENV HOME=/data XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config\n"
        'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]\n')
    subprocess.run(["docker", "build", "-q", "-t", ROUTER_IMAGE, str(ctx)], check=True,
                   env={**os.environ, "DOCKER_BUILDKIT": "0"}, capture_output=True)
    return ROUTER_IMAGE


@pytest.fixture(scope="session")
def remote_engine(test_image: str, router_image: str, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[RemoteEngine]:
    """A second engine whose container addresses this host cannot reach (tests/remote_engine.py)."""
    from tests import remote_engine as remote

    reason = remote.missing()
    need("a second engine in a network namespace", reason is None, reason or "")
    yield from remote.start(tmp_path_factory.mktemp("remote-engine"), [test_image, router_image])


@pytest.fixture(scope="session")
def ssh_engine(test_image: str, router_image: str, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[RemoteEngine]:
    """A second engine that is another machine in files too, reached over ssh (an sshd
    in its namespaces); projects under its `hidden` folder exist here only."""
    from tests import remote_engine as remote

    reason = remote.missing() or (None if shutil.which("sshd") and shutil.which("ssh") else
                                  "openssh-server is not installed (./install.sh --dev)")
    need("a second engine reached over ssh", reason is None, reason or "")
    yield from remote.start(tmp_path_factory.mktemp("ssh-engine"), [test_image, router_image], ssh=True)


def _compose_plugin_path() -> str | None:
    proc = subprocess.run(
        ["docker", "info", "--format", "{{range .ClientInfo.Plugins}}{{.Name}} {{.Path}}\n{{end}}"],
        capture_output=True, text=True,
    )
    for line in proc.stdout.splitlines():
        name, _, path = line.partition(" ")
        if name == "compose":
            return path
    return None


@pytest.fixture(scope="session")
def docker_config(tmp_path_factory: pytest.TempPathFactory, engine_available: None) -> Path:
    """A DOCKER_CONFIG whose cli-plugins hold this checkout's docker-cilo and compose."""
    cfg = tmp_path_factory.mktemp("docker-config")
    plugins = cfg / "cli-plugins"
    plugins.mkdir()
    compose = _compose_plugin_path()
    if compose:
        (plugins / "docker-compose").symlink_to(compose)
    shim = plugins / "docker-cilo"
    manifest = (ROOT / "plugin-manifest").read_text()
    shim.write_text(
        "#!/bin/sh\n"
        'if [ "$1" = docker-cli-plugin-metadata ]; then\ncat <<\'EOF\'\n'
        f"{manifest}EOF\nexit 0\nfi\n"
        f'exec "{sys.executable}" -P -c "from compose_cilo.__main__ import main; main()" "$@"\n'
    )
    shim.chmod(0o755)
    return cfg


class Cilo:
    """Runs `docker cilo ...` through the real docker CLI, as a user would."""

    def __init__(self, docker_config: Path) -> None:
        self.docker_config = docker_config

    def __call__(self, *args: str, cwd: Path | None = None, check: bool = True,
                 env: dict[str, str] | None = None, docker_args: tuple[str, ...] = ()
                 ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "DOCKER_CONFIG": str(self.docker_config), **(env or {})}
        proc = subprocess.run(["docker", *docker_args, "cilo", *args], cwd=cwd, env=full_env,
                              capture_output=True, text=True, timeout=300)
        if check and proc.returncode != 0:
            raise AssertionError(
                f"docker cilo {' '.join(args)} exited {proc.returncode}\n"
                f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
            )
        return proc


@pytest.fixture
def cilo(docker_config: Path, test_image: str) -> Cilo:
    return Cilo(docker_config)


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:6]


def sample_record(project: str = "shop", env: str = "dev", subnet: str = "10.224.0.0/24",
                  services: dict | None = None) -> dict:
    """A valid environment record (current version), for tests that need state without an engine."""
    return {
        "name": env, "project": project, "compose_project": f"cilo_{project}_{env}",
        "status": "created", "subnet": subnet, "network": f"cilo_{project}_{env}",
        "project_dir": "/src/shop", "compose_files": ["/src/shop/compose.yaml"],
        "env_files": [], "profiles": [], "workspace": "/src/shop", "copy": False,
        "override": f"/h/envs/{project}/{env}/override.yml",
        "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-28T00:00:00Z",
        "services": services or {}, "networks": {},
    }


BUSYBOX_WEB = "services:\n  web:\n    image: cilo-test/busybox\n"


def project_here(root: Path, monkeypatch: pytest.MonkeyPatch, compose: str = BUSYBOX_WEB) -> Path:
    """A project folder root/shop holding `compose` as compose.yaml, made the working folder."""
    proj = root / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(compose)
    monkeypatch.chdir(proj)
    return proj


def copy_project(name: str, dest: Path) -> Path:
    """A fresh copy of a test project (tests never run in the checkout's folders)."""
    target = dest / name
    shutil.copytree(PROJECTS / name, target, symlinks=True)
    return target
