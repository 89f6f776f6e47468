"""The CLI boundary with a fake engine handed in through run() (no Docker needed)."""

from __future__ import annotations

import json

import pytest

from compose_cilo.cli.main import run
from compose_cilo.state import store
from tests.conftest import sample_record
from tests.fakes import FakeEngine, envs_of


def DeadEngine() -> FakeEngine:
    return FakeEngine(unreachable="cannot reach the Docker engine (fake); start dockerd")


def test_list_all_json_through_typer(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record()
    assert run(["list", "--all", "--json"], engine_factory=FakeEngine) == 0
    (env,) = json.loads(capsys.readouterr().out)
    assert (env["project"], env["name"], env["subnet"], env["subnet_overlaps"]) == (
        "shop", "dev", "10.224.0.0/24", [])


def test_engine_down_is_a_warning_for_list(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record()
    assert run(["list", "--all"], engine_factory=DeadEngine) == 0
    out = capsys.readouterr()
    assert "shop" in out.out and "cannot check subnets for overlaps" in out.err


def test_error_boundary_exit_codes(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["status", "shop/nope"], engine_factory=FakeEngine) == 1
    assert capsys.readouterr().err.startswith("error: environment shop/nope does not exist")
    assert run(["up", "Bad"], engine_factory=FakeEngine) == 2
    assert "has uppercase letters" in capsys.readouterr().err
    assert run(["no-such-command"], engine_factory=FakeEngine) == 2
    assert run(["docker-cli-plugin-metadata"]) == 0
    assert json.loads(capsys.readouterr().out)["SchemaVersion"] == "0.1.0"


def test_ls_is_list(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record()
    assert run(["ls", "--all", "--json"], engine_factory=FakeEngine) == 0
    assert [e["name"] for e in json.loads(capsys.readouterr().out)] == ["dev"]
