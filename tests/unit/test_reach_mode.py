"""The reach mode: decided from the setting, the endpoint and the engine's OS, never by probing."""

from __future__ import annotations

import pytest

from compose_cilo.reach.mode import decide, engine_host


@pytest.mark.parametrize(("endpoint", "os_name", "mode", "host"), [
    ("unix:///var/run/docker.sock", "Debian GNU/Linux 12 (bookworm)", "direct", "127.0.0.1"),
    (None, "Ubuntu 24.04", "direct", "127.0.0.1"),
    ("unix:///Users/me/.docker/run/docker.sock", "Docker Desktop", "router", "127.0.0.1"),
    ("npipe:////./pipe/docker_engine", "Docker Desktop", "router", "127.0.0.1"),
    ("tcp://192.168.250.2:2375", "Debian GNU/Linux 12 (bookworm)", "router", "192.168.250.2"),
    ("tcp://localhost:2375", "Debian GNU/Linux 12 (bookworm)", "router", "127.0.0.1"),
    ("ssh://dev@build-box:2222", "Ubuntu 22.04", "router", "build-box"),
    ("ssh://build-box", "Ubuntu 22.04", "router", "build-box"),
])
def test_auto_follows_the_endpoint_and_the_engine_kind(endpoint: str | None, os_name: str, mode: str,
                                                      host: str) -> None:
    reach = decide("auto", endpoint, os_name)
    assert (reach.mode, reach.host) == (mode, host)
    assert reach.reason.startswith("auto: ")


def test_the_setting_wins_over_the_endpoint() -> None:
    assert decide("router", "unix:///var/run/docker.sock", "Debian").mode == "router"
    assert decide("direct", "tcp://10.0.0.5:2375", "Debian") == ("direct", "reach is set to direct", "10.0.0.5")


def test_reasons_name_what_decided() -> None:
    assert "Docker Desktop" in decide("auto", "unix:///x.sock", "Docker Desktop").reason
    assert "tcp:// engine" in decide("auto", "tcp://h:1", "Debian").reason
    assert engine_host("ssh://u@[fd00::1]:22") == "fd00::1"
