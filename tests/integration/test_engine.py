"""The engine seam itself, on the real engine, through both of its implementations.

"api" (SocketEngine) speaks to the local socket directly; "cli" (WhalesEngine) goes
through python-on-whales and the docker CLI (what tcp/ssh/TLS engines use). Both must
return the same small types and raise the same typed errors.
"""

from __future__ import annotations

import json
import subprocess

import pytest

from compose_cilo.engine.api import EngineAPI, NetworkSpec
from compose_cilo.engine.client import connect
from compose_cilo.engine.options import DockerOptions
from compose_cilo.engine.socketapi import resolve_host, socket_path
from compose_cilo.engine.socketengine import SocketEngine
from compose_cilo.engine.whalesengine import WhalesEngine
from compose_cilo.errors import Conflict, EngineError, EngineUnreachable, SubnetConflict

pytestmark = pytest.mark.engine


@pytest.fixture(params=["api", "cli"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch,
           engine_available: None) -> EngineAPI:
    monkeypatch.setenv("CILO_ENGINE_API", request.param)
    eng = connect(DockerOptions())
    assert isinstance(eng, SocketEngine if request.param == "api" else WhalesEngine)
    return eng


def test_network_lifecycle_and_labels(engine: EngineAPI, unique: str, test_image: str) -> None:
    name = f"cilo_seam_{unique}"
    labels = {"cilo": "true", "cilo.project": f"seam{unique}", "cilo.environment": "e"}
    engine.create_network(NetworkSpec(name, "10.251.7.0/24", "10.251.7.1", "10.251.7.128/25", labels))
    try:
        found = engine.networks({"cilo.project": f"seam{unique}"})
        assert [(n.name, n.subnets, n.labels) for n in found] == [(name, ("10.251.7.0/24",), labels)]
        assert name in {n.name for n in engine.networks()}
        with pytest.raises(EngineError, match=f"creating docker network {name}"):
            engine.create_network(NetworkSpec(name + "b", "10.251.7.0/24", "10.251.7.1",
                                              "10.251.7.128/25", labels))
        # a container on it: state, service label and address come back
        cid = subprocess.run(
            ["docker", "run", "-d", "--network", name, "--label", f"cilo.project=seam{unique}",
             "--label", "com.docker.compose.service=web", test_image, "sleep", "60"],
            check=True, capture_output=True, text=True).stdout.strip()
        try:
            (c,) = engine.containers({"cilo.project": f"seam{unique}"})
            assert c.id == cid and c.service == "web" and c.state == "running"
            assert c.addresses[name].startswith("10.251.7.")
            ip = int(c.addresses[name].rsplit(".", 1)[1])
            assert ip >= 128, "docker's own allocations must come from the upper half"
        finally:
            engine.remove_containers([cid])
        assert engine.containers({"cilo.project": f"seam{unique}"}) == []
    finally:
        engine.remove_networks([name])
    assert engine.networks({"cilo.project": f"seam{unique}"}) == []


def test_network_flags_and_options_reach_the_engine(engine: EngineAPI, unique: str) -> None:
    """The user's driver flags and options are what cilo creates a copy's network with."""
    name = f"cilo_seamflags_{unique}"
    spec = NetworkSpec(name, "10.251.9.0/24", "10.251.9.1", "10.251.9.128/25",
                       {"cilo": "true", "cilo.project": f"seamf{unique}"},
                       options={"com.docker.network.driver.mtu": "1400"}, internal=True,
                       attachable=True, ipv6_subnet="fd63:696c:afb:900::/64")
    engine.create_network(spec)
    try:
        got = json.loads(subprocess.run(["docker", "network", "inspect", name], check=True,
                                        capture_output=True, text=True).stdout)[0]
        assert got["Internal"] and got["Attachable"] and got["EnableIPv6"]
        assert got["Options"]["com.docker.network.driver.mtu"] == "1400"
        assert {c["Subnet"] for c in got["IPAM"]["Config"]} == {"10.251.9.0/24", "fd63:696c:afb:900::/64"}
    finally:
        engine.remove_networks([name])


def test_volumes(engine: EngineAPI, unique: str) -> None:
    name = f"cilo_seam_vol_{unique}"
    subprocess.run(["docker", "volume", "create", "--label", f"cilo.project=seam{unique}", name],
                   check=True, capture_output=True)
    assert [v.name for v in engine.volumes({"cilo.project": f"seam{unique}"})] == [name]
    engine.remove_volumes([name])
    assert engine.volumes({"cilo.project": f"seam{unique}"}) == []


def test_unreachable_engine_is_a_clear_error(engine_available: None, tmp_path) -> None:
    eng = connect(DockerOptions(host=f"unix://{tmp_path}/nothing.sock"))
    with pytest.raises(EngineError, match="cannot reach the Docker engine"):
        eng.networks()


def test_context_resolution(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import hashlib
    import json

    monkeypatch.delenv("DOCKER_HOST", raising=False)
    monkeypatch.delenv("DOCKER_CONTEXT", raising=False)
    meta = tmp_path / "contexts" / "meta" / hashlib.sha256(b"remote").hexdigest()
    meta.mkdir(parents=True)
    (meta / "meta.json").write_text(json.dumps({"Endpoints": {"docker": {"Host": "unix:///r.sock"}}}))
    assert resolve_host(None, "remote", str(tmp_path)) == "unix:///r.sock"
    assert resolve_host(None, "default", str(tmp_path)) == "unix:///var/run/docker.sock"
    assert resolve_host("tcp://h:2375", None, None) == "tcp://h:2375"
    assert socket_path("tcp://h:2375") is None
    (tmp_path / "config.json").write_text(json.dumps({"currentContext": "remote"}))
    assert resolve_host(None, None, str(tmp_path)) == "unix:///r.sock"


def test_removing_what_is_already_gone_is_fine(engine: EngineAPI, unique: str) -> None:
    """Two destroys racing (or a user's `docker rm`) must not fail the second one."""
    engine.remove_networks([f"cilo_gone_{unique}"])
    engine.remove_volumes([f"cilo_gone_{unique}"])
    engine.remove_containers([f"cilo_gone_{unique}"])


@pytest.mark.parametrize("api", ["api", "cli"])
def test_unreachable_engine_is_engine_unreachable(api: str, engine_available: None,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENGINE_API", api)
    eng = connect(DockerOptions(host="unix:///nonexistent.sock"))
    with pytest.raises(EngineUnreachable, match="cannot reach the Docker engine"):
        eng.networks()
    with pytest.raises(EngineUnreachable):
        eng.version()


def _free_subnet(engine: EngineAPI) -> str:
    """A /24 of 10.250.0.0/16 that no network on the engine overlaps (others share it)."""
    import ipaddress

    taken = [ipaddress.ip_network(s, strict=False) for n in engine.networks() for s in n.subnets
             if ":" not in s]
    for candidate in ipaddress.ip_network("10.250.0.0/16").subnets(new_prefix=24):
        if not any(candidate.overlaps(t) for t in taken):
            return str(candidate)
    pytest.fail("no free /24 in 10.250.0.0/16 on this engine")


def test_refusals_are_typed(engine: EngineAPI, unique: str) -> None:
    """An overlapping subnet is a SubnetConflict (the retry moves on); a taken name is
    a Conflict; neither leaves a network behind."""
    name = f"cilo_seamtyped_{unique}"
    subnet = _free_subnet(engine)
    prefix = subnet.rsplit(".", 1)[0]
    labels = {"cilo.project": f"seamt{unique}"}

    def spec(net: str, sub: str) -> NetworkSpec:
        base = sub.rsplit(".", 1)[0]
        return NetworkSpec(net, sub, f"{base}.1", f"{base}.128/25", labels)

    engine.create_network(spec(name, subnet))
    try:
        with pytest.raises(SubnetConflict, match=f"creating docker network {name}b"):
            engine.create_network(spec(name + "b", subnet))
        other = _free_subnet(engine)
        assert not other.startswith(prefix + ".")
        with pytest.raises(Conflict, match=f"creating docker network {name}"):
            engine.create_network(spec(name, other))
    finally:
        engine.remove_networks([name, name + "b"])
    assert engine.networks(labels) == []
