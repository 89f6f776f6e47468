"""Settings (issue 11 items 3 and 4): every bad value is refused by name, before anything
is written, and cilo never chmods a folder it did not create.

Only public entry points are used (state, dnsmasq, resolver, the CLI), so each test also
shows what happened before settings.py existed. Folders are tmp_path ones made here.
"""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from compose_cilo import config, paths, settings
from compose_cilo.cli import main as app
from compose_cilo.dns import dnsmasq, render, resolver, upstreams
from compose_cilo.dns.resolver import MACOS, NETWORKMANAGER
from compose_cilo.errors import CiloError
from compose_cilo.state import store
from tests.conftest import need

LONG = "a" * 5000
# every setting and the hostile values it must refuse (NUL: see FILE_CORPUS); "" means the default for most
# settings (CILO_DNS_UPSTREAMS="" is "no upstream", valid), so it is checked as a
# config.json value instead, where it is explicit.
HOSTILE: dict[str, list[str]] = {
    "CILO_DNS_SUFFIX": [
        "test\naddress=/bank.example/6.6.6.6", "test/../../etc/passwd", "../x", "a/b", "te#st",
        "te%st", "te\rst", "t" * 300, "tést", "开发", "te st", "-test", "test-", "a..b",
        "te_st", "123", ".", "x" * 64 + ".test",
    ],
    "CILO_DNS_UPSTREAMS": [
        "fe80::1%eth0\nlisten-address=0.0.0.0", "fe80::1%eth0\n", "fe80::1%", "fe80::1%a/b",
        "1.1.1.1\nserver=8.8.8.8", "1.1.1.1#53\nport=53", "1.1.1.1#", "1.1.1.1#0",
        "1.1.1.1#65536", "1.1.1.1#-53", "1.1.1.1%eth0", "dns.google", "/x/1.2.3.4",
        "1.1.1.1\r", LONG, "１.１.１.１", "1.1.1.1#٥٣", "127.0.0.1#{port}",
    ],
    "CILO_DNS_PORT": ["0", "-1", "65536", "99999999999999999999", "53\nport=54", "5_354", " 53",
                      "+53", "0x35", "٥٣٥٤", "53#", "5354/udp", "1e3", "nan", LONG],
    "CILO_BASE_SUBNET": ["10.224.0.0/16\nx", "10.224.0.0", "10.224.0.0/8", "10.224.0.0/28",
                         "10.224.1.0/16", "127.0.0.0/16", "224.0.0.0/16", "fd00::/64",
                         "10.224.0.0/16#x", "１0.224.0.0/16", LONG, "-10.0.0.0/16"],
    "CILO_LOCK_TIMEOUT": ["-1", "nan", "inf", "1e3", "99999999", "1e", "soon", "30s", "\r",
                          "٣٠", LONG],
    "CILO_HOME": ["relative/home", "{tmp}/a\nb", "{tmp}/a\rb", "{tmp}/a#b", "{tmp}/a%b",
                  "{tmp}/a b", "{tmp}/dé", "{tmp}/" + "d" * 1100, "{file}"],
    "CILO_STATE_PATH": ["relative.json", "{tmp}/s\n.json", "{tmp}/s\r.json",
                        "{tmp}/" + "s" * 1100, "{file}/state.json", "{shared}/state.json"],
    "CILO_DNS_CONFIG": ["relative.conf", "{tmp}/c\n.conf", "{tmp}/c#.conf", "{tmp}/c%.conf",
                        "{tmp}/c\r.conf", "{tmp}/cé.conf", "{file}/dnsmasq.conf",
                        "{shared}/dnsmasq.conf"],
    "CILO_HELPER_IMAGE": ["Busybox", "busybox\n--privileged", "busybox --privileged", "-v/:/h",
                          "busybox:", "busybox@sha256:xyz", "a" * 300, "bü", "busybox;id", "-x/busybox"],
}
CORPUS = [pytest.param(var, value, id=f"{var}-{i}") for var, values in HOSTILE.items()
          for i, value in enumerate(values)]
