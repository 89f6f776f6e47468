"""The workspace on an ssh:// engine's machine (compose_cilo/sync.py), without a remote
machine: ssh calls are answered by a fake, or run as local `sh -c` (the same machine,
which must be recognised as such and never copied onto or removed)."""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from pathlib import Path
from typing import Any

import pytest

from compose_cilo import sync
from compose_cilo.errors import CiloError

TARGET = sync.Target("box", "me", 2222)


class FakeSsh:
    """Answers the probe with `probe`, every other call with success; records them."""

    def __init__(self, probe: str) -> None:
        self.probe = probe
        self.calls: list[list[str]] = []
        self.received: bytes = b""

    def __call__(self, argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        if kw.get("stdin") is not None:
            self.received = kw["stdin"].read()
        out = self.probe if "boot_id" in argv[-1] else ""
        return subprocess.CompletedProcess(argv, 0, out, "")


@pytest.mark.parametrize(("endpoint", "want"), [
    ("ssh://me@box:2222", TARGET), ("ssh://box", sync.Target("box")), ("tcp://box:2375", None), (None, None),
])
def test_the_target_of_an_endpoint(endpoint: str | None, want: sync.Target | None) -> None:
    assert sync.target_of(endpoint) == want


def test_ssh_is_bounded_and_never_prompts() -> None:
    assert TARGET.ssh() == ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=10", "-p", "2222", "-l", "me", "box"]
    with pytest.raises(CiloError, match="names no host"):
        sync.target_of("ssh://")


def test_a_new_folder_is_claimed_then_copied_with_rsync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync.shutil, "which", lambda name: f"/usr/bin/{name}")
    ssh = FakeSsh("other-boot\nabsent\ntheirs\nrsync\n")
    assert sync.push(TARGET, str(tmp_path), "home1", run=ssh) == "rsync"
    probe, claim, copy = ssh.calls
    assert claim[:10] == TARGET.ssh() and "mkdir -p" in claim[-1] and sync.entry_name(str(tmp_path)) in claim[-1]
    assert copy[:2] == ["rsync", "-a"] and "--delete" in copy and copy[-2:] == [f"{tmp_path}/", f"me@box:{tmp_path}/"]
    assert copy[copy.index("-e") + 1].startswith("ssh -o BatchMode=yes")


def test_without_rsync_a_tar_stream_replaces_the_folder(tmp_path: Path) -> None:
    (tmp_path / "index.html").write_text("hello")
    ssh = FakeSsh("other-boot\n1:2\nours\ntar\n")
    assert sync.push(TARGET, str(tmp_path), "home1", run=ssh) == "tar"
    names = tarfile.open(fileobj=io.BytesIO(ssh.received)).getnames()
    assert "./index.html" in names
    assert "mv" in ssh.calls[-1][-1] and ".cilo-new" in ssh.calls[-1][-1]


def test_a_folder_cilo_did_not_make_there_is_refused_and_not_touched(tmp_path: Path) -> None:
    ssh = FakeSsh("other-boot\n1:2\ntheirs\nrsync\n")
    with pytest.raises(CiloError, match=r"already exists on me@box, and cilo did not make it there"):
        sync.push(TARGET, str(tmp_path), "home1", run=ssh)
    assert len(ssh.calls) == 1  # only looked
    assert sync.remove(TARGET, str(tmp_path), "home1", run=ssh) is False and len(ssh.calls) == 2


def test_a_folder_cilo_made_there_is_removed_with_its_entry(tmp_path: Path) -> None:
    ssh = FakeSsh("other-boot\n1:2\nours\nrsync\n")
    assert sync.remove(TARGET, str(tmp_path), "home1", run=ssh) is True
    assert "rm -rf" in ssh.calls[-1][-1] and sync.entry_name(str(tmp_path)) in ssh.calls[-1][-1]


def local_sh(home: Path) -> Any:
    """Runs the remote side here: `ssh ... host sh -c SCRIPT` becomes a local shell."""
    def run(argv: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        i = argv.index("sh")
        return subprocess.run(["sh", "-c", f"sh -c {argv[i + 2]}"], env={**os.environ, "HOME": str(home)},
                              capture_output=True, text=True, timeout=30, stdin=kw.get("stdin"))
    return run


def test_the_same_machine_is_recognised_and_its_folder_never_copied_onto_or_removed(tmp_path: Path) -> None:
    folder = tmp_path / "my project (v2) 'quoted'"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    run = local_sh(tmp_path / "home")
    remote = sync.probe(TARGET, str(folder), "home1", run=run)
    assert remote == sync.Remote(same_folder=True, exists=True, ours=False, rsync=remote.rsync)
    assert sync.push(TARGET, str(folder), "home1", run=run) == "same folder"
    assert sync.remove(TARGET, str(folder), "home1", run=run) is False
    assert (folder / "keep.txt").read_text() == "mine" and not (tmp_path / "home" / sync.REGISTRY).exists()


def test_the_remote_scripts_claim_and_remove_only_what_they_list(tmp_path: Path) -> None:
    """The claim and removal scripts themselves, run by a real shell on an absent path."""
    home, folder = tmp_path / "home", tmp_path / "made by cilo"
    run = local_sh(home)
    assert sync.probe(TARGET, str(folder), "home1", run=run) == sync.Remote(False, False, False,
                                                                           sync.probe(TARGET, str(folder), "home1",
                                                                                      run=run).rsync)
    sync._ssh(TARGET, sync._claim_script(str(folder), "home1"), run, "prepare")
    entry = home / sync.REGISTRY / "home1" / sync.entry_name(str(folder))
    assert entry.read_text() == f"{folder}\n" and folder.is_dir()
    # here it is the same machine again: removal is refused even though it is listed
    assert sync.remove(TARGET, str(folder), "home1", run=run) is False and folder.is_dir()
