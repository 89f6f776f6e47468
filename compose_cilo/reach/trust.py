"""`docker cilo trust`: the router's local CA, so browsers and tools accept its HTTPS.

Caddy's `tls internal` signs every routed name with the router's own root CA, made when
the router first starts and kept in its data volume. `trust` copies that certificate
(never its key) to a file of the cilo home, and installs it where the system and common
browsers look, or prints the exact commands where that needs privileges. The plan is a
pure function of the operating system and what is installed, so it is tested without
touching any trust store.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from ..errors import CiloError, NotFound

if TYPE_CHECKING:
    from ..queries import Context

CA_NAME = "cilo local CA"


class Step(NamedTuple):
    """One command that installs the CA somewhere."""

    where: str  # in words: "the system's trust store (Debian, Ubuntu)"
    argv: tuple[str, ...]
    needs_root: bool


def fetch_ca(ctx: Context, home: str | None) -> str:
    """The running router's CA certificate (PEM)."""
    from . import router

    found = router.running(ctx, home) if home else None
    if found is None:
        raise CiloError("cilo's router is not running, so it has no CA to trust yet: it starts with the "
                        "first copy in router mode (docker cilo up ENV with CILO_REACH=router, or on "
                        "Docker Desktop and remote engines); then run docker cilo trust again")
    try:
        pem = ctx.engine.read_file(found.name, router.CA_PATH)
    except NotFound:
        raise CiloError(f"cilo's router {found.name} has made no CA yet (it makes one for its first "
                        "HTTPS name); wait a second and run docker cilo trust again") from None
    if "BEGIN CERTIFICATE" not in pem:
        raise CiloError(f"cilo's router {found.name}: {router.CA_PATH} is not a PEM certificate")
    return pem


def plan(ca: Path, system: str, home: Path, *, is_dir: Callable[[str], bool] = os.path.isdir,
         which: Callable[[str], str | None] = shutil.which) -> list[Step]:
    """The commands that install `ca` on this `system` (sys.platform), for the user whose
    home folder is `home`; `is_dir`/`which` find what is installed."""
    steps: list[Step] = []
    if system == "darwin":
        steps.append(Step("the macOS system keychain (Safari, Chrome, curl)",
                          ("sudo", "security", "add-trusted-cert", "-d", "-r", "trustRoot",
                           "-k", "/Library/Keychains/System.keychain", str(ca)), True))
        return steps
    if system.startswith("win"):
        return [Step("the Windows root store", ("certutil", "-addstore", "-f", "ROOT", str(ca)), True)]
    if is_dir("/usr/local/share/ca-certificates"):
        target = "/usr/local/share/ca-certificates/cilo-local-ca.crt"
        steps.append(Step("the system's trust store (Debian, Ubuntu)", ("cp", str(ca), target), True))
        steps.append(Step("the system's trust store (Debian, Ubuntu)", ("update-ca-certificates",), True))
    elif is_dir("/etc/pki/ca-trust/source/anchors"):
        target = "/etc/pki/ca-trust/source/anchors/cilo-local-ca.crt"
        steps.append(Step("the system's trust store (Fedora, RHEL)", ("cp", str(ca), target), True))
        steps.append(Step("the system's trust store (Fedora, RHEL)", ("update-ca-trust",), True))
    nssdb = home / ".pki" / "nssdb"
    if is_dir(str(nssdb)) and which("certutil"):
        steps.append(Step("Chrome and Chromium (your NSS database)",
                          ("certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", CA_NAME, "-i", str(ca)),
                          False))
    return steps


def shown(step: Step, root: bool) -> str:
    """The command line as the user would type it (sudo where it needs root)."""
    import shlex

    argv = step.argv if root or not step.needs_root or step.argv[0] == "sudo" else ("sudo", *step.argv)
    return shlex.join(argv)


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def _run(argv: list[str]) -> int:
    import subprocess

    return subprocess.run(argv, check=False).returncode


def install(steps: list[Step], run: Callable[[list[str]], int] = _run) -> list[str]:
    """Run the steps this process may run (those needing root only as root); where the CA
    was installed, in words."""
    done = []
    for step in steps:
        if step.needs_root and not is_root() or step.argv[0] == "sudo":
            continue
        code = run(list(step.argv))
        if code != 0:
            raise CiloError(f"installing cilo's CA in {step.where}: {' '.join(step.argv)} exited {code}")
        done.append(step.where)
    return list(dict.fromkeys(done))


def current_system() -> str:
    return sys.platform
