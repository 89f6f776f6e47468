"""compose's own commands against a copy (issue 13), through the CLI with the FakeEngine:
what compose is asked (tests/fake_compose.py logs it), what cilo records around it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from compose_cilo import lifecycle
from compose_cilo.cli.main import run
from compose_cilo.queries import Context
from compose_cilo.state import store
from tests.conftest import project_here
from tests.fakes import FakeEngine, envs_of

COMPOSE = {"services": {"web": {"image": "cilo-test/busybox", "ports": ["8080:80"]},
                        "db": {"image": "cilo-test/busybox"}}}


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    proj = project_here(tmp_path, monkeypatch, yaml.safe_dump(COMPOSE))
    monkeypatch.setenv("FAKE_COMPOSE_LOG", str(tmp_path / "compose.log"))
    return proj


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


def cilo(capsys: pytest.CaptureFixture[str], engine: FakeEngine, *args: str) -> tuple[int, str, str]:
    code = run(list(args), engine_factory=lambda: engine)
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def asked(shop: Path) -> list[list[str]]:
    """compose's arguments after the project options cilo adds, one list per run."""
    log = shop.parent / "compose.log"
    runs = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
    out = []
    for argv in runs:
        i = 0
        while i < len(argv) and argv[i] in ("--project-directory", "--file", "--project-name", "--env-file"):
            i += 2
        out.append(argv[i:])
    return out


def envs() -> dict[str, Any]:
    return envs_of(store.read_state())


