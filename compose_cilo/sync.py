"""The copy's workspace on an `ssh://` engine's machine: bind mounts there name that
machine's folders, so `up` copies the workspace to the same absolute path over ssh
before compose runs (rsync where both ends have it, else a tar stream), and again on
each `up`; `destroy` removes it.

cilo touches only folders it made there: each one is listed on that machine in
`~/.cilo-remote/<home id>/<digest of the path>` before anything is copied into it, and a
folder that already exists there without that entry is refused (it may be yours). When
the engine's machine sees this very folder (the same machine: same boot id, same device
and inode), nothing is copied and nothing is ever removed.

One small shell script per step runs remotely (`sh -c`), its paths quoted; every ssh
call is bounded (BatchMode, ConnectTimeout; no password prompts).
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import urllib.parse
from collections.abc import Callable
from typing import Any, NamedTuple

from .errors import CiloError

Run = Callable[..., subprocess.CompletedProcess[Any]]
CONNECT_TIMEOUT = 10  # seconds for ssh to reach the machine
COPY_TIMEOUT = 3600.0  # seconds for one copy of a workspace
REGISTRY = ".cilo-remote"  # in the remote user's home


class Target(NamedTuple):
    """Where an ssh:// endpoint points: ssh://[USER@]HOST[:PORT]."""

    host: str
    user: str | None = None
    port: int | None = None

    def ssh(self) -> list[str]:
        """The ssh command line that reaches it (no command yet)."""
        return ["ssh", "-o", "BatchMode=yes", "-o", f"ConnectTimeout={CONNECT_TIMEOUT}",
                *(["-p", str(self.port)] if self.port else []), *(["-l", self.user] if self.user else []),
                self.host]

    @property
    def shown(self) -> str:
        return f"{self.user + '@' if self.user else ''}{self.host}"


def target_of(endpoint: str | None) -> Target | None:
    """The ssh target of an `ssh://` endpoint, else None."""
    if not endpoint or not endpoint.startswith("ssh://"):
        return None
    parts = urllib.parse.urlsplit(endpoint)
    if not parts.hostname:
        raise CiloError(f"docker endpoint {endpoint} names no host; use ssh://USER@HOST")
    return Target(parts.hostname, parts.username, parts.port)


def entry_name(path: str) -> str:
    return hashlib.sha256(path.encode()).hexdigest()[:24]


def _probe_script(path: str, home: str) -> str:
    """Prints: boot id, device:inode of `path` (or `absent`), `ours`/`theirs`, rsync yes/no."""
    p, entry = shlex.quote(path), shlex.quote(f"{REGISTRY}/{home}/{entry_name(path)}")
    return (f"cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none; "
            f"if [ -e {p} ]; then stat -c %d:%i {p}; else echo absent; fi; "
            f"if [ -f \"$HOME\"/{entry} ]; then echo ours; else echo theirs; fi; "
            "if command -v rsync >/dev/null 2>&1; then echo rsync; else echo tar; fi")


class Remote(NamedTuple):
    """What the engine's machine says of the folder."""

    same_folder: bool  # it is this machine's very folder: nothing to copy
    exists: bool
    ours: bool  # listed in the remote registry of this home
    rsync: bool


def probe(target: Target, path: str, home: str, run: Run = subprocess.run) -> Remote:
    proc = _ssh(target, _probe_script(path, home), run, "look at")
    lines = proc.stdout.split()
    if len(lines) != 4:
        raise CiloError(f"cannot look at {path} on {target.shown} over ssh: it answered {proc.stdout[:200]!r}")
    boot, where, owner, tool = lines
    try:
        local = f"{_local_stat(path)}"
        same = boot == _boot_id() and where == local
    except OSError:
        same = False
    return Remote(same, where != "absent", owner == "ours", tool == "rsync")


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return "unknown"


def _local_stat(path: str) -> str:
    import os

    st = os.stat(path)
    return f"{st.st_dev}:{st.st_ino}"


