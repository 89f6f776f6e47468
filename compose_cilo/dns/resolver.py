"""The system's resolver and `docker cilo init`, which routes *.<suffix> to cilo's dnsmasq
(and undoes it). Where everything else should go is upstreams.py's (`detect_upstreams`).

Three mechanisms, one file each, all marked as ours so --uninstall removes only ours:

    systemd-resolved          /etc/systemd/resolved.conf.d/cilo.conf  (DNS=, Domains=~suffix)
    NetworkManager's dnsmasq  /etc/NetworkManager/dnsmasq.d/cilo.conf  (server=/suffix/...)
    macOS                     /etc/resolver/<suffix>                   (nameserver, port)

Everything is relative to CILO_ROOT (sysroot.py) (default "/") so tests run against a fake root; with a
fake root no service is restarted. Root rights are needed only for these files and the
service reload; a non-root user is asked through sudo for exactly those commands.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import settings
from ..errors import CiloError
from .sysroot import is_fake_root, root_dir
from .sysroot import system_path as _shown

MARKER = "# Managed by compose-cilo (docker cilo init); undo with: docker cilo init --uninstall"
RESOLVED, NETWORKMANAGER, MACOS = "systemd-resolved", "networkmanager-dnsmasq", "macos"
MECHANISMS = (RESOLVED, NETWORKMANAGER, MACOS)

RESOLVED_DROPIN = "etc/systemd/resolved.conf.d/cilo.conf"
NM_DNSMASQ_DROPIN = "etc/NetworkManager/dnsmasq.d/cilo.conf"
MACOS_RESOLVER_DIR = "etc/resolver"
RELOAD = {
    RESOLVED: ["systemctl", "restart", "systemd-resolved"],
    NETWORKMANAGER: ["systemctl", "reload", "NetworkManager"],
    MACOS: [],  # macOS watches /etc/resolver itself
}

Runner = Callable[..., "subprocess.CompletedProcess[str]"]


# ---------------------------------------------------------------- detection


def detect_mechanism(root: Path | None = None, platform: str | None = None) -> str | None:
    """Which resolver this system uses for split DNS, or None when none cilo supports."""
    root = root or root_dir()
    if (platform or sys.platform) == "darwin":
        return MACOS
    if _networkmanager_runs_dnsmasq(root):
        return NETWORKMANAGER
    resolv = root / "etc/resolv.conf"
    target = os.readlink(resolv) if resolv.is_symlink() else ""
    if (root / "run/systemd/resolve").is_dir() or "systemd/resolve" in target:
        return RESOLVED
    return None


def _networkmanager_runs_dnsmasq(root: Path) -> bool:
    nm = root / "etc/NetworkManager"
    files = [nm / "NetworkManager.conf", *sorted((nm / "conf.d").glob("*.conf"))]
    found = False
    for f in files:
        try:
            text = f.read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition("=")
            if key.strip() == "dns":
                found = value.strip() == "dnsmasq"  # later files override earlier ones
    return found


# ---------------------------------------------------------------- plans


@dataclass(frozen=True)
class FileChange:
    path: Path  # under the root
    shown: str  # as the system sees it (/etc/...)
    action: str  # create | update | remove | unchanged | foreign (exists, not ours: left alone)
    content: str | None  # the new content; None when removing


@dataclass
class InitPlan:
    mechanism: str | None
    root: Path
    uninstall: bool
    changes: list[FileChange] = field(default_factory=list)
    commands: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def effective(self) -> list[FileChange]:
        return [c for c in self.changes if c.action in ("create", "update", "remove")]


def file_for(mechanism: str, suffix: str, port: int) -> tuple[str, str]:
    """(path relative to the root, content) of the one file a mechanism needs.

    The suffix and port are checked again here, where they become a system file: a
    newline would add lines to NetworkManager's dnsmasq, a `/` would leave /etc/resolver.
    """
    suffix, port = _checked(suffix, port)
    if mechanism == RESOLVED:
        body = f"[Resolve]\nDNS=127.0.0.1:{port}\nDomains=~{suffix}\n"
        return RESOLVED_DROPIN, f"{MARKER}\n{body}"
    if mechanism == NETWORKMANAGER:
        return NM_DNSMASQ_DROPIN, f"{MARKER}\nserver=/{suffix}/127.0.0.1#{port}\n"
    if mechanism == MACOS:
        return f"{MACOS_RESOLVER_DIR}/{suffix}", f"{MARKER}\nnameserver 127.0.0.1\nport {port}\n"
    raise CiloError(f"unknown resolver mechanism {mechanism!r}")


def _checked(suffix: str, port: int) -> tuple[str, int]:
    try:
        settings.check_suffix(suffix)
    except ValueError as e:
        raise CiloError(f'DNS suffix "{settings.shown(suffix)}" {e}; fix CILO_DNS_SUFFIX') from None
    if isinstance(port, bool) or not isinstance(port, int) or not 0 < port < 65536:
        raise CiloError(f"DNS port {settings.shown(port)} is not a port number 1-65535; fix CILO_DNS_PORT")
    return suffix, port


def _ours(path: Path) -> bool:
    try:
        return path.read_text().startswith(MARKER)
    except (OSError, UnicodeDecodeError):
        return False


def plan_init(
    suffix: str, port: int, *, uninstall: bool = False, root: Path | None = None,
    mechanism: str | None = None, platform: str | None = None,
) -> InitPlan:
    root = root or root_dir()
    mechanism = mechanism or detect_mechanism(root, platform)
    plan = InitPlan(mechanism=mechanism, root=root, uninstall=uninstall)
    if uninstall:
        _plan_uninstall(plan)
    elif mechanism is None:
        raise CiloError(
            "no supported resolver found (systemd-resolved, NetworkManager with dnsmasq, macOS): "
            f"cilo cannot route *.{suffix} for this system; query cilo's DNS directly "
            f"(dig @127.0.0.1 -p {port} web.dev.{suffix}) or point your resolver's "
            f"{suffix} domain at 127.0.0.1 port {port}"
        )
    else:
        rel, content = file_for(mechanism, suffix, port)
        path = root / rel
        plan.changes.append(FileChange(path, _shown(root, path), _action(path, content), content))
    if plan.effective and plan.mechanism and RELOAD[plan.mechanism]:
        plan.commands.append(RELOAD[plan.mechanism])
    return plan


def _action(path: Path, content: str) -> str:
    if not path.exists():
        return "create"
    if not _ours(path):
        return "foreign"
    return "unchanged" if path.read_text() == content else "update"


def _plan_uninstall(plan: InitPlan) -> None:
    root = plan.root
    candidates = [(RESOLVED, root / RESOLVED_DROPIN), (NETWORKMANAGER, root / NM_DNSMASQ_DROPIN)]
    candidates += [(MACOS, f) for f in sorted((root / MACOS_RESOLVER_DIR).glob("*")) if f.is_file()]
    for mechanism, path in candidates:
        if not path.exists():
            continue
        if _ours(path):
            plan.changes.append(FileChange(path, _shown(root, path), "remove", None))
            plan.mechanism = plan.mechanism or mechanism
            if mechanism != plan.mechanism:
                plan.notes.append(f"also removing {_shown(root, path)} ({mechanism})")
        elif mechanism != MACOS:
            plan.notes.append(f"{_shown(root, path)} was not written by cilo: left alone")
    if not plan.effective:
        plan.notes.append("nothing to undo: no file written by docker cilo init was found")


# ---------------------------------------------------------------- applying


@dataclass
class InitResult:
    plan: InitPlan
    done: list[str]  # one line per file changed or command run
    skipped: list[str]  # commands not run (fake root)


def check_plan(plan: InitPlan) -> None:
    """Refuse to overwrite a file cilo did not write."""
    for c in plan.changes:
        if c.action == "foreign":
            raise CiloError(
                f"{c.shown} exists and was not written by cilo; move it away or merge "
                "`docker cilo init --print` into it by hand"
            )


def apply_plan(plan: InitPlan, runner: Runner | None = None) -> InitResult:
    """Write or remove the files, then reload the resolver (only when something changed).

    With the real root and no root rights, every step goes through sudo; with a fake
    root the files are written directly and no command is run.
    """
    check_plan(plan)
    fake = is_fake_root(plan.root)
    sudo = [] if fake or os.geteuid() == 0 else ["sudo"]
    run = runner or _run
    result = InitResult(plan=plan, done=[], skipped=[])
    for c in plan.effective:
        if fake:
            _apply_direct(c)
        else:
            _apply_privileged(c, sudo, run)
        result.done.append(f"{'removed' if c.action == 'remove' else c.action + 'd'} {c.shown}")
    for cmd in plan.commands:
        if fake:
            result.skipped.append(" ".join(cmd))
            continue
        run([*sudo, *cmd], input=None)
        result.done.append("ran " + " ".join([*sudo, *cmd]))
    return result


def _apply_direct(c: FileChange) -> None:
    if c.content is None:
        c.path.unlink(missing_ok=True)
        return
    c.path.parent.mkdir(parents=True, exist_ok=True)
    tmp = c.path.with_name(f".{c.path.name}.cilo-tmp")
    tmp.write_text(c.content)
    tmp.chmod(0o644)
    os.replace(tmp, c.path)


def _apply_privileged(c: FileChange, sudo: list[str], run: Runner) -> None:
    if c.content is None:
        run([*sudo, "rm", "-f", c.shown], input=None)
        return
    run([*sudo, "mkdir", "-p", os.path.dirname(c.shown)], input=None)
    run([*sudo, "tee", c.shown], input=c.content)
    run([*sudo, "chmod", "0644", c.shown], input=None)


def _run(cmd: Sequence[str], input: str | None) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(list(cmd), input=input, text=True, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE)
    except FileNotFoundError:
        raise CiloError(f"{cmd[0]} not found; run `docker cilo init --print` and apply it by hand") from None
    if proc.returncode != 0:
        raise CiloError(
            f"`{' '.join(cmd)}` failed ({proc.stderr.strip() or f'exit {proc.returncode}'}); "
            "run `docker cilo init --print` to see what to change by hand"
        )
    return proc


def describe(plan: InitPlan, with_content: bool) -> str:
    """What init will do (or --print shows): files with their action, then commands."""
    lines = [f"resolver: {plan.mechanism or 'none found'}"]
    for c in plan.changes:
        lines.append(f"  {c.action:9} {c.shown}")
        if with_content and c.content is not None:
            lines += [f"      {line}" for line in c.content.rstrip("\n").splitlines()]
    for cmd in plan.commands:
        lines.append(f"  then run  {' '.join(cmd)}")
    lines += [f"  note: {n}" for n in plan.notes]
    return "\n".join(lines)


# ---------------------------------------------------------------- checking


@dataclass(frozen=True)
class RouteStatus:
    routed: bool
    mechanism: str | None
    file: str | None
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"routed": self.routed, "mechanism": self.mechanism, "file": self.file,
                "detail": self.detail}


def system_route(suffix: str, port: int, root: Path | None = None,
                 platform: str | None = None) -> RouteStatus:
    """Does the OS send *.<suffix> to 127.0.0.1:<port>? (Checks the file init writes.)"""
    root = root or root_dir()
    mechanism = detect_mechanism(root, platform)
    if mechanism is None:
        return RouteStatus(False, None, None, "no supported resolver on this system")
    rel, content = file_for(mechanism, suffix, port)
    path = root / rel
    shown = _shown(root, path)
    if not path.exists():
        return RouteStatus(False, mechanism, shown, f"{shown} is missing; run: docker cilo init")
    if path.read_text() != content:
        what = "was not written by cilo" if not _ours(path) else "is out of date"
        return RouteStatus(False, mechanism, shown, f"{shown} {what}; run: docker cilo init")
    return RouteStatus(True, mechanism, shown, f"*.{suffix} -> 127.0.0.1:{port} via {shown}")
