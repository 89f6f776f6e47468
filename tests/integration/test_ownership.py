"""Never touch what is not yours (issue 11): two cilo homes on one engine, and a destroy
that completes even when a copy's files cannot be removed by this user."""

from __future__ import annotations

import errno
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_cilo import lifecycle, paths, teardown
from compose_cilo.dns.process import free_port
from compose_cilo.engine.client import connect
from compose_cilo.engine.options import DockerOptions
from compose_cilo.queries import Context
from compose_cilo.state import store
from tests.conftest import Cilo, copy_project
from tests.fakes import envs_of

pytestmark = pytest.mark.engine


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], check=True, capture_output=True, text=True).stdout


def objects(project: str, env: str) -> dict[str, list[str]]:
    flt = ["--filter", f"label=cilo.project={project}", "--filter", f"label=cilo.environment={env}"]
    return {"containers": docker("ps", "-aq", *flt).split(),
            "networks": docker("network", "ls", "-q", *flt).split(),
            "volumes": docker("volume", "ls", "-q", *flt).split()}


@pytest.fixture
def two_homes(tmp_path: Path, cilo: Cilo, cilo_home: Path) -> Iterator[tuple[Path, dict[str, str]]]:
    """The test's own home (A, the default) and a second one (B) for the same project."""
    proj = copy_project("plain", tmp_path)
    other = tmp_path / "home-b"
    env_b = {"CILO_HOME": str(other), "CILO_DNS_PORT": str(free_port())}
    try:
        yield proj, env_b
    finally:
        for env in ({}, env_b):
            cilo("destroy", "--all-projects", "--force", cwd=proj, env=env, check=False)
            cilo("dns", "stop", cwd=proj, env=env, check=False)


def test_two_homes_share_one_engine_through_a_full_cycle(two_homes: tuple[Path, dict[str, str]],
                                                          cilo: Cilo, cilo_home: Path, unique: str) -> None:
    proj, env_b = two_homes
    a1, a2, b1, b2 = (f"{x}-{unique}" for x in ("a1", "a2", "b1", "b2"))
    cilo("up", a1, cwd=proj)
    cilo("create", a2, cwd=proj)  # no containers yet: only a network
    cilo("up", b1, cwd=proj, env=env_b)
    cilo("create", b2, cwd=proj, env=env_b)
    state_b = Path(env_b["CILO_HOME"]) / "state.json"
    ids = {json.loads((cilo_home / "state.json").read_text())["home_id"],
           json.loads(state_b.read_text())["home_id"]}
    assert len(ids) == 2, "each home has an id of its own"
    before = {e: objects("plain", e) for e in (a1, a2, b1, b2)}
    assert all(before[e]["networks"] for e in before)

    # the same environment name in another home is refused, not taken over
    taken = cilo("create", a1, cwd=proj, env=env_b, check=False)
    assert taken.returncode == 1 and "another cilo home" in taken.stderr

    for env, mine, theirs, their_state in (({}, (a1, a2), (b1, b2), state_b),
                                           (env_b, (b1, b2), (a1, a2), cilo_home / "state.json")):
        their_bytes = their_state.read_bytes()
        fixed = cilo("doctor", "--fix", "--yes", "--json", cwd=proj, env=env, check=False)
        assert fixed.stdout.startswith("{"), fixed.stderr
        checks = json.loads(fixed.stdout)["checks"]
        foreign = {c["subject"] for c in checks if c["id"] == "foreign.environment"}
        assert {f"plain/{e}" for e in theirs} <= foreign, checks
        assert "adopted" not in fixed.stderr and "removed" not in fixed.stderr, fixed.stderr
        assert their_state.read_bytes() == their_bytes, "doctor changed the other home's state"
        listed = {e["name"] for e in json.loads(cilo("list", "--json", cwd=proj, env=env).stdout)}
        assert listed == set(mine)
        for e in (a1, a2, b1, b2):
            assert objects("plain", e) == before[e], f"doctor in one home touched {e}"

    cilo("destroy", "--all", "--force", cwd=proj)  # home A
    for e in (a1, a2):
        assert objects("plain", e) == {"containers": [], "networks": [], "volumes": []}
    for e in (b1, b2):
        assert objects("plain", e) == before[e], f"destroy --all in home A touched {e}"
    assert {e["name"] for e in json.loads(cilo("list", "--json", cwd=proj, env=env_b).stdout)} == {b1, b2}
    cilo("destroy", "--all", "--force", cwd=proj, env=env_b)
    for e in (b1, b2):
        assert objects("plain", e) == {"containers": [], "networks": [], "volumes": []}


