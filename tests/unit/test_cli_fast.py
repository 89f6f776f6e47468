"""The hot paths (completion, `list`, `version`) answer from the command table."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from compose_cilo.cli import commands, fast
from compose_cilo.cli.main import main, run
from compose_cilo.state import store
from tests.conftest import sample_record
from tests.fakes import FakeEngine, envs_of


def completion(capsys: pytest.CaptureFixture[str], *words: str) -> list[str]:
    assert fast.complete(list(words)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == ":4"  # cobra: no file completion
    return lines[:-1]


def test_commands_are_offered_in_table_order_without_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    assert completion(capsys, "cilo", "") == commands.offered()
    assert "ls" not in commands.offered()
    assert completion(capsys, "cilo", "d") == ["down", "destroy", "doctor", "dns"]


def test_env_names_after_a_command_that_takes_env(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record()
    for command in commands.COMMANDS:
        wanted = ["dev"] if command.takes_env or command.compose_verb else []
        assert completion(capsys, "cilo", command.name, "") == wanted, command
    assert completion(capsys, "cilo", "--debug", "exec", "d") == ["dev"]
    assert completion(capsys, "ls", "") == []


@pytest.mark.parametrize("argv", [["--version"], ["-v"], ["version"], ["list"], ["ls", "-a"],
                                  ["list", "--all", "--json"], ["__complete", "cilo", ""],
                                  ["--context", "nope", "cilo", "--version"]], ids=" ".join)
def test_hot_paths_do_not_import_typer(argv: list[str]) -> None:
    code = ("import sys; from compose_cilo.cli.main import main; code = main(sys.argv[1:]); "
            "heavy = [m for m in ('typer', 'pydantic', 'rich') if m in sys.modules]; "
            "print(code, heavy, file=sys.stderr)")
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}
    out = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                         env=env, check=True)
    assert out.stderr.splitlines()[-1] == "0 []", out.stderr


def test_the_same_list_from_the_hot_path_and_from_typer(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record()
    shown = []
    for entry in (main, run):
        assert entry(["list", "--all", "--json"], engine_factory=FakeEngine) == 0
        shown.append(capsys.readouterr())
    assert shown[0] == shown[1] and json.loads(shown[0].out)[0]["name"] == "dev"


def test_compose_commands_complete_the_services_of_the_copy(capsys: pytest.CaptureFixture[str],
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    svc = {"ip": None, "container": None, "status": "not created", "ingress": False, "hostnames": [],
           "replicas": []}
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = sample_record(services={"web": svc, "db": svc})
        envs_of(st)["shop/qa"] = sample_record(env="qa", subnet="10.224.1.0/24", services={"api": svc})
    assert completion(capsys, "cilo", "ps", "dev", "") == ["db", "web"]  # ENV named first
    assert completion(capsys, "cilo", "--env", "qa", "logs", "") == ["api"]  # compose's logs of the copy
    assert completion(capsys, "cilo", "exec", "") == ["dev", "qa"]  # nothing selected: ENV first
    assert completion(capsys, "cilo", "--env", "qa", "up", "-d", "") == ["api"]
    assert completion(capsys, "cilo", "--env", "qa", "restart", "") == ["api"]
    monkeypatch.setenv("CILO_ENV", "dev")
    assert completion(capsys, "cilo", "stop", "w") == ["web"]
    assert completion(capsys, "cilo", "stop", "web", "") == ["db", "web"]

