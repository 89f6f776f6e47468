"""Refusals become typed errors at the seam, from either implementation; callers act on
the type (a subnet conflict moves to the next subnet), never on the message."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from python_on_whales.exceptions import DockerException, NoSuchNetwork

from compose_cilo.engine import failures, whalesengine
from compose_cilo.engine.api import NetworkSpec
from compose_cilo.engine.options import DockerOptions
from compose_cilo.engine.socketapi import APIError
from compose_cilo.engine.socketengine import SocketEngine
from compose_cilo.errors import (
    Conflict,
    EngineError,
    EngineUnreachable,
    NotFound,
    SubnetConflict,
)
from compose_cilo.network import envnet

OVERLAP = "Pool overlaps with other one on this address space"


@pytest.mark.parametrize(("status", "reason", "expected"), [
    (404, "network x not found", NotFound),
    (409, "network with name x already exists", Conflict),
    (None, "Error response from daemon: network with name x already exists", Conflict),
    (403, OVERLAP, SubnetConflict),
    (400, "invalid pool request: " + OVERLAP, SubnetConflict),
    (None, "Error response from daemon: " + OVERLAP, SubnetConflict),
    (500, "could not find an available, non-overlapping IPv4 address pool", SubnetConflict),
    (500, "something else broke", EngineError),
])
def test_refusal_is_typed(status: int | None, reason: str, expected: type) -> None:
    err = failures.refusal("creating docker network n (10.250.0.0/24)", reason, status)
    assert type(err) is expected
    assert str(err) == f"creating docker network n (10.250.0.0/24) failed: {reason}"


class FailingAPI:
    """Stands in for socketapi.DockerAPI: every request fails with `error`."""

    path = "/run/fake.sock"

    def __init__(self, error: Exception) -> None:
        self.error = error

    def request(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


def socket_engine(error: Exception) -> SocketEngine:
    eng = SocketEngine(DockerOptions(), FailingAPI.path)
    eng.api = FailingAPI(error)  # type: ignore[assignment]
    return eng


SPEC = NetworkSpec("n", "10.250.0.0/24", "10.250.0.1", "10.250.0.128/25", {})


@pytest.mark.parametrize(("error", "expected", "message"), [
    (APIError(403, OVERLAP), SubnetConflict, "creating docker network n"),
    (APIError(409, "network with name n already exists"), Conflict, "already exists"),
    (FileNotFoundError(2, "No such file or directory"), EngineUnreachable,
     "cannot reach the Docker engine at /run/fake.sock"),
    (ConnectionRefusedError(111, "Connection refused"), EngineUnreachable, "Connection refused"),
    (PermissionError(13, "Permission denied"), EngineUnreachable, "docker group"),
])
def test_socket_engine_types_its_failures(error: Exception, expected: type, message: str) -> None:
    with pytest.raises(expected, match=message):
        socket_engine(error).create_network(SPEC)


def test_socket_removal_of_what_is_gone_is_done_and_other_failures_are_not() -> None:
    socket_engine(APIError(404, "no such volume")).remove_volumes(["v"])
    with pytest.raises(EngineError, match="removing volumes v failed: busy"):
        socket_engine(APIError(409, "busy")).remove_volumes(["v"])


def _whales(error: DockerException) -> None:
    with whalesengine._typed("creating docker network n (10.250.0.0/24)"):
        raise error


def _docker_exception(kind: type[DockerException], stderr: str) -> DockerException:
    return kind(["docker", "network", "create"], 1, b"", stderr.encode())


@pytest.mark.parametrize(("kind", "stderr", "expected"), [
    (NoSuchNetwork, "Error response from daemon: network n not found", NotFound),
    (DockerException, "Cannot connect to the Docker daemon at unix:///x.sock", EngineUnreachable),
    (DockerException, "error during connect: dial tcp 10.0.0.9:2376: connect: connection refused",
     EngineUnreachable),
    (DockerException, "Error response from daemon: " + OVERLAP, SubnetConflict),
    (DockerException, "Error response from daemon: network with name n already exists", Conflict),
    (DockerException, "Error response from daemon: plugin not found", EngineError),
])
def test_whales_engine_types_its_failures(kind: type[DockerException], stderr: str,
                                          expected: type) -> None:
    with pytest.raises(expected) as caught:
        _whales(_docker_exception(kind, stderr))
    assert type(caught.value) is expected and stderr in str(caught.value)


def test_a_missing_docker_cli_says_install_docker() -> None:
    with pytest.raises(EngineError, match="docker not found; install Docker"), \
            whalesengine._typed("listing containers"):
        raise FileNotFoundError(2, "No such file or directory", "docker")


class RefusingEngine:
    """Refuses the first `refusals` subnets it is asked for with `error`."""

    def __init__(self, error: EngineError, refusals: int) -> None:
        self.error, self.refusals, self.created = error, refusals, []

    def create_network(self, spec: NetworkSpec) -> None:
        if self.refusals:
            self.refusals -= 1
            raise self.error
        self.created.append(spec.subnet)


def _next(refused: list[ipaddress.IPv4Network]) -> str:
    return str(ipaddress.IPv4Network(f"10.250.{len(refused)}.0/24"))


def _spec(subnet: str) -> NetworkSpec:
    return SPEC._replace(subnet=subnet)


def test_a_subnet_conflict_moves_to_the_next_subnet() -> None:
    engine = RefusingEngine(SubnetConflict("creating docker network n failed: taken"), 2)
    assert envnet.create_with_retry(engine, _spec, "10.250.0.0/24", _next) == "10.250.2.0/24"  # type: ignore[arg-type]
    assert engine.created == ["10.250.2.0/24"]


def test_any_other_refusal_is_not_retried() -> None:
    engine = RefusingEngine(EngineError("creating docker network n failed: pool and address"), 1)
    with pytest.raises(EngineError, match="pool and address"):
        envnet.create_with_retry(engine, _spec, "10.250.0.0/24", _next)  # type: ignore[arg-type]
    assert engine.created == []


@pytest.mark.parametrize(("stderr", "reason", "expected"), [
    ("Cannot connect to the Docker daemon at unix:///x.sock. Is the docker daemon running?",
     "Cannot connect to the Docker daemon at unix:///x.sock.", EngineUnreachable),
    ("error during connect: Get http://h:2375/v1.41/info", "error during connect: Get ...", EngineUnreachable),
    ("Error response from daemon: network with name x already exists", "network with name x already exists",
     Conflict),
    ("yaml: line 1: did not find expected node", "yaml: line 1: did not find expected node", EngineError),
    ("Error response from daemon: Could not find the file /data/x in container r",  # docker cp
     "Error response from daemon: Could not find the file /data/x in container r", NotFound),
])
def test_compose_and_cli_failures_are_typed_from_what_they_print(stderr: str, reason: str,
                                                                 expected: type) -> None:
    err = failures.from_cli("docker compose config of compose.yaml", stderr, reason)
    assert type(err) is expected
    assert reason in str(err)


def test_the_compose_runner_raises_typed_errors(tmp_path: Any) -> None:
    from compose_cilo.engine.compose import ComposeRunner

    script = tmp_path / "fake-docker"
    script.write_text("#!/bin/sh\necho 'Cannot connect to the Docker daemon at unix:///x.sock.' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(EngineUnreachable, match="cannot reach the Docker engine"):
        ComposeRunner(DockerOptions()).run([str(script), "compose", "version"], "docker compose version",
                                           capture=True)