FILE_CORPUS = [
    ("dns_suffix", "evil\nserver=/x/1.2.3.4"), ("dns_suffix", ""), ("dns_suffix", 5),
    ("dns_suffix", "a/b"), ("dns_port", "5354x"), ("dns_port", True), ("dns_port", 0),
    ("dns_port", 1e9), ("dns_port", None), ("dns_upstreams", ["fe80::1%eth0\nlisten-address=0.0.0.0"]),
    ("dns_upstreams", [1]), ("dns_upstreams", {"a": 1}), ("base_subnet", ["10.224.0.0/16"]),
    ("base_subnet", "10.224.0.0/16\n"), ("lock_timeout", -5), ("lock_timeout", "nan"),
    ("lock_timeout", 1e300), ("lock_timeout", False), ("state_path", "rel.json"),
    ("state_path", 7), ("dns_config", "/x y.conf"), ("home", "/elsewhere"),
    # NUL cannot be in an environment variable, but can be in JSON
    ("dns_suffix", "te\x00st"), ("dns_upstreams", "1.1.1.1\x00"), ("state_path", "/s\x00.json"),
    ("dns_config", "/c\x00.conf"), ("base_subnet", "10.224.0.0/16\x00"), ("dns_port", "53\x00"),
    ("helper_image", ["busybox"]), ("helper_image", "busybox\x00"), ("helper_image", "-it"),
]


def _tree(root: Path) -> dict[str, tuple[int, bytes]]:
    return {str(p.relative_to(root)): (p.lstat().st_mode, p.read_bytes() if p.is_file() else b"")
            for p in sorted(root.rglob("*"))}


def _fill(value: str, tmp: Path, port: str) -> str:
    (tmp / "afile").write_text("x")
    shared = tmp / "shared"
    shared.mkdir(exist_ok=True)
    shared.chmod(0o777)
    return (value.replace("{tmp}", str(tmp)).replace("{file}", str(tmp / "afile"))
            .replace("{shared}", str(shared)).replace("{port}", port))


@pytest.fixture(autouse=True)
def no_config_json_after(cilo_home: Path):  # type: ignore[no-untyped-def]
    yield
    (cilo_home / "config.json").unlink(missing_ok=True)  # so the session can stop dnsmasq
    config.clear_cache()


