"""No interruption leaves a broken state: kill -9 at random moments, and a really full disk.

The kill test runs concurrent `docker cilo create`/`destroy` of one project and SIGKILLs
whole command sessions (docker CLI, plugin, compose) at random moments, then checks that
the state parses, validates, holds no duplicate subnets, and that new commands take the
lock at once. Networks a killed create made before it recorded them are orphans that
`doctor` will find; they are counted and reported, not failed on.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from compose_cilo import paths
from compose_cilo.errors import StateError
from compose_cilo.state import store
from tests.conftest import Cilo, copy_project, need, sample_record
from tests.fakes import envs_of

WORKERS = 6
SECONDS = float(os.environ.get("CILO_CRASH_SECONDS", "20"))
ENV_NAMES = [f"k{i}" for i in range(8)]
BROKEN_STATE = ("is invalid", "not valid JSON", "is empty", "does not hold", "Traceback",
                "unexpected error")


def _session_pids(sid: int) -> list[int]:
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rpartition(")")[2].split()
        if int(fields[3]) == sid:  # fields after "(comm)": state ppid pgrp session ...
            pids.append(int(entry))
    return pids


def kill_session(sid: int) -> None:
    """SIGKILL every process of a command's session (the plugin may have its own group)."""
    for _ in range(20):
        pids = _session_pids(sid)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class Chaos:
    def __init__(self, proj: Path, project: str, env: dict[str, str]) -> None:
        self.proj, self.project, self.env = proj, project, env
        self.stats: Counter[str] = Counter()
        self.failures: list[str] = []
        self.refusals: Counter[str] = Counter()  # what non-killed commands said, for the log
        self.lock = threading.Lock()

    def worker(self, seed: int, deadline: float) -> None:
        rng = random.Random(seed)
        while time.monotonic() < deadline:
            command = rng.choice(["create", "create", "destroy"])
            args = ["docker", "cilo", "-p", self.project, command, rng.choice(ENV_NAMES)]
            args += ["--force"] if command == "destroy" else []
            proc = subprocess.Popen(args, cwd=self.proj, env=self.env, start_new_session=True,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            killed = False
            if rng.random() < 0.7:
                try:
                    proc.wait(timeout=rng.uniform(0.0, 2.0))
                except subprocess.TimeoutExpired:
                    kill_session(proc.pid)
                    killed = True
            _, err = proc.communicate(timeout=300)
            self.record(command, proc.returncode, killed, err, args)

    def record(self, command: str, code: int, killed: bool, err: str, args: list[str]) -> None:
        with self.lock:
            if killed:
                self.stats["killed"] += 1
            elif code == 0:
                self.stats[f"{command} ok"] += 1
            else:
                self.stats[f"{command} refused"] += 1
                self.refusals[re.sub(r"\bk\d\b", "kN", err.strip().splitlines()[-1][:120])] += 1
                if any(b in err for b in BROKEN_STATE):
                    self.failures.append(f"{' '.join(args)} exited {code}: {err.strip()}")

    def run(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        threads = [threading.Thread(target=self.worker, args=(i, deadline))
                   for i in range(WORKERS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()


def docker(*args: str) -> list[str]:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    return proc.stdout.split()


def labelled(project: str) -> dict[str, list[str]]:
    flt = ["--filter", f"label=cilo.project={project}"]
    return {
        "container": docker("ps", "-aq", *flt),
        "network": docker("network", "ls", "-q", *flt),
        "volume": docker("volume", "ls", "-q", *flt),
    }


def remove_leftovers(project: str) -> None:
    left = labelled(project)
    if left["container"]:
        docker("rm", "-f", *left["container"])
    if left["volume"]:
        docker("volume", "rm", "-f", *left["volume"])
    if left["network"]:
        docker("network", "rm", *left["network"])


def check_state_invariants() -> dict:
    path = paths.state_path()
    doc = json.loads(path.read_bytes())  # parses
    store.validate(doc, path)  # validates
    envs = {k: r for _, k, r in store.State(doc).all_environments()}
    subnets = [ipaddress.IPv4Network(r["subnet"]) for r in envs.values()]
    assert len(set(subnets)) == len(subnets), f"duplicate subnets in state: {sorted(map(str, subnets))}"
    for i, a in enumerate(subnets):
        assert not any(a.overlaps(b) for b in subnets[i + 1:]), f"overlapping subnet {a}"
    for key, r in envs.items():
        assert key == f"{r['project']}/{r['name']}"
    assert set(envs_of(store.read_state())) == set(envs)  # the store reads it too
    return envs


@pytest.mark.engine
def test_kill_9_at_random_moments_never_breaks_state(
    cilo: Cilo, tmp_path: Path, unique: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    proj = copy_project("plain", tmp_path)
    project = f"crash-{unique}"
    env = {**os.environ, "DOCKER_CONFIG": str(cilo.docker_config)}
    chaos = Chaos(proj, project, env)
    try:
        chaos.run(SECONDS)
        print(f"\nkill -9 chaos: {dict(chaos.stats)}; refusals: {dict(chaos.refusals)}")
        assert chaos.stats["killed"] > 0, chaos.stats
        assert not chaos.failures, "\n".join(chaos.failures)

        temp_files = list(paths.state_path().parent.glob(".cilo-tmp-*"))
        envs = check_state_invariants()
        in_state = {r["network"] for r in envs.values()}
        networks = docker("network", "ls", "--format", "{{.Name}}", "--filter",
                          f"label=cilo.project={project}")
        orphans = sorted(set(networks) - in_state)
        print(f"environments in state: {len(envs)}, temp files left by killed writers: "
              f"{len(temp_files)}, orphan networks (for doctor): {orphans}")

        # a dead holder never blocks: a read, a lock and a mutating command start at once
        fast = {**env, "CILO_LOCK_TIMEOUT": "1"}
        listed = cilo("-p", project, "list", "--json", cwd=proj, env=fast)
        assert {e["name"] for e in json.loads(listed.stdout)} == {r["name"] for r in envs.values()}
        monkeypatch.setenv("CILO_LOCK_TIMEOUT", "0")
        with store.locked():
            pass
        cilo("-p", project, "create", "final", cwd=proj, env=fast)
        check_state_invariants()
        assert not list(paths.state_path().parent.glob(".cilo-tmp-*"))  # cleaned by the write
    finally:
        cilo("-p", project, "destroy", "--all", "--force", cwd=proj, check=False, env=env)
        remove_leftovers(project)
    assert labelled(project) == {"container": [], "network": [], "volume": []}
    check_state_invariants()


# --- an old file, migrated by the first command ------------------------------------------

V1_STATE = """{
  "version": 1,
  "environments": {
    "shop/dev": {"name": "dev", "project": "shop", "subnet": "10.224.201.0/24",
                 "status": "running", "created_at": "2025-01-15T10:30:00Z", "source": "/src/shop",
                 "services": {"web": {"ip": "10.224.201.2", "container": "cilo_dev_web"}}},
    "blog/qa": {"name": "qa", "project": "blog", "subnet": "10.224.202.0/24", "status": "stopped",
                "created_at": "2025-01-16T08:00:00Z", "source": "/src/blog", "services": {}}
  },
  "subnet_counter": 202
}
"""


@pytest.mark.engine
def test_a_hand_written_v1_file_is_migrated_by_the_first_list(cilo: Cilo, tmp_path: Path) -> None:
    path = paths.state_path()
    paths.ensure_private_dir(path.parent)
    path.write_text(V1_STATE)
    path.chmod(0o600)

    listed = cilo("list", "--all", "--json", cwd=tmp_path)
    assert {(e["project"], e["name"], e["subnet"]) for e in json.loads(listed.stdout)} == {
        ("shop", "dev", "10.224.201.0/24"), ("blog", "qa", "10.224.202.0/24")}
    assert "migrated state file" in listed.stderr
    assert json.loads(path.read_text())["version"] == store.STATE_VERSION
    assert store.backup_path(path, 1).read_text() == V1_STATE

    shown = json.loads(cilo("state", "show", "--json", cwd=tmp_path).stdout)
    assert (shown["version"], shown["environments"], shown["services"]) == (store.STATE_VERSION, 2, 1)
    cilo("state", "migrate", "--to", "1", cwd=tmp_path)
    assert json.loads(path.read_text()) == json.loads(V1_STATE)  # equivalent to the original


# --- writers killed inside the lock --------------------------------------------------------

WRITER = """
from compose_cilo.state import store as state
record = {record}
i = 0
while True:
    if i == 1:  # one write is done, so the file exists whenever the kill lands
        print("ready", flush=True)
    with state.mutate() as st:
        envs = st.environments("local")
        key = f"shop/e{{i % 24}}"
        if envs.pop(key, None) is None:
            used = {{r["subnet"] for r in envs.values()}}
            free = next(f"10.224.{{n}}.0/24" for n in range(256) if f"10.224.{{n}}.0/24" not in used)
            envs[key] = dict(record, name=key.split("/")[1], subnet=free)
    i += 1
"""


def test_writers_killed_inside_the_lock_never_break_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Engine-free and fast, so the kills land inside the read-modify-write itself."""
    code = WRITER.format(record=repr(sample_record()))
    rng = random.Random(6)
    temp_seen = 0
    for _ in range(25):
        writers = [subprocess.Popen([sys.executable, "-c", code],
                                    stdout=subprocess.PIPE, text=True) for _ in range(3)]
        for w in writers:
            assert w.stdout is not None and w.stdout.readline() == "ready\n"
        time.sleep(rng.uniform(0.0, 0.3))  # let them write a while, then kill -9 mid-flight
        for w in writers:
            w.send_signal(signal.SIGKILL)
        for w in writers:
            w.wait()
        temp_seen += len(list(paths.state_path().parent.glob(".cilo-tmp-*")))
        check_state_invariants()
    print(f"\ntemp files left by killed writers (then ignored): {temp_seen}")
    monkeypatch.setenv("CILO_LOCK_TIMEOUT", "0")
    with store.mutate():  # the lock is free at once, and the write cleans the temp files
        pass
    assert not list(paths.state_path().parent.glob(".cilo-tmp-*"))
    check_state_invariants()


# --- a really full disk -------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 64 KiB tmpfs (needs root; skipped elsewhere: the unit tests fake the same error)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "tmpfs", str(mnt)],
                          capture_output=True, text=True)
    need("a mountable tmpfs (root)", proc.returncode == 0, proc.stderr.strip())
    try:
        yield mnt
    finally:
        subprocess.run(["umount", str(mnt)], check=True)


def test_a_full_disk_leaves_the_previous_state_intact(
    tiny_disk: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CILO_STATE_PATH", str(tiny_disk / "state.json"))
    record = sample_record()
    with store.mutate() as st:
        envs_of(st)["shop/dev"] = record
    before = paths.state_path().read_bytes()
    filler = tiny_disk / "filler"
    with contextlib.suppress(OSError), filler.open("wb") as f:
        while True:
            f.write(b"\0" * 4096)
            f.flush()
    with pytest.raises(StateError, match=r"cannot write state file .*state.json \(No space left "
                                         r"on device\); the previous state is intact"):
        with store.mutate() as st:
            envs_of(st)["shop/dev"]["profiles"] = ["p" * 100] * 100
    assert paths.state_path().read_bytes() == before
    assert not list(tiny_disk.glob(".cilo-tmp-*"))
    assert envs_of(store.read_state())["shop/dev"] == record
