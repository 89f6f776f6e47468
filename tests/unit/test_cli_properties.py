"""Property: whatever the command line and settings, cilo answers with its own words.

Hypothesis builds argv from cilo's commands and options, docker's global option forms,
good and bad names and arbitrary text, and sets hostile values on the settings. For
every example, run in-process against an engine that refuses every call:
- nothing escapes the boundary, and stderr never holds a traceback (but with --debug,
  which asks for one) or an "unexpected error" (every refusal is a clear error);
- a refused command (non-zero exit) says why and leaves every file of the cilo home
  byte-identical (empty lock files, made by taking a lock, aside).

Commands that start processes or change the system (`dns`, `init`) are left out; so is
any host command but `true`/`echo` after `run`, so no example can run anything harmful.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from compose_cilo import config
from compose_cilo import settings as cilo_settings
from compose_cilo.cli.main import run
from compose_cilo.dns import dnsmasq
from compose_cilo.state import store
from tests.conftest import project_here, sample_record
from tests.fakes import FakeEngine


def RefusingEngine() -> FakeEngine:
    """Every engine call fails the way an unreachable engine fails."""
    return FakeEngine(unreachable="cannot reach the Docker engine (test refuses it); start dockerd")


HOSTILE = ["", " ", "-", "--", "..", "/", "a/b", "a\nb", "x\x00y", "#", "%", "\x1b[31m", "é",
           "开发", "🚀", "a" * 300, "$(id)", "=", "-h", "--help", "keep", "dev", "shop/keep"]
text = st.one_of(st.sampled_from(HOSTILE), st.text(max_size=12))
COMMANDS = ["up", "create", "down", "destroy", "list", "ls", "status", "logs", "exec", "compose",
            "path", "run", "doctor", "state", "version", "frobnicate", "use", "ps", "stop", "config"]
NAMES = ["keep", "dev", "shop/keep", "other/keep", "Bad", "a/b/c", "-x", "", "..", "a" * 64]
names = st.sampled_from(NAMES) | text
FILES = ["compose.yaml", "missing.yml", "-", ".env", "/", "..", "compose.yaml\n"]
files = st.sampled_from(FILES) | text
# cilo's own options before the command, each with a value where it takes one
CILO_OPTS = {"--env": names, "-f": files, "--file": files, "--env-file": files, "--profile": text,
             "--project-directory": files, "-p": names, "--project-name": names,
             "--project": names, "--debug": None, "-v": None, "-h": None}
DOCKER_OPTS = {"-H": st.sampled_from(["unix:///nonexistent.sock", "tcp://127.0.0.1:1", ""]) | text,
               "-Hunix:///nonexistent.sock": None, "--host=": None, "-c": text, "-cnope": None,
               "--context=nope": None, "--tls": None, "--tlsverify=false": None,
               "--tlsverify=maybe": None, "-D": None, "-D=x": None, "-l": text}
COMMAND_OPTS = ["--all", "-a", "--all-projects", "--force", "--json", "--copy", "--strict",
                "--build", "--recreate", "--fix", "--yes", "--adopt-foreign", "--to", "1", "4",
                "show", "migrate", "-u", "-e", "-T", "--index", "--tail", "-f", "--follow", "web"]


def options(table: dict[str, st.SearchStrategy[str] | None]) -> st.SearchStrategy[list[str]]:
    def pick(name: str) -> st.SearchStrategy[list[str]]:
        value = table[name]
        return st.just([name]) if value is None else value.map(lambda v: [name, v])
    one = st.sampled_from(sorted(table)).flatmap(pick)
    return st.lists(one, max_size=2).map(lambda groups: [a for g in groups for a in g])


@st.composite
def argvs(draw: st.DrawFn) -> list[str]:
    docker = draw(options(DOCKER_OPTS))
    cilo_opts = draw(options(CILO_OPTS))
    command = draw(st.sampled_from(COMMANDS))
    env = draw(st.lists(names, max_size=1))
    rest = draw(st.lists(st.sampled_from(COMMAND_OPTS) | text, max_size=3))
    if command == "run":  # never let an example run an arbitrary host command
        rest = [draw(st.sampled_from(["true", "echo"])), *rest]
    return [*docker, *(["cilo"] if docker else []), *cilo_opts, command, *env, *rest]


SETTINGS = ["CILO_DNS_SUFFIX", "CILO_DNS_UPSTREAMS", "CILO_DNS_PORT", "CILO_BASE_SUBNET",
            "CILO_LOCK_TIMEOUT"]
# (an environment variable cannot hold NUL)
setting_values = st.dictionaries(st.sampled_from(SETTINGS), text.filter(lambda v: "\0" not in v),
                                 max_size=2)


def tree(root: Path) -> dict[str, str]:
    """Every file's digest; empty lock files (filelock's, made by taking a lock) aside."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*"))
            if p.is_file() and (p.stat().st_size or not (p.suffix == ".lock" or p.name == "lock"))}


@contextlib.contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    config.clear_cache()
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        config.clear_cache()


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    project_here(tmp_path, monkeypatch)
    return tmp_path


@settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=argvs(), env=setting_values)
@example(argv=["destroy", "keep"], env={})  # wrote a home id before the engine refused (fixed)
@example(argv=["doctor", "--fix"], env={})  # restarts cilo's dnsmasq, exits 1: the engine is still down
@example(argv=["logs", "keep"], env={})  # ran a real compose through the fake (fixed in the fake)
@example(argv=["--profile", " ", "up", "shop/keep"], env={})  # recorded the profile (fixed)
@example(argv=["--env-file", "a" * 300, "list"], env={})  # ENAMETOOLONG crashed (fixed)
@example(argv=["--env-file", "~0", "up"], env={})  # ~user of no such user crashed (fixed)
@example(argv=["-c", "x\x00y", "cilo", "up", "-h"], env={})  # a NUL byte reached a child process (fixed)
def test_no_traceback_and_no_change_on_refused_input(sandbox: Path, argv: list[str],
                                                     env: dict[str, str]) -> None:
    home = Path(tempfile.mkdtemp(prefix="home-", dir=sandbox))
    project = sandbox / "shop"
    record = {**sample_record(env="keep"), "project_dir": str(project), "workspace": str(project),
              "compose_files": [str(project / "compose.yaml")]}
    doc = {"version": 5, "hosts": {"local": {"id": "local", "provider": "docker",
                                             "environments": {"shop/keep": record}}}}
    (home / "state.json").write_text(json.dumps(doc))
    out, err = io.StringIO(), io.StringIO()
    with environment({"CILO_HOME": str(home)}):
        store.read_state()  # writes the validity cache (state.json.valid) once
        before = tree(home)
        with environment(env):
            try:
                with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                    code = run(argv, engine_factory=RefusingEngine)
                after = tree(home)
            finally:
                with contextlib.suppress(cilo_settings.SettingsError):
                    dnsmasq.stop()
    event(f"exit {code}")
    shown = err.getvalue()
    assert "unexpected error" not in shown, (argv, env, shown)
    assert "Traceback" not in shown or "--debug" in argv, (argv, env, shown)
    if code != 0:
        assert shown.strip() or out.getvalue().strip(), (argv, env, "refused without saying why")
        # doctor --fix is not refused input: it repairs what it can (cilo's own dnsmasq) and
        # its exit status says what is still failing (here: the engine it cannot reach)
        repaired = "doctor" in argv and "--fix" in argv and "fixed: " in shown
        assert after == before or repaired, (argv, env, shown)