def push(target: Target, path: str, home: str, run: Run = subprocess.run) -> str:
    """Copy the folder `path` to the same path on the target's machine; returns how
    (`same folder`, `rsync`, `tar`). Refuses a folder there that cilo did not make."""
    remote = probe(target, path, home, run)
    if remote.same_folder:
        return "same folder"
    if remote.exists and not remote.ours:
        raise CiloError(
            f"{path} already exists on {target.shown}, and cilo did not make it there: it copies the "
            f"workspace to the same path and will not overwrite a folder that may be yours; move it "
            f"away on {target.shown}, or run the copy with --copy (its workspace is then under the cilo home)")
    _ssh(target, _claim_script(path, home), run, "prepare")
    if remote.rsync and shutil.which("rsync"):
        ssh = " ".join(shlex.quote(a) for a in target.ssh()[:-1])
        dest = f"{target.shown}:{path}/"
        _run(["rsync", "-a", "--delete", "-e", ssh, f"{path}/", dest], run, f"copying {path} to {target.shown}")
        return "rsync"
    _tar(target, path, run)
    return "tar"


def _claim_script(path: str, home: str) -> str:
    p, folder = shlex.quote(path), shlex.quote(f"{REGISTRY}/{home}")
    return (f"mkdir -p \"$HOME\"/{folder} && printf '%s\\n' {p} > \"$HOME\"/{folder}/{entry_name(path)} "
            f"&& mkdir -p {p}")


def _tar(target: Target, path: str, run: Run) -> None:
    """A tar stream into a fresh folder beside the old one, then swapped in: files
    removed here are removed there too."""
    p, new = shlex.quote(path), shlex.quote(path + ".cilo-new")
    script = f"rm -rf {new} && mkdir -p {new} && tar -xf - -C {new} && rm -rf {p} && mv {new} {p}"
    tar = subprocess.Popen(["tar", "-cf", "-", "-C", path, "."], stdout=subprocess.PIPE)
    try:
        _run([*target.ssh(), "sh", "-c", shlex.quote(script)], run, f"copying {path} to {target.shown}",
             stdin=tar.stdout)
    finally:
        if tar.stdout:
            tar.stdout.close()
        if tar.wait() != 0:
            raise CiloError(f"tar could not read {path} to copy it to {target.shown}")


def remove(target: Target, path: str, home: str, run: Run = subprocess.run) -> bool:
    """Remove the folder cilo made at `path` on the target's machine (only if its entry
    says cilo made it, and it is not this machine's very folder); whether it did."""
    remote = probe(target, path, home, run)
    if remote.same_folder or not remote.ours:
        return False
    p, entry = shlex.quote(path), shlex.quote(f"{REGISTRY}/{home}/{entry_name(path)}")
    _ssh(target, f"rm -rf {p} {shlex.quote(path + '.cilo-new')} && rm -f \"$HOME\"/{entry}", run, "remove")
    return True


def _ssh(target: Target, script: str, run: Run, what: str) -> subprocess.CompletedProcess[Any]:
    return _run([*target.ssh(), "sh", "-c", shlex.quote(script)], run, f"{what} the workspace on {target.shown}")


def _run(argv: list[str], run: Run, action: str, stdin: Any = None) -> subprocess.CompletedProcess[Any]:
    try:
        proc = run(argv, capture_output=True, text=True, timeout=COPY_TIMEOUT, stdin=stdin, check=False)
    except FileNotFoundError:
        raise CiloError(f"{argv[0]} is not installed; it is needed for {action}") from None
    except subprocess.TimeoutExpired:
        raise CiloError(f"{action} took longer than {COPY_TIMEOUT:.0f} s") from None
    if proc.returncode != 0:
        lines = (proc.stderr or "").strip().splitlines()
        raise CiloError(f"{action} failed over ssh ({lines[-1] if lines else f'exit {proc.returncode}'}); "
                        "check that `ssh` reaches the machine without a password (docker uses the same)")
    return proc
