"""Choosing the environment (issue 13): --env, CILO_ENV, `use`, auto from the git branch."""

from __future__ import annotations

import json
import multiprocessing
import stat
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from compose_cilo import names, selection
from compose_cilo.errors import CiloError, UsageError
from compose_cilo.selection import Selection, branch_env_name, forget, remember, remembered

PROJECT = "/src/shop"
HERE = Path("/nowhere")  # cwd: only auto reads it


def pick(cli: str | None = None, env: str | None = None, project: str = PROJECT,
         cwd: Path = HERE) -> Selection | None:
    return selection.select(cli, project, {} if env is None else {"CILO_ENV": env}, cwd)


# ---------------------------------------------------------------- order and sources


def test_nothing_chosen_is_none() -> None:
    assert pick() is None
    assert pick(env="") is None  # empty counts as unset


def test_env_option_wins_over_cilo_env_over_use() -> None:
    remember(PROJECT, "from-use")
    assert pick("from-cli", "from-var") == ("from-cli", "--env")
    assert pick(None, "from-var") == ("from-var", "CILO_ENV")
    assert pick(None, "") == ("from-use", f"docker cilo use (remembered for {PROJECT})")
    assert pick(None, None, project="/src/other") is None


def test_env_option_auto_is_the_name_auto() -> None:
    assert pick("auto") == ("auto", "--env")


def test_a_bad_name_is_refused_naming_its_source() -> None:
    with pytest.raises(UsageError, match=r'^--env "Bad": environment name "Bad" has uppercase'):
        pick("Bad", "good")
    with pytest.raises(UsageError, match=r'^--env "": environment name "" is empty'):
        pick("")
    with pytest.raises(UsageError, match=r'^CILO_ENV="a_b": environment name "a_b" may hold only'):
        pick(None, "a_b")


def test_a_bad_remembered_name_names_the_file_and_the_way_out() -> None:
    path = selection.selections_path()
    path.write_text(json.dumps({"version": 1, "projects": {PROJECT: "Bad"}}))
    with pytest.raises(UsageError) as err:
        pick()
    msg = str(err.value)
    assert msg.startswith(f'docker cilo use "Bad" (remembered for {PROJECT} in {path}): ')
    assert msg.endswith("docker cilo use --clear")


def test_remember_refuses_a_bad_name_and_writes_nothing() -> None:
    with pytest.raises(UsageError, match='"x_y"'):
        remember(PROJECT, "x_y")
    assert not selection.selections_path().exists()


# ---------------------------------------------------------------- branch names


@pytest.mark.parametrize(("branch", "env"), [
    ("main", "main"),
    ("Feature/Login_Page", "feature-login-page"),
    ("fix--double", "fix-double"),
    ("-x-", "x"),
    ("café", "caf"),  # only a-z and 0-9 are kept; no transliteration
    ("feature/x", "feature-x"),
    ("feature-x", "feature-x"),  # the documented collision of short names
    ("release/1.2.3", "release-1-2-3"),
    ("x" * 63, "x" * 63),  # fits: not hashed
])
def test_branch_env_name(branch: str, env: str) -> None:
    assert branch_env_name(branch) == env


def test_long_branches_are_shortened_and_stay_distinct() -> None:
    one, two = "a" * 60 + "b" * 40, "a" * 60 + "c" * 40
    first, second = branch_env_name(one), branch_env_name(two)
    assert first != second
    for name, branch in ((first, one), (second, two)):
        assert len(name) <= 63 and names.check_env_name(name) == name
        assert name.startswith("a" * 56 + "-")
        import hashlib
        assert name.endswith("-" + hashlib.sha256(branch.encode()).hexdigest()[:6])


def test_a_shortened_name_ends_in_no_double_dash() -> None:
    name = branch_env_name("x" * 55 + "/" + "y" * 20)
    assert len(name) == 62 and name.startswith("x" * 55 + "-") and "--" not in name


@pytest.mark.parametrize("branch", ["///", "", "é"])
def test_a_branch_with_nothing_to_keep_is_refused(branch: str) -> None:
    with pytest.raises(CiloError, match="check out a branch .*, or set CILO_ENV=NAME"):
        branch_env_name(branch)


@given(st.text(max_size=120))
def test_every_branch_gives_a_valid_stable_name_or_a_clear_error(branch: str) -> None:
    try:
        name = branch_env_name(branch)
    except CiloError:
        assert not any(c.isascii() and c.isalnum() for c in branch)
        return
    assert names.check_env_name(name) == name
    assert branch_env_name(name) == name  # a name it gives is its own environment name


# ---------------------------------------------------------------- auto, in real repositories


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cwd), "-c", "user.name=t", "-c", "user.email=t@t",
                           *args], check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))  # never the folders above
    main = tmp_path / "repo"
    main.mkdir()
    git(main, "init", "-q", "-b", "main")
    git(main, "commit", "-q", "--allow-empty", "-m", "first")
    git(main, "worktree", "add", "-q", "-b", "feat/a", "../wt-a")
    (main / "sub").mkdir()
    return main.resolve()


def test_auto_in_the_main_worktree_is_its_branch(repo: Path) -> None:
    assert pick(env="auto", cwd=repo / "sub") == (
        "main", f"CILO_ENV=auto: git branch main of worktree {repo}")


def test_auto_in_a_linked_worktree_is_its_branch(repo: Path) -> None:
    wt = repo.parent / "wt-a"
    assert pick(env="auto", cwd=wt) == ("feat-a", f"CILO_ENV=auto: git branch feat/a of worktree {wt}")


