"""A private place to benchmark in: its own CILO_HOME, DNS port and 3-service project.

Nothing here touches the user's real cilo state: every docker/cilo call gets an
environment with the user's CILO_* and COMPOSE_* variables removed and ours set, the
project has a unique name, and `close()` destroys what the run made.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's package
from compose_cilo.dns.process import free_port  # noqa: E402 - the same helper cilo uses

IMAGE = "cilo-test/busybox"
CALL_TIMEOUT = 600  # seconds; no single call should come near this

COMPOSE_FILE = """\
# Written by compose-cilo's bench/run: a small project that looks real.
name: {project}
services:
  web:
    image: {image}
    init: true
    container_name: {project}-web
    command: ["httpd", "-f", "-p", "80", "-h", "/"]
    ports: ["127.0.0.1:{host_port}:80"]
  api:
    image: {image}
    init: true
    command: ["sleep", "86400"]
  worker:
    image: {image}
    init: true
    command: ["sleep", "86400"]
"""


class BenchError(Exception):
    """A benchmark cannot run here; the message says why and what to do."""


def private_env(home: Path, dns_port: int) -> dict[str, str]:
    """os.environ without the user's cilo/compose settings, pointing cilo at `home`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("CILO_") and k not in ("COMPOSE_FILE", "COMPOSE_PROFILES",
                                                      "COMPOSE_PROJECT_NAME")}
    env.update(CILO_HOME=str(home), CILO_DNS_PORT=str(dns_port),
               CILO_DNS_UPSTREAMS="")  # "" = no upstream: nothing is ever forwarded
    return env


class Sandbox:
    """Temp CILO_HOME + temp project. Use as a context manager; it always cleans up."""

    def __init__(self) -> None:
        self.uid = uuid.uuid4().hex[:6]
        self.project_name = f"cilobench-{self.uid}"
        self.root = Path(tempfile.mkdtemp(prefix="cilo-bench-"))
        self.home = self.root / "home"
        self.project = self.root / "project"
        self.home.mkdir(mode=0o700)
        self.project.mkdir()
        self.dns_port = free_port()
        self.host_port = free_port()
        self.env = private_env(self.home, self.dns_port)
        (self.project / "compose.yaml").write_text(COMPOSE_FILE.format(
            project=self.project_name, image=IMAGE, host_port=self.host_port))

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def name(self, prefix: str) -> str:
        """A unique environment name (a DNS label)."""
        return f"{prefix}-{self.uid}"

    def run(self, *argv: str, check: bool = True, timeout: float = CALL_TIMEOUT
            ) -> subprocess.CompletedProcess[str]:
        """Run argv in the project folder with the private environment."""
        proc = subprocess.run(list(argv), cwd=self.project, env=self.env, text=True,
                              capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check and proc.returncode != 0:
            raise BenchError(f"`{' '.join(argv)}` failed (exit {proc.returncode}): "
                             f"{last_line(proc.stderr or proc.stdout)}")
        return proc

    def cilo(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self.run("docker", "cilo", *args, check=check)

    def close(self) -> None:
        """Destroy every environment, the compose baseline, cilo's dnsmasq; then the files."""
        problems: list[str] = []
        steps = [
            ("docker", "cilo", "destroy", "--all", "--force"),
            ("docker", "compose", "down", "-v", "--remove-orphans", "-t", "0"),
            ("docker", "cilo", "dns", "stop"),
        ]
        for argv in steps:
            try:
                proc = self.run(*argv, check=False)
            except (OSError, subprocess.TimeoutExpired) as e:
                problems.append(f"`{' '.join(argv)}`: {e}")
                continue
            if proc.returncode != 0:
                problems.append(f"`{' '.join(argv)}` (exit {proc.returncode}): "
                                f"{last_line(proc.stderr or proc.stdout)}")
        problems += self._sweep_leftovers()
        if problems:
            print(f"bench: cleanup problems (files kept in {self.root}):", *problems, sep="\n  ")
        else:
            shutil.rmtree(self.root, ignore_errors=True)

    def _sweep_leftovers(self) -> list[str]:
        """Remove containers/networks the run's project still has after destroy (and say so)."""
        found: list[str] = []
        label = f"label=cilo.project={self.project_name}"
        for kind, ls, rm in (("container", ["ps", "-aq"], ["rm", "-f"]),
                             ("network", ["network", "ls", "-q"], ["network", "rm"])):
            ids = self.run("docker", *ls, "--filter", label, check=False).stdout.split()
            if ids:
                found.append(f"{len(ids)} {kind}(s) labelled {label} left after destroy --all; removed")
                self.run("docker", *rm, *ids, check=False)
        return found


def last_line(text: str) -> str:
    lines = [ln for ln in text.strip().splitlines() if ln.strip()]
    return lines[-1].strip() if lines else "(no output)"


def preflight() -> None:
    """Every tool the suite needs answers, and the local test image exists."""
    need = {
        "docker": "install Docker (./install.sh does it on Debian/Ubuntu)",
        "hyperfine": "apt-get install -y hyperfine",
    }
    for tool, fix in need.items():
        if not shutil.which(tool):
            raise BenchError(f"{tool} not found on PATH; {fix}")
    checks = [
        (["docker", "info", "--format", "{{.ServerVersion}}"], "the Docker engine does not answer; start dockerd"),
        (["docker", "compose", "version"], "docker compose v2 does not answer; run ./install.sh --dev"),
        (["docker", "cilo", "--version"], "docker cilo does not answer; run ./install.sh --dev"),
    ]
    for argv, fix in checks:
        proc = subprocess.run(argv, capture_output=True, text=True, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise BenchError(f"`{' '.join(argv)}` failed: {last_line(proc.stderr)}; {fix}")
    if not (shutil.which("dnsmasq") or os.access("/usr/sbin/dnsmasq", os.X_OK)):
        raise BenchError("dnsmasq not found; apt-get install -y dnsmasq-base (./install.sh does it)")
    ensure_image()


def ensure_image() -> None:
    """Build the 1 MB busybox image locally when it is missing (there is no registry)."""
    if subprocess.run(["docker", "image", "inspect", IMAGE], capture_output=True).returncode == 0:
        return
    busybox = shutil.which("busybox")
    if not busybox:
        raise BenchError(f"image {IMAGE} is missing and busybox is not installed to build it; "
                         "apt-get install -y busybox-static")
    print(f"bench: building {IMAGE} from {busybox}")
    with tempfile.TemporaryDirectory() as ctx:
        shutil.copy(busybox, Path(ctx) / "busybox")
        (Path(ctx) / "Dockerfile").write_text(
            'FROM scratch\nCOPY busybox /bin/busybox\n'
            'RUN ["/bin/busybox","--install","-s","/bin"]\nCMD ["sh"]\n')
        proc = subprocess.run(["docker", "build", "-q", "-t", IMAGE, ctx], capture_output=True,
                              text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if proc.returncode != 0:
        raise BenchError(f"building {IMAGE} failed: {last_line(proc.stderr)}")
