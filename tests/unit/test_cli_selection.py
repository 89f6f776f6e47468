"""The environment a command acts on when none is named: --env, CILO_ENV, `docker cilo use`
(issue 13, "the copy chosen once"), through the CLI with the FakeEngine."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from compose_cilo import selection
from compose_cilo.cli.main import run
from compose_cilo.state import store
from tests.conftest import project_here, sample_record
from tests.fakes import FakeEngine, envs_of


@pytest.fixture
def shop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    proj = project_here(tmp_path, monkeypatch)
    monkeypatch.delenv("CILO_ENV", raising=False)
    with store.mutate() as st:
        for env in ("dev", "qa", "feat-a"):
            envs_of(st)[f"shop/{env}"] = {
                **sample_record(env=env), "project_dir": str(proj), "compose_files": [str(proj / "compose.yaml")],
                "workspace": f"/work/{env}"}
    return proj


def cilo(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = run(list(args), engine_factory=FakeEngine)
    out, err = capsys.readouterr()
    return code, out.strip(), err.strip()


def test_a_named_environment_needs_no_selection(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cilo(capsys, "path", "qa") == (0, "/work/qa", "")


def test_without_a_name_or_a_selection_the_error_says_how_to_select(shop: Path,
                                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cilo(capsys, "path")
    assert code == 2 and out == ""
    assert "docker cilo path needs an environment" in err and "CILO_ENV=ENV" in err
    assert "docker cilo use ENV" in err


def test_env_option_then_cilo_env_then_use(shop: Path, capsys: pytest.CaptureFixture[str],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    assert cilo(capsys, "use", "qa")[0] == 0
    assert selection.remembered(str(shop)) == "qa"
    assert cilo(capsys, "path")[1] == "/work/qa"
    assert cilo(capsys, "use")[1] == f"qa (from docker cilo use (remembered for {shop}))"
    monkeypatch.setenv("CILO_ENV", "dev")
    assert cilo(capsys, "path")[1] == "/work/dev"
    assert cilo(capsys, "use")[1] == "dev (from CILO_ENV)"
    assert cilo(capsys, "--env", "feat-a", "path")[1] == "/work/feat-a"
    assert cilo(capsys, "--env", "feat-a", "status", "--json")[0] == 0
    code, _, err = cilo(capsys, "--env", "qa", "path", "dev")
    assert code == 2 and "--env qa and the environment dev disagree" in err


def test_use_clear_forgets_and_use_validates(shop: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cilo(capsys, "use", "qa")
    assert cilo(capsys, "use", "--clear")[1] == f"forgot the environment of {shop}"
    assert selection.remembered(str(shop)) is None
    assert cilo(capsys, "use")[1].startswith("no environment selected")
    code, _, err = cilo(capsys, "use", "Bad")
    assert code == 2 and 'environment name "Bad" has uppercase letters' in err
    code, _, err = cilo(capsys, "use", "qa", "--clear")
    assert code == 2 and "give one of: ENV, --auto or --clear" in err
    assert selection.remembered(str(shop)) is None


def test_a_bad_cilo_env_is_refused_by_its_name(shop: Path, capsys: pytest.CaptureFixture[str],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENV", "Not_A_Label")
    code, out, err = cilo(capsys, "status")
    assert code == 2 and out == "" and 'CILO_ENV="Not_A_Label"' in err


def test_auto_follows_the_git_branch_of_the_worktree(shop: Path, capsys: pytest.CaptureFixture[str],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(shop), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "feat/a")
    git("-c", "user.email=t@example.invalid", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "x")
    monkeypatch.setenv("CILO_ENV", "auto")
    assert cilo(capsys, "path")[1] == "/work/feat-a"
    monkeypatch.delenv("CILO_ENV")
    cilo(capsys, "use", "--auto")
    assert selection.remembered(str(shop)) == selection.AUTO
    assert cilo(capsys, "path")[1] == "/work/feat-a"


def test_destroy_acts_on_the_selected_environment(shop: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENV", "qa")
    code, out, err = cilo(capsys, "destroy", "--force")
    assert code == 0, err
    assert out == "environment shop/qa destroyed"
    assert sorted(envs_of(store.read_state())) == ["shop/dev", "shop/feat-a"]


def test_an_empty_name_is_a_bad_name_not_a_missing_one(shop: Path, capsys: pytest.CaptureFixture[str],
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_ENV", "qa")  # a selection must not stand in for an empty name
    for args in (("path", ""), ("status", ""), ("use", ""), ("with", "", "true")):
        code, out, err = cilo(capsys, *args)
        assert code == 2 and out == "" and 'environment name "" is empty' in err, args
    assert selection.remembered(str(shop)) is None