def test_adopt_foreign_only_when_asked(two_homes: tuple[Path, dict[str, str]], cilo: Cilo,
                                       unique: str) -> None:
    proj, env_b = two_homes
    env = f"f-{unique}"
    cilo("up", env, cwd=proj, env=env_b)
    state_b = Path(env_b["CILO_HOME"]) / "state.json"
    doc = json.loads(state_b.read_text())
    next(iter(doc["hosts"].values()))["environments"].clear()  # home B lost it: it is nobody's now
    state_b.write_text(json.dumps(doc))
    (Path(env_b["CILO_HOME"]) / "state.json.valid").unlink(missing_ok=True)
    plain = cilo("doctor", "--fix", "--yes", cwd=proj, check=False)
    assert "foreign.environment" in plain.stdout and "adopted" not in plain.stderr
    cilo("doctor", "--fix", "--yes", "--adopt-foreign", cwd=proj, check=False)
    record = envs_of(store.read_state())[f"plain/{env}"]
    assert record["foreign_home"] == doc["home_id"]
    cilo("destroy", env, "--force", cwd=proj)  # the adopted one is this home's to remove now
    assert objects("plain", env) == {"containers": [], "networks": [], "volumes": []}


@pytest.fixture
def copy_env(tmp_path: Path, test_image: str, unique: str) -> Iterator[tuple[Context, str]]:
    proj = copy_project("plain", tmp_path)
    ctx = Context(connect(DockerOptions()), cwd=proj, say=lambda msg: None)
    env = f"d-{unique}"
    lifecycle.up(ctx, env, copy=True)
    try:
        yield ctx, env
    finally:
        try:
            teardown.destroy(ctx, env)
        except Exception:
            pass


def _failing_once(monkeypatch: pytest.MonkeyPatch, folder: Path) -> None:
    """The first removal of `folder` fails as for files another uid wrote."""
    real = teardown.remove_tree
    calls = {"n": 0}

    def remove(path: Path) -> None:
        if path == folder and calls["n"] == 0:
            calls["n"] += 1
            raise PermissionError(errno.EACCES, "Permission denied", str(folder / "workspace" / "db"))
        real(path)

    monkeypatch.setattr(teardown, "remove_tree", remove)


def test_destroy_removes_what_this_user_cannot_through_the_engine(
        copy_env: tuple[Context, str], monkeypatch: pytest.MonkeyPatch, test_image: str) -> None:
    ctx, env = copy_env
    folder = paths.env_dir("plain", env)
    assert (folder / "workspace").is_dir()
    _failing_once(monkeypatch, folder)
    monkeypatch.setenv("CILO_HELPER_IMAGE", test_image)
    teardown.destroy(ctx, env)
    assert not folder.exists(), "the engine's container removed the folder"
    assert f"plain/{env}" not in envs_of(store.read_state())


def test_destroy_says_what_is_left_and_a_retry_does_not_fail(
        copy_env: tuple[Context, str], monkeypatch: pytest.MonkeyPatch) -> None:
    ctx, env = copy_env
    folder = paths.env_dir("plain", env)
    said: list[str] = []
    ctx.say = said.append
    _failing_once(monkeypatch, folder)
    monkeypatch.setenv("CILO_HELPER_IMAGE", "cilo-test/no-such-image-here")
    teardown.destroy(ctx, env)
    assert any(f"sudo rm -rf {folder}" in s for s in said), said
    assert f"plain/{env}" not in envs_of(store.read_state())  # done: nothing to retry
    assert objects("plain", env) == {"containers": [], "networks": [], "volumes": []}