def test_remembered_auto_follows_the_worktree(repo: Path) -> None:
    remember(str(repo), "auto")
    assert remembered(str(repo)) == "auto"
    found = pick(project=str(repo), cwd=repo.parent / "wt-a")
    assert found == ("feat-a", f"docker cilo use --auto (remembered for {repo}): git branch "
                               f"feat/a of worktree {repo.parent / 'wt-a'}")


def test_auto_on_a_branch_without_commits(tmp_path: Path, repo: Path) -> None:
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    git(fresh, "init", "-q", "-b", "Fresh_Start")
    assert pick(env="auto", cwd=fresh) is not None
    assert pick(env="auto", cwd=fresh).env == "fresh-start"  # type: ignore[union-attr]


def test_auto_on_a_detached_head_says_what_to_do(repo: Path) -> None:
    git(repo, "checkout", "-q", "--detach")
    with pytest.raises(CiloError, match=f"worktree {repo} has a detached HEAD; check out a "
                                        "branch, or set CILO_ENV=NAME"):
        pick(env="auto", cwd=repo)


def test_auto_outside_a_repository_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GIT_CEILING_DIRECTORIES", str(tmp_path))
    with pytest.raises(CiloError) as err:
        pick(env="auto", cwd=tmp_path)
    assert str(err.value) == (f"CILO_ENV=auto needs a git repository: {tmp_path} is not in one; "
                              "set CILO_ENV=NAME instead")
    with pytest.raises(CiloError, match=r"^CILO_ENV=auto needs a git repository: /no/such/dir "):
        pick(env="auto", cwd=Path("/no/such/dir"))


def test_auto_without_git_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(CiloError, match="needs git, which is not on PATH; install git, or set CILO_ENV"):
        pick(env="auto", cwd=tmp_path)


def test_an_explicit_choice_does_not_run_git(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    remember(PROJECT, "auto")
    assert pick(env="dev") == ("dev", "CILO_ENV")


# ---------------------------------------------------------------- remembered choices


def test_remember_forget_round_trip() -> None:
    assert remembered(PROJECT) is None and forget(PROJECT) is False
    remember(PROJECT, "dev")
    remember("/src/other", "auto")
    remember("/src/shop/", "qa")  # the same folder
    assert remembered(PROJECT) == "qa" and remembered("/src/other") == "auto"
    path = selection.selections_path()
    assert json.loads(path.read_text()) == {
        "version": 1, "projects": {"/src/other": "auto", PROJECT: "qa"}}
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert forget(PROJECT) is True and forget(PROJECT) is False
    assert remembered(PROJECT) is None and remembered("/src/other") == "auto"


def test_a_new_home_is_made_private(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "new" / "home"
    monkeypatch.setenv("CILO_HOME", str(home))
    remember(PROJECT, "dev")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert (home / "selections.json").is_file() and not list(home.glob(".cilo-tmp-*"))


def _remember_many(worker: int, count: int, barrier: multiprocessing.synchronize.Barrier) -> None:
    barrier.wait()
    for n in range(count):
        remember(f"/projects/w{worker}/p{n}", f"env-{worker}-{n}")


def test_concurrent_remembers_are_all_kept() -> None:
    ctx = multiprocessing.get_context()  # fork on Linux; spawn (macOS) works too
    workers, count = 8, 15
    barrier = ctx.Barrier(workers)
    procs = [ctx.Process(target=_remember_many, args=(w, count, barrier)) for w in range(workers)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0] * workers
    projects = json.loads(selection.selections_path().read_text())["projects"]
    assert projects == {f"/projects/w{w}/p{n}": f"env-{w}-{n}"
                        for w in range(workers) for n in range(count)}


@pytest.mark.parametrize(("raw", "why"), [
    (b"", "is not valid JSON"),
    (b'{"version": 1, "projects": {', "is not valid JSON"),
    (b"[]", "does not hold a JSON object"),
    (b'{"projects": {}}', '"version": null'),
    (b'{"version": true, "projects": {}}', '"version": true'),
    (b'{"version": 1, "projects": {"/p": 3}}', '"projects" object'),
    (b'{"version": 1}', '"projects" object'),
])
def test_a_corrupt_file_is_refused_and_kept(raw: bytes, why: str) -> None:
    path = selection.selections_path()
    path.write_bytes(raw)
    for attempt in (lambda: remember(PROJECT, "dev"), lambda: forget(PROJECT),
                    lambda: remembered(PROJECT), lambda: pick()):
        with pytest.raises(CiloError) as err:
            attempt()
        assert str(err.value).startswith(f"{path} ") and why in str(err.value)
        assert "move it away" in str(err.value)
    assert path.read_bytes() == raw


def test_a_newer_file_is_refused_and_kept() -> None:
    path = selection.selections_path()
    raw = b'{"version": 2, "projects": {}}'
    path.write_bytes(raw)
    with pytest.raises(CiloError, match="version 2, written by a newer cilo .* upgrade cilo, or move"):
        remember(PROJECT, "dev")
    assert path.read_bytes() == raw


def test_a_corrupt_file_does_not_block_an_explicit_choice() -> None:
    selection.selections_path().write_bytes(b"garbage")
    assert pick("dev") == ("dev", "--env")
    assert pick(None, "dev") == ("dev", "CILO_ENV")
