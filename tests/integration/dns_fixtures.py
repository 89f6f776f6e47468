"""Fixtures for tests that run a real dnsmasq, and the policy that goes with them.

Policy: when CI is set, a missing dnsmasq FAILS these tests (a skipped suite proves
nothing); locally they skip with the reason. Every test gets its own CILO_HOME and a free
port on 127.0.0.1, no upstream resolver (CILO_DNS_UPSTREAMS=""), and its dnsmasq is
stopped in teardown, by its own pid only.
"""

from __future__ import annotations

import copy
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from compose_cilo import config
from compose_cilo.dns import dnsmasq, query
from compose_cilo.dns.process import free_port


def require_dnsmasq() -> str:
    binary = dnsmasq.find_binary()
    if binary:
        return binary
    reason = "dnsmasq is not installed (apt-get install dnsmasq-base)"
    if os.environ.get("CI"):
        pytest.fail(f"dnsmasq is required when CI is set: {reason}")
    pytest.skip(reason)


@dataclass
class DnsEnv:
    home: Path
    port: int
    binary: str

    def query(self, name: str, qtype: str = "A", timeout: float = 1.0) -> query.DnsAnswer:
        return query.query(name, port=self.port, qtype=qtype, timeout=timeout)

    def ips(self, name: str) -> list[str]:
        return sorted(self.query(name).addresses)


@pytest.fixture
def dns_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[DnsEnv]:
    binary = require_dnsmasq()
    home = tmp_path / "cilo-home"
    port = free_port()
    monkeypatch.setenv("CILO_HOME", str(home))
    monkeypatch.setenv("CILO_DNS_PORT", str(port))
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "")  # never forward anything off this machine
    monkeypatch.setenv("CILO_ROOT", str(tmp_path / "fake-root"))
    for var in ("CILO_DNS_CONFIG", "CILO_DNSMASQ", "CILO_DNS_SUFFIX", "CILO_STATE_PATH"):
        monkeypatch.delenv(var, raising=False)
    config.clear_cache()
    try:
        yield DnsEnv(home=home, port=port, binary=binary)
    finally:
        dnsmasq.stop()
        config.clear_cache()


# ---------------------------------------------------------------- state documents


def service(ip: str | None, *, ingress: bool = False, hostnames: tuple[str, ...] = (),
            replicas: list[str] | None = None, status: str = "running") -> dict[str, Any]:
    ips = replicas if replicas is not None else ([ip] if ip else [])
    return {
        "ip": ip if ip else (ips[0] if ips else None),
        "container": f"c-{ips[0]}" if ips else None,
        "status": status,
        "ingress": ingress,
        "hostnames": list(hostnames),
        "replicas": [{"container": f"c-{i}", "ip": i, "status": status} for i in ips],
    }


def environment(project: str, name: str, subnet: str, services: dict[str, Any],
                status: str = "running") -> dict[str, Any]:
    return {
        "name": name, "project": project, "compose_project": f"cilo_{project}_{name}",
        "status": status, "subnet": subnet, "network": f"cilo_{project}_{name}",
        "project_dir": f"/src/{project}", "compose_files": [f"/src/{project}/compose.yaml"],
        "env_files": [], "profiles": [], "workspace": f"/src/{project}", "copy": False,
        "override": f"/home/u/.cilo/envs/{project}/{name}/override.yml",
        "created_at": "2024-01-01T00:00:00Z", "updated_at": "2024-01-01T00:00:00Z",
        "services": services,
        "networks": {},
    }


def state_doc(envs: dict[str, dict[str, Any]]) -> dict[str, Any]:
    return {"version": 5, "hosts": {"local": {"id": "local", "provider": "docker",
                                              "environments": copy.deepcopy(envs)}}}


def envs_of(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return doc["hosts"]["local"]["environments"]


def timed(fn: Any, *args: Any, **kw: Any) -> tuple[Any, float]:
    t = time.monotonic()
    out = fn(*args, **kw)
    return out, time.monotonic() - t
