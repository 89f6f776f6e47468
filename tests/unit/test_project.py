"""Finding the compose files exactly as compose does."""

from __future__ import annotations

from pathlib import Path

import pytest

from compose_cilo.errors import CiloError
from compose_cilo.project import ComposeOptions, dotenv_files, model_from_config, read_dotenv, resolve_target


def _touch(path: Path, text: str = "services: {}\n") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_default_file_and_its_override(tmp_path: Path) -> None:
    _touch(tmp_path / "docker-compose.yml")
    _touch(tmp_path / "docker-compose.override.yml")
    t = resolve_target(ComposeOptions(), tmp_path)
    assert t.files == (str(tmp_path / "docker-compose.yml"), str(tmp_path / "docker-compose.override.yml"))
    assert t.project_dir == str(tmp_path)


def test_compose_yaml_wins_and_first_override_only(tmp_path: Path) -> None:
    for n in ("compose.yaml", "docker-compose.yml", "compose.override.yaml", "docker-compose.override.yml"):
        _touch(tmp_path / n)
    t = resolve_target(ComposeOptions(), tmp_path)
    assert [Path(f).name for f in t.files] == ["compose.yaml", "compose.override.yaml"]


def test_found_in_a_parent_folder(tmp_path: Path) -> None:
    _touch(tmp_path / "compose.yml")
    sub = tmp_path / "src" / "deep"
    sub.mkdir(parents=True)
    t = resolve_target(ComposeOptions(), sub)
    assert t.files == (str(tmp_path / "compose.yml"),) and t.project_dir == str(tmp_path)


def test_explicit_files_turn_auto_loading_off(tmp_path: Path) -> None:
    _touch(tmp_path / "compose.yaml")
    _touch(tmp_path / "compose.override.yaml")
    _touch(tmp_path / "ci" / "extra.yml")
    t = resolve_target(ComposeOptions(files=("compose.yaml", "ci/extra.yml")), tmp_path)
    assert t.files == (str(tmp_path / "compose.yaml"), str(tmp_path / "ci" / "extra.yml"))


def test_compose_file_variable_and_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path / "a.yml")
    _touch(tmp_path / "b.yml")
    monkeypatch.setenv("COMPOSE_FILE", "a.yml:b.yml")
    assert [Path(f).name for f in resolve_target(ComposeOptions(), tmp_path).files] == ["a.yml", "b.yml"]
    monkeypatch.delenv("COMPOSE_FILE")
    _touch(tmp_path / ".env", "# settings\nCOMPOSE_FILE=b.yml\n")
    assert [Path(f).name for f in resolve_target(ComposeOptions(), tmp_path).files] == ["b.yml"]


def test_profiles_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _touch(tmp_path / "compose.yaml")
    monkeypatch.setenv("COMPOSE_PROFILES", "full, debug")
    assert resolve_target(ComposeOptions(), tmp_path).profiles == ("full", "debug")
    assert resolve_target(ComposeOptions(profiles=("x",)), tmp_path).profiles == ("x",)


def test_missing_files_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(CiloError, match="no compose file found in .*pass -f FILE"):
        resolve_target(ComposeOptions(), tmp_path)
    with pytest.raises(CiloError, match="compose file .*nope.yml not found"):
        resolve_target(ComposeOptions(files=("nope.yml",)), tmp_path)
    with pytest.raises(CiloError, match="env file .*missing.env not found"):
        resolve_target(ComposeOptions(env_files=("missing.env",)), tmp_path)


def test_dotenv_parsing(tmp_path: Path) -> None:
    env = _touch(tmp_path / ".env", 'A=1\nexport B="two"\n# C=3\nD=\'four\'\nbroken\n')
    assert read_dotenv(env) == {"A": "1", "B": "two", "D": "four"}


def test_model_reads_what_compose_resolved() -> None:
    model = model_from_config({
        "name": "app",
        "services": {
            "web": {"labels": ["cilo.ingress=true"], "ports": [{"target": 80}], "scale": 3},
            "side": {"network_mode": "service:web"},
            "plain": {},
        },
        "networks": {"default": {"name": "app_default"}, "x": {"name": "custom"}},
        "volumes": {"data": {"name": "app_data"}, "ext": {"external": True, "name": "ext"}},
    })
    assert model.services["web"].replicated and model.services["web"].has_ports
    assert model.services["web"].labels == {"cilo.ingress": "true"}
    assert model.services["plain"].networks == {"default": None}
    assert model.services["side"].networks == {}
    assert model.networks["x"].name == "custom" and model.networks["default"].name == "app_default"
    assert model.volumes["ext"].external and not model.volumes["data"].external


