"""The state store: strict, locked, atomic."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from compose_cilo import paths
from compose_cilo.errors import StateError
from compose_cilo.state import store, validation
from tests.conftest import sample_record
from tests.fakes import envs_of

WEB = {"web": {"ip": "10.224.0.2", "container": None, "status": "not created",
               "ingress": True, "hostnames": [], "replicas": []}}


def _record(project: str = "shop", env: str = "dev", subnet: str = "10.224.0.0/24") -> dict:
    return sample_record(project, env, subnet, services=WEB)


def test_missing_file_is_an_empty_state() -> None:
    st = store.read_state()
    assert st.doc == store.empty_state() and not paths.state_path().exists()


def test_mutate_writes_valid_private_file() -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = _record()
    path = paths.state_path()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert json.loads(path.read_text())["hosts"]["local"]["environments"]["shop/dev"]["subnet"] == "10.224.0.0/24"
    assert envs_of(store.read_state())["shop/dev"] == _record()


def test_a_failing_body_writes_nothing() -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = _record()
    before = paths.state_path().read_bytes()
    with pytest.raises(RuntimeError):
        with store.mutate() as st:
            envs_of(st).clear()
            raise RuntimeError("boom")
    assert paths.state_path().read_bytes() == before


def test_invalid_result_is_refused_and_file_unchanged() -> None:
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = _record()
    before = paths.state_path().read_bytes()
    with pytest.raises(StateError, match=r"state file .*state.json is invalid: .*subnet"):
        with store.mutate() as st:
            envs_of(st)["shop/dev"]["subnet"] = "not a subnet"
    assert paths.state_path().read_bytes() == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b'{"version": 2, "hosts": {', "not valid JSON"),
        (b"[1, 2]", "does not hold a JSON object"),
        (b'{"version": 99, "hosts": {}}', "version 99, newer than this cilo"),
        (b'{"version": 2, "hosts": {"local": {"id": "local", "provider": "docker", '
         b'"environments": {"shop/dev": {"name": "dev"}}}}}', "hosts/local/environments/shop/dev"),
    ],
)
def test_bad_files_are_clear_errors_and_untouched(content: bytes, message: str) -> None:
    path = paths.state_path()
    paths.ensure_private_dir(path.parent)
    path.write_bytes(content)
    with pytest.raises(StateError, match=message) as err:
        with store.mutate():
            pass
    assert str(path) in str(err.value)
    assert path.read_bytes() == content


def test_lock_timeout_names_the_lock(monkeypatch: pytest.MonkeyPatch) -> None:
    from filelock import FileLock

    monkeypatch.setenv("CILO_LOCK_TIMEOUT", "0.2")
    paths.ensure_private_dir(paths.lock_path().parent)
    holder = FileLock(str(paths.lock_path()))
    holder.acquire()
    try:
        # filelock locks are per-process re-entrant only for the same object: use a child
        import subprocess
        import sys

        proc = subprocess.run(
            [sys.executable, "-c",
             "from compose_cilo.state import store as state\nwith state.mutate(): pass"],
            capture_output=True, text=True, env={**os.environ},
        )
        assert proc.returncode != 0
        assert f"state lock {paths.lock_path()} is still held after 0.2 s" in proc.stderr
    finally:
        holder.release()


def test_state_path_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "s.json"
    monkeypatch.setenv("CILO_STATE_PATH", str(target))
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = _record()
    assert target.exists() and paths.lock_path() == tmp_path / "elsewhere" / "s.json.lock"


def test_leftover_temp_files_are_cleaned() -> None:
    path = paths.state_path()
    paths.ensure_private_dir(path.parent)
    junk = path.parent / ".cilo-tmp-state.json.abc123"
    junk.write_text("half a write")
    with store.mutate():
        pass
    assert not junk.exists()


def test_schema_ships_inside_the_package() -> None:
    assert validation.schema()["properties"]["version"] == {"const": store.STATE_VERSION}
    assert "networks" in validation.schema()["$defs"]["environment"]["required"]


def test_remove_tree_twice_and_of_nothing(tmp_path: Path) -> None:
    from compose_cilo.fsutil import remove_tree

    (tmp_path / "env" / "workspace" / "deep").mkdir(parents=True)
    (tmp_path / "env" / "workspace" / "deep" / "f").write_text("x")
    remove_tree(tmp_path / "env")
    assert not (tmp_path / "env").exists()
    remove_tree(tmp_path / "env")  # a concurrent destroy got there first: fine
