"""`docker cilo init` against a fake root folder (CILO_ROOT); upstream detection too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from compose_cilo import config
from compose_cilo.dns import resolver, upstreams
from compose_cilo.dns.resolver import MACOS, NETWORKMANAGER, RESOLVED
from compose_cilo.errors import CiloError


def resolved_root(root: Path) -> Path:
    (root / "run/systemd/resolve").mkdir(parents=True)
    (root / "etc").mkdir(parents=True)
    (root / "etc/resolv.conf").symlink_to("../run/systemd/resolve/stub-resolv.conf")
    return root


def nm_root(root: Path) -> Path:
    resolved_root(root)
    (root / "etc/NetworkManager/conf.d").mkdir(parents=True)
    (root / "etc/NetworkManager/NetworkManager.conf").write_text("[main]\nplugins=ifupdown\n")
    (root / "etc/NetworkManager/conf.d/dns.conf").write_text("[main]\ndns=dnsmasq\n")
    return root


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    r = tmp_path / "root"
    r.mkdir()
    monkeypatch.setenv("CILO_ROOT", str(r))
    monkeypatch.setenv("CILO_DNS_PORT", "5354")
    monkeypatch.delenv("CILO_DNS_SUFFIX", raising=False)
    config.clear_cache()
    return r


def test_detection(root: Path) -> None:
    assert resolver.detect_mechanism(root, platform="linux") is None
    assert resolver.detect_mechanism(root, platform="darwin") == MACOS
    resolved_root(root)
    assert resolver.detect_mechanism(root, platform="linux") == RESOLVED


def test_detection_of_networkmanager_dnsmasq(root: Path) -> None:
    nm_root(root)
    assert resolver.detect_mechanism(root, platform="linux") == NETWORKMANAGER
    (root / "etc/NetworkManager/conf.d/zz.conf").write_text("[main]\ndns=systemd-resolved\n")
    assert resolver.detect_mechanism(root, platform="linux") == RESOLVED


@pytest.mark.parametrize("mechanism, path, content", [
    (RESOLVED, "etc/systemd/resolved.conf.d/cilo.conf",
     "[Resolve]\nDNS=127.0.0.1:5354\nDomains=~test\n"),
    (NETWORKMANAGER, "etc/NetworkManager/dnsmasq.d/cilo.conf", "server=/test/127.0.0.1#5354\n"),
    (MACOS, "etc/resolver/test", "nameserver 127.0.0.1\nport 5354\n"),
])
def test_init_writes_one_file_and_uninstall_removes_it(root: Path, mechanism: str, path: str, content: str) -> None:
    plan = resolver.plan_init("test", 5354, root=root, mechanism=mechanism)
    assert [(c.shown, c.action) for c in plan.changes] == [("/" + path, "create")]
    assert resolver.system_route("test", 5354, root, platform=_platform(mechanism)).routed is False
    result = resolver.apply_plan(plan)
    assert result.done == [f"created /{path}"]
    text = (root / path).read_text()
    assert text == f"{resolver.MARKER}\n{content}"
    if mechanism != MACOS:
        assert result.skipped == [" ".join(resolver.RELOAD[mechanism])]  # fake root: not run
    again = resolver.plan_init("test", 5354, root=root, mechanism=mechanism)
    assert [c.action for c in again.changes] == ["unchanged"] and again.commands == []
    moved = resolver.plan_init("test", 6000, root=root, mechanism=mechanism)
    assert [c.action for c in moved.changes] == ["update"]
    gone = resolver.plan_init("test", 5354, root=root, uninstall=True)
    assert [(c.shown, c.action) for c in gone.changes] == [("/" + path, "remove")]
    resolver.apply_plan(gone)
    assert not (root / path).exists()
    nothing = resolver.plan_init("test", 5354, root=root, uninstall=True)
    assert nothing.effective == [] and "nothing to undo" in nothing.notes[0]


def _platform(mechanism: str) -> str:
    return "darwin" if mechanism == MACOS else "linux"


def test_system_route(root: Path) -> None:
    resolved_root(root)
    route = resolver.system_route("test", 5354, root, platform="linux")
    assert not route.routed and "docker cilo init" in route.detail
    resolver.apply_plan(resolver.plan_init("test", 5354, root=root, platform="linux"))
    route = resolver.system_route("test", 5354, root, platform="linux")
    assert route.routed and route.file == "/etc/systemd/resolved.conf.d/cilo.conf"
    assert route.to_json()["routed"] is True
    stale = resolver.system_route("test", 6000, root, platform="linux")
    assert not stale.routed and "out of date" in stale.detail


def test_a_file_cilo_did_not_write_is_never_overwritten_or_removed(root: Path) -> None:
    resolved_root(root)
    foreign = root / "etc/systemd/resolved.conf.d/cilo.conf"
    foreign.parent.mkdir(parents=True)
    foreign.write_text("[Resolve]\nDNS=192.0.2.1\n")
    plan = resolver.plan_init("test", 5354, root=root, platform="linux")
    assert [c.action for c in plan.changes] == ["foreign"]
    with pytest.raises(CiloError, match="was not written by cilo"):
        resolver.apply_plan(plan)
    gone = resolver.plan_init("test", 5354, root=root, uninstall=True)
    assert gone.effective == [] and any("left alone" in n for n in gone.notes)
    assert foreign.read_text() == "[Resolve]\nDNS=192.0.2.1\n"


def test_no_supported_resolver_is_a_clear_error(root: Path) -> None:
    with pytest.raises(CiloError, match="no supported resolver found.*dig @127.0.0.1 -p 5354"):
        resolver.plan_init("test", 5354, root=root, platform="linux")


def test_uninstall_finds_macos_files_of_an_old_suffix(root: Path) -> None:
    resolver.apply_plan(resolver.plan_init("old", 5354, root=root, mechanism=MACOS))
    (root / "etc/resolver/corp").write_text("nameserver 10.0.0.1\n")  # not ours
    gone = resolver.plan_init("test", 5354, root=root, uninstall=True)
    assert [c.shown for c in gone.effective] == ["/etc/resolver/old"]
    resolver.apply_plan(gone)
    assert (root / "etc/resolver/corp").exists()


def test_real_root_goes_through_sudo_only_for_the_files_and_the_reload(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[list[str], Any]] = []
    plan = resolver.InitPlan(mechanism=RESOLVED, root=Path("/"), uninstall=False)
    content = resolver.file_for(RESOLVED, "test", 5354)[1]
    plan.changes.append(resolver.FileChange(Path("/etc/systemd/resolved.conf.d/cilo.conf"),
                                            "/etc/systemd/resolved.conf.d/cilo.conf", "create", content))
    plan.commands.append(resolver.RELOAD[RESOLVED])
    monkeypatch.setattr(resolver.os, "geteuid", lambda: 1000)
    resolver.apply_plan(plan, runner=lambda cmd, input: calls.append((cmd, input)))
    assert calls == [
        (["sudo", "mkdir", "-p", "/etc/systemd/resolved.conf.d"], None),
        (["sudo", "tee", "/etc/systemd/resolved.conf.d/cilo.conf"], content),
        (["sudo", "chmod", "0644", "/etc/systemd/resolved.conf.d/cilo.conf"], None),
        (["sudo", "systemctl", "restart", "systemd-resolved"], None),
    ]


def test_init_command_prints_the_files_it_changes(root: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from compose_cilo.cli.dns import init_command

    resolved_root(root)
    assert init_command(print_only=True, uninstall=False) == 0
    out = capsys.readouterr().out
    assert "create    /etc/systemd/resolved.conf.d/cilo.conf" in out and "Domains=~test" in out
    assert not (root / "etc/systemd/resolved.conf.d/cilo.conf").exists()
    assert init_command(print_only=False, uninstall=False) == 0
    out = capsys.readouterr().out
    assert "created /etc/systemd/resolved.conf.d/cilo.conf" in out
    assert "not run (CILO_ROOT is a fake root): systemctl restart systemd-resolved" in out
    assert init_command(print_only=False, uninstall=False) == 0
    assert "already set up" in capsys.readouterr().out
    assert init_command(print_only=False, uninstall=True) == 0
    assert "removed /etc/systemd/resolved.conf.d/cilo.conf" in capsys.readouterr().out


# ---------------------------------------------------------------- upstream detection


@pytest.fixture
def detect(root: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("CILO_DNS_UPSTREAMS", raising=False)
    (root / "etc").mkdir(exist_ok=True)
    return root


def test_upstreams_come_from_resolveds_real_servers_not_its_stub(detect: Path) -> None:
    (detect / "run/systemd/resolve").mkdir(parents=True)
    (detect / "run/systemd/resolve/resolv.conf").write_text(
        "# real\nnameserver 192.0.2.1\nnameserver 2001:db8::1\nnameserver fe80::1%eth0\nsearch lan\n")
    (detect / "etc/resolv.conf").write_text("nameserver 127.0.0.53\noptions edns0\n")
    ups = upstreams.detect_upstreams(5354, detect, platform="linux")
    assert ups == upstreams.Upstreams(("192.0.2.1", "2001:db8::1"), "/run/systemd/resolve/resolv.conf")


def test_upstreams_skip_stubs_and_ourselves(detect: Path) -> None:
    (detect / "etc/resolv.conf").write_text("nameserver 127.0.0.53\nnameserver 127.0.0.1\n")
    assert upstreams.detect_upstreams(53, detect, platform="linux").servers == ()
    assert upstreams.detect_upstreams(5354, detect, platform="linux").servers == ("127.0.0.1",)
    (detect / "etc/resolv.conf").write_text("nameserver 127.0.0.53\n")
    none = upstreams.detect_upstreams(5354, detect, platform="linux")
    assert none.servers == () and none.source.startswith("none found")


def test_cilo_dns_upstreams_wins(detect: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (detect / "etc/resolv.conf").write_text("nameserver 192.0.2.9\n")
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "")
    assert upstreams.detect_upstreams(5354, detect) == upstreams.Upstreams((), "CILO_DNS_UPSTREAMS")
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "192.0.2.7#5353")
    assert upstreams.detect_upstreams(5354, detect).servers == ("192.0.2.7#5353",)
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", "192.0.2.7\nserver=1.1.1.1")
    with pytest.raises(CiloError):
        upstreams.detect_upstreams(5354, detect)


def test_resolvectl_style_entries_of_our_own_server_are_skipped() -> None:
    found = ["127.0.0.1#5354", "127.0.0.53", "192.0.2.1", "fe80::1%eth0", "junk", "192.0.2.1"]
    assert upstreams._usable(found, 5354) == ["192.0.2.1"]
    assert upstreams._usable(["127.0.0.1", "::1#53"], 53) == []