def test_compose_file_in_dotenv_into_a_subfolder_keeps_the_working_folder(tmp_path: Path) -> None:
    """Issue 10 item 7: compose reads the working folder's .env, then the subfolder's."""
    _touch(tmp_path / ".env", "COMPOSE_FILE=overrides/compose.yaml\nCOMPOSE_PROFILES=a\n")
    _touch(tmp_path / "overrides" / "compose.yaml")
    t = resolve_target(ComposeOptions(), tmp_path)
    assert t.project_dir == str(tmp_path / "overrides")
    assert t.dotenv_dir == str(tmp_path) and t.profiles == ("a",)
    root_env = str(tmp_path / ".env")
    assert dotenv_files(t) == (root_env,)
    _touch(tmp_path / "overrides" / ".env", "V=sub\n")
    assert dotenv_files(t) == (root_env, str(tmp_path / "overrides" / ".env"), root_env)
    (tmp_path / ".env").unlink()
    assert dotenv_files(t) == ()  # the subfolder's .env alone: what --project-directory reads


def test_no_dotenv_dir_when_the_working_folder_is_the_project(tmp_path: Path) -> None:
    _touch(tmp_path / "compose.yaml")
    _touch(tmp_path / ".env", "V=1\n")
    _touch(tmp_path / "other" / "compose.yaml")
    assert resolve_target(ComposeOptions(), tmp_path).dotenv_dir is None
    assert resolve_target(ComposeOptions(files=("other/compose.yaml",)), tmp_path).dotenv_dir is None
    t = resolve_target(ComposeOptions(env_files=(".env",), files=("other/compose.yaml",)), tmp_path)
    assert t.dotenv_dir is None and dotenv_files(t) == (str(tmp_path / ".env"),)


def test_compose_file_resolves_against_the_current_folder(tmp_path: Path) -> None:
    """compose makes COMPOSE_FILE absolute against the current folder, even with
    --project-directory (measured with compose 2.40)."""
    _touch(tmp_path / "compose.yaml")
    _touch(tmp_path / "other" / ".env", "COMPOSE_FILE=compose.yaml\n")
    t = resolve_target(ComposeOptions(project_directory="other"), tmp_path)
    assert t.files == (str(tmp_path / "compose.yaml"),) and t.project_dir == str(tmp_path / "other")


DOTENV_LINES = [
    b"A=caf\xe9",  # Latin-1: compose replaces the invalid byte
    b"B=main.yml # comment",
    b'C="quoted # not a comment"',
    b"export D=exported",
    b"E=x#y",
    b"F='single # kept'",
    b'G="tab\\there"',
    b"H=  spaced  ",
    b'I="a" # after the quote',
]


def test_dotenv_is_read_as_compose_reads_it(tmp_path: Path, compose_cli: None) -> None:
    """Issue 11 item 8: a Latin-1 .env crashed `list`; `COMPOSE_FILE=x # comment` kept the comment."""
    import json
    import subprocess

    from compose_cilo.project import read_dotenv

    keys = [line.split(b"=")[0].split()[-1].decode() for line in DOTENV_LINES]
    (tmp_path / ".env").write_bytes(b"\n".join(DOTENV_LINES) + b"\n")
    env = "".join(f"      {k}: ${{{k}}}\n" for k in keys)
    (tmp_path / "compose.yaml").write_text(f"services:\n  a:\n    image: x\n    environment:\n{env}")
    out = subprocess.run(["docker", "compose", "config", "--format", "json"], cwd=tmp_path,
                         capture_output=True, text=True, check=True).stdout
    compose = json.loads(out)["services"]["a"]["environment"]
    ours = read_dotenv(tmp_path / ".env")
    assert {k: ours[k] for k in keys} == {k: compose[k] for k in keys}


@pytest.mark.parametrize("opts", [
    ComposeOptions(files=("a" * 300,)),
    ComposeOptions(env_files=("b" * 300,)),
])
def test_names_too_long_to_look_up_are_not_found_not_a_crash(tmp_path: Path, opts: ComposeOptions) -> None:
    (tmp_path / "compose.yaml").write_text("services: {}\n")
    with pytest.raises(CiloError, match="not found; fix the"):
        resolve_target(opts, tmp_path)
    # a project folder with a name too long: compose looks in the parents, so does cilo
    assert resolve_target(ComposeOptions(project_directory="c" * 300), tmp_path).files == (
        str(tmp_path / "compose.yaml"),)