@pytest.fixture
def sandbox(tmp_path: Path, cilo_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fake root with NetworkManager's dnsmasq (for init), no dnsmasq binary."""
    root = tmp_path / "root"
    (root / "etc/NetworkManager/conf.d").mkdir(parents=True)
    (root / "etc/NetworkManager/conf.d/dns.conf").write_text("[main]\ndns=dnsmasq\n")
    monkeypatch.setenv("CILO_ROOT", str(root))
    monkeypatch.setenv("CILO_DNSMASQ", "")
    config.clear_cache()
    return tmp_path


def _write_state() -> None:
    with store.mutate():
        pass


def _cli_refuses(capsys: pytest.CaptureFixture[str], name: str) -> None:
    for argv in (["init"], ["list"], ["state", "show"]):
        config.clear_cache()
        code = app.run(argv)
        err = capsys.readouterr().err
        assert code != 0 and name in err and "unexpected error" not in err, (argv, err)
        assert "Traceback" not in err


@pytest.mark.parametrize("var, value", CORPUS)
def test_hostile_settings_are_refused_by_name_and_nothing_is_written(
        var: str, value: str, sandbox: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(var, _fill(value, sandbox, os.environ["CILO_DNS_PORT"]))
    before = _tree(sandbox)
    for attempt in (_write_state, lambda: dnsmasq.sync({"version": 5, "hosts": {}})):
        config.clear_cache()
        with pytest.raises(CiloError) as e:
            attempt()
        assert var in str(e.value) and "\n" not in str(e.value).split(";")[0], str(e.value)
    _cli_refuses(capsys, var)
    assert _tree(sandbox) == before  # no state, no lock, no dnsmasq config, no system file


@pytest.mark.parametrize("key, value", FILE_CORPUS, ids=[f"{k}-{i}" for i, (k, _) in enumerate(FILE_CORPUS)])
def test_hostile_config_json_values_are_refused_by_key(
        key: str, value: object, sandbox: Path, cilo_home: Path,
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("CILO_DNS_PORT", "CILO_DNS_UPSTREAMS"):
        monkeypatch.delenv(var)
    (cilo_home / "config.json").write_text(json.dumps({key: value}))
    (cilo_home / "config.json").chmod(0o600)
    before = _tree(sandbox)
    config.clear_cache()
    with pytest.raises(CiloError) as e:
        _write_state()
    assert f'"{key}"' in str(e.value) and str(cilo_home / "config.json") in str(e.value)
    _cli_refuses(capsys, f'"{key}"')
    assert _tree(sandbox) == before


def test_all_bad_values_are_reported_together(monkeypatch: pytest.MonkeyPatch,
                                              cilo_home: Path) -> None:
    monkeypatch.setenv("CILO_DNS_SUFFIX", "a\nb")
    monkeypatch.setenv("CILO_DNS_PORT", "0")
    monkeypatch.setenv("CILO_LOCK_TIMEOUT", "-1")
    (cilo_home / "config.json").write_text('{"base_subnet": "10.224.1.0/16", "nope": 1}')
    config.clear_cache()
    with pytest.raises(CiloError) as e:
        _write_state()
    lines = str(e.value).splitlines()
    assert lines[0] == "5 settings are invalid:"
    assert [line.split()[0] for line in lines[1:]] == [
        "config", 'CILO_DNS_SUFFIX="a\\nb"', 'CILO_DNS_PORT="0"', "base", 'CILO_LOCK_TIMEOUT="-1"']
    assert "has the unknown key \"nope\"" in lines[1]
    assert "host bits set" in lines[4] and "config.json" in lines[4]
    assert not list(cilo_home.iterdir())[1:]  # only config.json: nothing written


# ---------------------------------------------------------------- item 4: rendered values


def test_an_ipv6_scope_cannot_carry_new_config_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    bad = "fe80::1%eth0\nlisten-address=0.0.0.0"
    with pytest.raises(CiloError, match="CILO_DNS_UPSTREAMS"):
        render.parse_upstreams(bad)
    assert render.parse_upstreams("fe80::1%eth0, fe80::2%3#5353") == ["fe80::1%eth0", "fe80::2%3#5353"]
    monkeypatch.setenv("CILO_DNS_UPSTREAMS", bad)
    config.clear_cache()
    with pytest.raises(CiloError, match="CILO_DNS_UPSTREAMS"):
        upstreams.detect_upstreams(5354)


@pytest.mark.parametrize("suffix", ["test\naddress=/bank.example/6.6.6.6", "../../../tmp/x", "a/b",
                                    "test\x00", "", "te st"])
def test_init_refuses_a_suffix_that_would_escape_its_file(suffix: str, tmp_path: Path) -> None:
    for mechanism in (NETWORKMANAGER, MACOS):
        with pytest.raises(CiloError, match="DNS suffix"):
            resolver.file_for(mechanism, suffix, 5354)
    with pytest.raises(CiloError, match="DNS suffix"):
        resolver.plan_init(suffix, 5354, root=tmp_path, mechanism=MACOS)
    assert not list(tmp_path.iterdir())


def test_init_with_a_newline_in_cilo_dns_suffix_writes_nothing(
        sandbox: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CILO_DNS_SUFFIX", "test\naddress=/bank.example/6.6.6.6")
    config.clear_cache()
    assert app.run(["init"]) == 1
    assert "CILO_DNS_SUFFIX" in capsys.readouterr().err
    assert not (sandbox / "root/etc/NetworkManager/dnsmasq.d").exists()


@pytest.mark.parametrize("field, value", [("suffix", "test\nserver=8.8.8.8"), ("suffix", "a/b"),
                                          ("port", 0), ("port", "53\nport=54")])
def test_the_dnsmasq_renderer_checks_its_values_again(field: str, value: object) -> None:
    from dataclasses import replace

    from compose_cilo.dns import zone

    recs = zone.records({"version": 5, "hosts": {}}, "test")
    kw = {"port": 5354, "hosts_dir": "/h/dns/hosts.d", "servers_file": "/h/dns/w.servers",
          "upstreams": ()}
    if field == "suffix":
        recs = replace(recs, suffix=value)
    else:
        kw["port"] = value
    with pytest.raises(CiloError):
        render.render_main_config(recs, **kw)  # type: ignore[arg-type]
    with pytest.raises(CiloError):
        render.render_wildcard_servers({"x.test\nserver=1.1.1.1": 5300})


# ---------------------------------------------------------------- item 3: folders


def test_a_state_path_in_a_shared_folder_without_sticky_bit_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("CILO_STATE_PATH", str(shared / "x.json"))
    config.clear_cache()
    with pytest.raises(CiloError, match=f"CILO_STATE_PATH=\"{shared}/x.json\" is in {shared}, "
                                        r"which other users can write to \(mode 0777\) without "
                                        rf"the sticky bit.*run: chmod \+t {shared}"):
        _write_state()
    assert app.run(["list"]) == 1 and "without the sticky bit" in capsys.readouterr().err
    assert stat.S_IMODE(shared.stat().st_mode) == 0o777 and not list(shared.iterdir())


def test_a_state_path_in_a_sticky_shared_folder_leaves_the_folder_alone(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    monkeypatch.setenv("CILO_STATE_PATH", str(sticky / "x.json"))
    config.clear_cache()
    _write_state()
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777  # was chmod-ed to 0700 (as root: /tmp)
    assert stat.S_IMODE((sticky / "x.json").stat().st_mode) == 0o600
    assert stat.S_IMODE((sticky / "x.json.lock").stat().st_mode) == 0o600


def test_a_state_file_of_another_user_in_a_sticky_folder_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need("root", os.geteuid() == 0, "needs root to give a file to another user")
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    (sticky / "x.json").write_text('{"version": 5, "hosts": {}}')
    os.chown(sticky / "x.json", 65534, 65534)
    monkeypatch.setenv("CILO_STATE_PATH", str(sticky / "x.json"))
    config.clear_cache()
    with pytest.raises(CiloError, match="not a file of yours"):
        store.read_state()


def test_an_existing_home_is_never_chmodded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(0o755)
    monkeypatch.setenv("CILO_HOME", str(home))
    config.clear_cache()
    _write_state()
    paths.ensure_private_dir(home / "envs" / "shop" / "dev")
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    for made in (home / "envs", home / "envs/shop", home / "envs/shop/dev"):
        assert stat.S_IMODE(made.stat().st_mode) == 0o700, made


def test_a_home_created_in_a_sticky_folder_is_private_and_the_folder_untouched(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sticky = tmp_path / "sticky"
    sticky.mkdir()
    sticky.chmod(0o1777)
    monkeypatch.setenv("CILO_HOME", str(sticky / "me" / "cilo"))
    config.clear_cache()
    _write_state()
    assert stat.S_IMODE(sticky.stat().st_mode) == 0o1777
    assert stat.S_IMODE((sticky / "me").stat().st_mode) == 0o700  # parents too, not umask's
    assert stat.S_IMODE((sticky / "me/cilo").stat().st_mode) == 0o700


@pytest.mark.parametrize("mode", [0o1777, 0o777, 0o775])
def test_a_home_others_can_write_to_is_refused_and_left_alone(
        mode: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    home.mkdir()
    home.chmod(mode)
    monkeypatch.setenv("CILO_HOME", str(home))
    config.clear_cache()
    with pytest.raises(CiloError, match=f"CILO_HOME=\"{home}\" is a folder other users can write "
                                        f"to \\(mode {mode:04o}\\)"):
        _write_state()
    assert stat.S_IMODE(home.stat().st_mode) == mode and not list(home.iterdir())


def test_a_home_inside_a_shared_folder_without_sticky_bit_is_refused(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    monkeypatch.setenv("CILO_HOME", str(shared / "cilo"))
    config.clear_cache()
    with pytest.raises(CiloError, match="without the sticky bit"):
        _write_state()
    assert not list(shared.iterdir())


def test_cilo_home_pointing_at_a_file_is_one_clear_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "file"
    f.write_text("not a folder")
    monkeypatch.setenv("CILO_HOME", str(f))
    for argv in (["list"], ["state", "show"], ["dns", "render"]):
        config.clear_cache()
        assert app.run(argv) == 1
        err = capsys.readouterr().err
        assert err == (f'error: CILO_HOME="{f}" is a file, not a folder; point CILO_HOME at a '
                       "folder (cilo creates it if missing)\n"), err
    assert f.read_text() == "not a folder"


def test_a_config_file_others_can_change_is_refused(cilo_home: Path) -> None:
    (cilo_home / "config.json").write_text('{"dns_suffix": "test"}')
    (cilo_home / "config.json").chmod(0o666)
    config.clear_cache()
    with pytest.raises(CiloError, match="config file .* only you can change"):
        _write_state()


def test_good_settings_from_both_sources(cilo_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CILO_DNS_UPSTREAMS")
    monkeypatch.delenv("CILO_DNS_PORT")
    monkeypatch.setenv("CILO_DNS_SUFFIX", "Dev.Internal.")
    (cilo_home / "config.json").write_text(json.dumps({
        "dns_port": 5399, "dns_upstreams": ["192.0.2.1", "fe80::1%eth0#5353"], "lock_timeout": 2.5,
        "base_subnet": "10.230.0.0/16"}))
    config.clear_cache()
    assert (config.dns_suffix(), config.dns_port(), config.base_subnet()) == (
        "dev.internal", 5399, "10.230.0.0/16")
    assert store.lock_timeout() == 2.5
    ups = upstreams.detect_upstreams(5399)
    assert ups.servers == ("192.0.2.1", "fe80::1%eth0#5353")
    assert ups.source == f"dns_upstreams in {cilo_home / 'config.json'}"


def test_the_helper_image_is_a_validated_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings.load().helper_image is None  # unset: the environment's own image
    for good in ("busybox", "busybox:1.36", "registry.local:5000/tools/busybox:latest",
                 "busybox@sha256:" + "a" * 64):
        monkeypatch.setenv("CILO_HELPER_IMAGE", good)
        assert settings.load().helper_image == good



def test_reach_and_the_router_are_validated_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    s = settings.load()
    assert (s.reach, s.router_image, s.router_http_port, s.router_https_port) == ("auto", "caddy:2", 80, 443)
    monkeypatch.setenv("CILO_REACH", "router")
    monkeypatch.setenv("CILO_ROUTER_IMAGE", "cilo-test/caddy")
    monkeypatch.setenv("CILO_ROUTER_HTTP_PORT", "18080")
    monkeypatch.setenv("CILO_ROUTER_HTTPS_PORT", "18443")
    s = settings.load()
    assert (s.reach, s.router_image, s.router_http_port, s.router_https_port) == (
        "router", "cilo-test/caddy", 18080, 18443)
    monkeypatch.setenv("CILO_REACH", "tunnel")
    monkeypatch.setenv("CILO_ROUTER_HTTPS_PORT", "99999")
    with pytest.raises(settings.SettingsError) as e:
        settings.load()
    assert 'CILO_REACH="tunnel" is not one of auto, direct, router' in str(e.value)
    assert 'CILO_ROUTER_HTTPS_PORT="99999" is not a port number 1-65535' in str(e.value)
    assert e.value.env_vars == ["CILO_REACH", "CILO_ROUTER_HTTPS_PORT"]