def test_a_selected_up_is_composes_up_exactly_after_making_the_copy(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENV", "dev")
    code, out, _ = cilo(capsys, engine, "--ansi", "never", "up", "-d", "--wait", "--build", "web")
    assert code == 0 and out == ""  # compose's output only
    assert asked(shop) == [["--ansi", "never", "up", "-d", "--wait", "--build", "web"]]
    assert "shop/dev" in envs() and "cilo_shop_dev" in engine.networks_


def test_up_env_named_first_starts_in_the_background_and_prints_the_status(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cilo(capsys, engine, "up", "dev", "--recreate", "--build")
    assert code == 0, out
    assert asked(shop) == [["up", "--detach", "--remove-orphans", "--force-recreate", "--build"]]
    assert out.startswith("environment shop/dev:")


def test_composes_exit_status_is_the_commands(shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assert cilo(capsys, engine, "create", "dev")[0] == 0
    monkeypatch.setenv("FAKE_COMPOSE_EXIT", "3")
    assert cilo(capsys, engine, "--env", "dev", "ps", "--format", "json")[0] == 3
    assert asked(shop) == [["ps", "--format", "json"]]
    assert "shop/dev" in envs()  # a failed command of an existing copy removes nothing


def test_a_failed_up_that_made_nothing_leaves_nothing(shop: Path, engine: FakeEngine,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAKE_COMPOSE_EXIT", "1")  # as compose fails `up nosuchservice`
    assert cilo(capsys, engine, "--env", "dev", "up", "-d", "nosuchservice")[0] == 1
    assert envs() == {} and "cilo_shop_dev" not in engine.networks_


def test_create_named_first_alone_makes_the_copy_without_containers(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cilo(capsys, engine, "create", "dev")
    assert (code, asked(shop)) == (0, [])
    assert out == f"environment shop/dev created on {envs()['shop/dev']['subnet']}"
    assert cilo(capsys, engine, "--env", "dev", "create", "--no-build")[0] == 0
    assert asked(shop) == [["create", "--no-build"]]


def test_a_verb_without_a_selection_takes_env_first_or_says_how_to_select(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cilo(capsys, engine, "ps")
    assert code == 2 and "docker cilo ps needs an environment" in err and "CILO_ENV=ENV" in err
    code, _, err = cilo(capsys, engine, "logs", "-f", "dev")
    assert code == 2 and "name it right after the command: docker cilo logs ENV -f dev" in err
    assert cilo(capsys, engine, "create", "dev")[0] == 0
    assert cilo(capsys, engine, "logs", "dev", "-f", "--tail", "5", "web")[0] == 0
    assert cilo(capsys, engine, "exec", "dev", "-T", "web", "sh", "-c", "echo -h --help")[0] == 0
    assert asked(shop) == [["logs", "-f", "--tail", "5", "web"], ["exec", "-T", "web", "sh", "-c", "echo -h --help"]]


def test_down_of_a_copy_never_made_is_nothing_to_do_as_for_compose(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cilo(capsys, engine, "--env", "dev", "down", "-v")
    assert code == 0 and "environment shop/dev does not exist: nothing to down" in err
    assert asked(shop) == [] and envs() == {}
    code, _, err = cilo(capsys, engine, "--env", "dev", "ps")
    assert code == 1 and "does not exist" in err  # reading a copy that is not there is an error


def test_down_keeps_the_record_and_records_no_containers(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Context(engine, cwd=shop, say=lambda m: None, routes=lambda: [])
    before = lifecycle.up(ctx, "dev")
    engine.containers_.clear()  # what compose's down does to the copy's containers
    assert cilo(capsys, engine, "down", "dev", "-v")[0] == 0
    assert asked(shop) == [["down", "-v"]]
    after = envs()["shop/dev"]
    assert (after["subnet"], after["status"]) == (before["subnet"], "created")
    assert {s["status"] for s in after["services"].values()} == {"not created"}
    assert "cilo_shop_dev" in engine.networks_  # its network stays for the next up


def test_port_answers_the_containers_address_where_your_stack_publishes(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    ctx = Context(engine, cwd=shop, say=lambda m: None, routes=lambda: [])
    rec = lifecycle.up(ctx, "dev")
    web = rec["services"]["web"]["ip"]
    assert cilo(capsys, engine, "port", "dev", "web", "80") == (0, f"{web}:80", "")
    assert cilo(capsys, engine, "port", "dev", "--index=1", "--protocol", "tcp", "web", "80")[1] == f"{web}:80"
    assert asked(shop) == []
    # not published in your stack: compose answers (and says it is not), as for your stack
    cilo(capsys, engine, "port", "dev", "web", "81")
    cilo(capsys, engine, "port", "dev", "db", "80")
    assert asked(shop) == [["port", "web", "81"], ["port", "db", "80"]]


def test_p_with_a_selection_is_refused_and_changes_nothing(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENV", "dev")
    code, _, err = cilo(capsys, engine, "-p", "other", "up", "-d")
    assert code == 2 and "-p other names a compose project" in err and "drop -p" in err
    assert envs() == {} and asked(shop) == []


def test_publish_is_refused_with_the_reason(shop: Path, engine: FakeEngine,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cilo(capsys, engine, "publish", "dev", "repo/app:1")
    assert code == 2 and "docker cilo publish is refused" in err and "docker compose publish" in err
    assert asked(shop) == []


def test_with_runs_a_host_command_with_the_copys_variables(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    out = shop.parent / "seen"
    script = f'echo "$CILO_ENV $CILO_PROJECT $PWD $1" > {out}; exit 4'
    assert cilo(capsys, engine, "with", "dev", "--", "sh", "-c", script, "sh", "-h")[0] == 4
    assert out.read_text().split() == ["dev", "shop", str(shop), "-h"]
    monkeypatch.setenv("CILO_ENV", "dev")
    assert cilo(capsys, engine, "with", "--", "sh", "-c", f"echo $CILO_ENV > {out}")[0] == 0
    assert out.read_text() == "dev\n"
    code, _, err = cilo(capsys, engine, "with", "dev")
    assert code == 2 and "docker cilo with needs a command" in err


def test_help_of_a_compose_verb_says_what_cilo_adds(shop: Path, engine: FakeEngine,
                                                    capsys: pytest.CaptureFixture[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(shop))  # no docker: compose's part of the help fails, cilo's is shown
    code, out, _ = cilo(capsys, engine, "up", "--help")
    assert "docker cilo up: docker compose up against a copy" in out
    assert "--copy" in out and "starts the copy in the background" in out


def test_compose_env_run_gets_the_run_layer_and_an_existing_copy_only(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cilo(capsys, engine, "compose", "dev", "run", "--rm", "web", "true")
    assert code == 1 and "dev" in err and envs() == {}  # compose ENV never makes a copy
    assert cilo(capsys, engine, "create", "dev")[0] == 0
    assert cilo(capsys, engine, "compose", "dev", "run", "--rm", "web", "true")[0] == 0
    log = [json.loads(line) for line in (shop.parent / "compose.log").read_text().splitlines()]
    files = [log[-1][i + 1] for i, a in enumerate(log[-1]) if a == "--file"]
    assert files[-1].endswith("/run.yml") and files[-2].endswith("/override.yml")
    assert asked(shop)[-1] == ["run", "--rm", "web", "true"]
    assert cilo(capsys, engine, "compose", "dev", "--ansi", "never", "ps")[0] == 0  # raw: as given
    assert asked(shop)[-1] == ["--ansi", "never", "ps"]
