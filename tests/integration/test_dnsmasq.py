"""A real dnsmasq on a free port of 127.0.0.1, no upstream, queried with real DNS packets."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from compose_cilo.dns import dnsmasq, process, query, zone
from compose_cilo.errors import CiloError
from tests.fakes import envs_of

from .dns_fixtures import DnsEnv, dns_env, environment, envs_of, service, state_doc  # noqa: F401

pytestmark = pytest.mark.dnsmasq


def shop_dev() -> dict[str, Any]:
    return environment("shop", "dev", "10.224.3.0/24", {
        "nginx": service("10.224.3.10"),
        "web": service("10.224.3.20", hostnames=("admin",)),
        "worker": service(None, replicas=["10.224.3.31", "10.224.3.32", "10.224.3.33"]),
    })


def base_doc() -> dict[str, Any]:
    return state_doc({"shop/dev": shop_dev()})


def test_started_on_demand_and_served_when_sync_returns(dns_env: DnsEnv) -> None:
    assert dnsmasq.running_pid() is None
    result = dnsmasq.sync(base_doc())
    assert result.served and result.started, result.message
    assert dnsmasq.running_pid() == result.pid
    # No sleep: the names must answer the moment sync returns.
    assert dns_env.ips("web.dev.test") == ["10.224.3.20"]
    assert dns_env.ips("web.shop.dev.test") == ["10.224.3.20"]
    assert dns_env.ips("admin.dev.test") == ["10.224.3.20"]
    assert dns_env.ips("admin.shop.dev.test") == ["10.224.3.20"]
    assert dns_env.ips("worker.dev.test") == ["10.224.3.31", "10.224.3.32", "10.224.3.33"]
    assert dns_env.ips("shop.dev.test") == ["10.224.3.10"]
    # The wildcard answers the ingress, but exact names below it keep their own address.
    assert dns_env.ips("anything.shop.dev.test") == ["10.224.3.10"]
    assert dns_env.ips("a.b.shop.dev.test") == ["10.224.3.10"]
    assert dns_env.ips("worker.shop.dev.test") == ["10.224.3.31", "10.224.3.32", "10.224.3.33"]


def test_aaaa_and_other_types_are_nodata_not_nxdomain_nor_forwarded(dns_env: DnsEnv) -> None:
    dnsmasq.sync(base_doc())
    for name in ("web.dev.test", "web.shop.dev.test", "shop.dev.test", "x.shop.dev.test"):
        for qtype in ("AAAA", "MX", "TXT"):
            ans = dns_env.query(name, qtype)
            assert (ans.status, ans.addresses) == ("NOERROR", ()), (name, qtype)


def test_unknown_names_under_the_suffix_are_a_fast_nxdomain(dns_env: DnsEnv) -> None:
    dnsmasq.sync(base_doc())
    worst = 0.0
    for name in ("nope.test", "web.nope.test", "db.dev.test", "x.y.z.test", "shop.dev2.test"):
        t = time.monotonic()
        ans = dns_env.query(name)
        worst = max(worst, time.monotonic() - t)
        assert ans.nxdomain, name
    print(f"\nslowest NXDOMAIN: {worst * 1000:.2f} ms")
    assert worst < 0.5  # answered locally; a forward would time out (no upstream)
    # Outside the suffix, with no upstream configured: refused at once, never forwarded.
    assert dns_env.query("example.com").status == "REFUSED"


def test_removed_and_stopped_environments_are_nxdomain_at_once(dns_env: DnsEnv) -> None:
    doc = base_doc()
    envs_of(doc)["blog/qa"] = environment("blog", "qa", "10.224.4.0/24", {"api": service("10.224.4.2")})
    dnsmasq.sync(doc)
    assert dns_env.ips("api.qa.test") == ["10.224.4.2"]
    envs_of(doc)["blog/qa"]["status"] = "stopped"
    result = dnsmasq.sync(doc)
    assert result.served and not result.restarted and result.files_removed == ["blog.qa.hosts"]
    assert dns_env.query("api.qa.test").nxdomain
    assert dns_env.query("api.blog.qa.test").nxdomain
    del envs_of(doc)["shop/dev"]
    result = dnsmasq.sync(doc)
    assert result.served and not result.restarted
    for name in ("web.dev.test", "shop.dev.test", "x.shop.dev.test", "admin.dev.test"):
        assert dns_env.query(name).nxdomain, name
    assert not list((dns_env.home / "dns/hosts.d").iterdir())
    assert dnsmasq.responder_pids() == {}  # no wildcard left: no responder
    assert not list((dns_env.home / "dns/wildcards").glob("*"))


def test_exact_name_changes_are_live_without_a_restart(dns_env: DnsEnv) -> None:
    doc = base_doc()
    first = dnsmasq.sync(doc)
    envs_of(doc)["shop/dev"]["services"]["web"] = service("10.224.3.21", hostnames=("admin", "ops"))
    envs_of(doc)["api/dev2"] = environment("api", "dev2", "10.224.9.0/24", {"db": service("10.224.9.5")})
    result = dnsmasq.sync(doc)
    assert result.served and not result.restarted and result.pid == first.pid
    assert dns_env.ips("web.dev.test") == ["10.224.3.21"]
    assert dns_env.ips("ops.shop.dev.test") == ["10.224.3.21"]
    assert dns_env.ips("db.dev2.test") == ["10.224.9.5"]
    print(f"\nexact-name change served {result.wait_ms} ms after the rename ({result.probes})")


def test_two_projects_with_the_same_env_name(dns_env: DnsEnv) -> None:
    doc = base_doc()
    envs_of(doc)["blog/dev"] = environment("blog", "dev", "10.224.4.0/24", {
        "web": service("10.224.4.20"), "search": service("10.224.4.7")})
    dnsmasq.sync(doc)
    assert dns_env.query("web.dev.test").nxdomain  # ambiguous: served by neither
    assert dns_env.ips("web.shop.dev.test") == ["10.224.3.20"]
    assert dns_env.ips("web.blog.dev.test") == ["10.224.4.20"]
    assert dns_env.ips("search.dev.test") == ["10.224.4.7"]
    assert zone.names_for_env(doc, "shop/dev", "test")["web"][0] == "web.shop.dev.test"


def test_stale_pid_file_naming_another_process_is_never_signalled(dns_env: DnsEnv) -> None:
    paths = dnsmasq.dns_paths()
    paths.dir.mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        paths.server.pid.write_text(f"{sleeper.pid}\n")
        assert dnsmasq.running_pid() is None
        assert not dnsmasq.status().running
        assert dnsmasq.stop() is False
        result = dnsmasq.sync(base_doc())
        assert result.served and result.started and result.pid != sleeper.pid
        assert dnsmasq.stop() is True
        assert sleeper.poll() is None, "cilo signalled a process that is not its dnsmasq"
    finally:
        sleeper.kill()
        sleeper.wait()


def test_a_dnsmasq_that_is_not_ours_is_never_signalled_or_counted(dns_env: DnsEnv, tmp_path: Path) -> None:
    from .dns_fixtures import free_port

    conf = tmp_path / "foreign.conf"
    conf.write_text(f"port={free_port()}\nlisten-address=127.0.0.1\nbind-interfaces\nno-resolv\nno-hosts\n")
    pidfile = tmp_path / "foreign.pid"
    subprocess.run([dns_env.binary, f"--conf-file={conf}", f"--pid-file={pidfile}"], check=True)
    foreign = int(pidfile.read_text())
    try:
        paths = dnsmasq.dns_paths()
        paths.dir.mkdir(parents=True, exist_ok=True)
        paths.server.pid.write_text(f"{foreign}\n")
        assert dnsmasq.running_pid() is None
        assert dnsmasq.stop() is False
        assert dnsmasq.sync(base_doc()).started
        dnsmasq.stop()
        os.kill(foreign, 0)  # still alive
    finally:
        os.kill(foreign, signal.SIGTERM)


def test_a_killed_dnsmasq_is_started_again(dns_env: DnsEnv) -> None:
    first = dnsmasq.sync(base_doc())
    os.kill(first.pid, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while dnsmasq.running_pid() is not None and time.monotonic() < deadline:
        time.sleep(0.01)
    again = dnsmasq.sync(base_doc())
    assert again.served and again.started and again.pid != first.pid
    assert dns_env.ips("web.dev.test") == ["10.224.3.20"]


def test_port_taken_is_reported_not_raised(dns_env: DnsEnv) -> None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", dns_env.port))
        result = dnsmasq.sync(base_doc())
    assert not result.served
    assert "CILO_DNS_PORT" in result.message and str(dns_env.port) in result.message
    assert (dns_env.home / "dns/hosts.d/shop.dev.hosts").exists()


def test_hostile_state_is_refused_before_anything_is_written(dns_env: DnsEnv) -> None:
    doc = base_doc()
    envs_of(doc)["shop/dev"]["services"]["web"]["hostnames"] = ["x\naddress=/#/1.2.3.4"]
    with pytest.raises(CiloError, match='service "web"'):
        dnsmasq.sync(doc)
    assert not (dns_env.home / "dns/dnsmasq.conf").exists()
    assert dnsmasq.running_pid() is None


def test_wildcard_changes_switch_responders_and_never_restart_the_server(dns_env: DnsEnv) -> None:
    doc = base_doc()
    envs_of(doc)["blog/qa"] = environment("blog", "qa", "10.224.4.0/24", {"web": service("10.224.4.2")})
    first = dnsmasq.sync(doc)
    assert first.responders_started == ["blog/qa", "shop/dev"]
    blog_pid = dnsmasq.responder_pids()["blog.qa"]
    switches = []
    for i in range(5):
        envs_of(doc)["shop/dev"]["services"]["nginx"] = service(f"10.224.3.{40 + i}")
        result = dnsmasq.sync(doc)
        assert result.served and not result.restarted and result.pid == first.pid
        assert result.responders_started == ["shop/dev"]
        assert dns_env.ips("x.shop.dev.test") == [f"10.224.3.{40 + i}"]
        assert dns_env.ips("shop.dev.test") == [f"10.224.3.{40 + i}"]
        switches.append(result.wildcard_switch_ms)
    pids = dnsmasq.responder_pids()
    assert pids["blog.qa"] == blog_pid and len(pids["shop.dev"]) == 1  # old ones retired
    print(f"\nwildcard responder switches (start to served), ms: {switches}")


def test_server_restarts_only_when_its_own_config_changes_and_the_gap_is_measured(
        dns_env: DnsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    doc = base_doc()
    first = dnsmasq.sync(doc)
    assert not dnsmasq.sync(doc).restarted  # nothing changed
    gaps = []
    for i in range(5):
        # An upstream on loopback port 9 (discard): a config change, and nothing leaves the host.
        monkeypatch.setenv("CILO_DNS_UPSTREAMS", f"127.0.0.1#{9 + i % 2}")
        result = dnsmasq.sync(doc)
        assert result.served and result.restarted and result.config_changed
        assert result.pid != first.pid and dns_env.ips("web.dev.test") == ["10.224.3.20"]
        gaps.append(result.restart_gap_ms)
    gaps.append(dnsmasq.restart(doc).restart_gap_ms)
    print(f"\nserver restart gaps (SIGTERM to first answer), ms: {gaps}")


def test_a_killed_or_leftover_responder_is_replaced_or_retired(dns_env: DnsEnv) -> None:
    doc = base_doc()
    dnsmasq.sync(doc)
    [first] = dnsmasq.responder_pids()["shop.dev"]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 3
    while dnsmasq.responder_pids() and time.monotonic() < deadline:
        time.sleep(0.01)
    again = dnsmasq.sync(doc)
    assert again.responders_started == ["shop/dev"]
    [second] = dnsmasq.responder_pids()["shop.dev"]
    assert second != first and dns_env.ips("x.shop.dev.test") == ["10.224.3.10"]
    # A responder left behind by an interrupted switch is retired by the next sync.
    p = dnsmasq.dns_paths()
    proc = p.responder("shop/dev")
    saved_pid, conf = proc.pid.read_text(), proc.config.read_text()
    port = process.free_port()
    proc.config.write_text("\n".join(
        f"port={port}" if line.startswith("port=") else line for line in conf.splitlines()) + "\n")
    extra = process.spawn(dns_env.binary, proc, p, port)
    proc.config.write_text(conf)
    proc.pid.write_text(saved_pid)
    assert sorted(dnsmasq.responder_pids()["shop.dev"]) == sorted([second, extra])
    result = dnsmasq.sync(doc)
    assert result.served and result.responders_started == []
    assert dnsmasq.responder_pids()["shop.dev"] == [second]


def _hammer(env: DnsEnv, names: dict[str, list[str]], stop: threading.Event,
            counts: dict[str, int]) -> None:
    """Query the live names back to back; a failure is any query without the right answer."""
    while not stop.is_set():
        for name, want in names.items():
            try:
                ok = sorted(env.query(name, timeout=1.0).addresses) == want
            except query.DnsQueryError:
                ok = False
            counts["queries"] += 1
            if not ok:
                counts["failed"] += 1
                counts[f"failed {name}"] = counts.get(f"failed {name}", 0) + 1


def _churn(dns_env: DnsEnv, churn_services: list[str]) -> dict[str, Any]:
    doc = state_doc({"live/main": environment("live", "main", "10.224.1.0/24", {
        "web": service("10.224.1.10"), "db": service("10.224.1.11")})})
    assert dnsmasq.sync(doc).served
    live = {"web.main.test": ["10.224.1.10"], "db.live.main.test": ["10.224.1.11"],
            "anything.live.main.test": ["10.224.1.10"]}  # the last one via the wildcard
    counts = {"queries": 0, "failed": 0}
    stop = threading.Event()
    t = threading.Thread(target=_hammer, args=(dns_env, live, stop, counts))
    t.start()
    restarts, switches = 0, 0
    try:
        for i in range(20):
            key, subnet = f"churn{i}/e{i}", f"10.224.{100 + i}.0/24"
            services = {name: service(f"10.224.{100 + i}.{n + 2}") for n, name in enumerate(churn_services)}
            envs_of(doc)[key] = environment(f"churn{i}", f"e{i}", subnet, services)
            created = dnsmasq.sync(doc)
            assert created.served, created.message
            assert dns_env.ips(f"{churn_services[0]}.e{i}.test") == [f"10.224.{100 + i}.2"]
            del envs_of(doc)[key]
            destroyed = dnsmasq.sync(doc)
            assert destroyed.served and dns_env.query(f"{churn_services[0]}.e{i}.test").nxdomain
            restarts += created.restarted + destroyed.restarted
            switches += len(created.responders_started) + len(destroyed.responders_stopped)
    finally:
        stop.set()
        t.join()
    return {**counts, "server_restarts": restarts, "responders_started_or_stopped": switches}


@pytest.mark.parametrize("churn_services", [["api", "db", "worker"], ["web", "db"]],
                         ids=["plain-environments", "environments-with-ingress"])
def test_churn_of_20_environments_never_interrupts_live_names(dns_env: DnsEnv, churn_services: list[str]) -> None:
    """20 environments created and destroyed (sync each time) while live names, exact and
    wildcard, are queried back to back: not one query may fail or answer wrong."""
    report = _churn(dns_env, churn_services)
    print(f"\nchurn ({'+'.join(churn_services)}): {json.dumps(report)}")
    assert report["queries"] > 100
    assert report["server_restarts"] == 0
    assert report["failed"] == 0
    assert report["responders_started_or_stopped"] == (40 if "web" in churn_services else 0)


def test_missing_dnsmasq_writes_files_and_reports(dns_env: DnsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_DNSMASQ", "/nonexistent/dnsmasq")
    result = dnsmasq.sync(base_doc())
    assert not result.served and "dnsmasq not found" in result.message
    assert (dns_env.home / "dns/dnsmasq.conf").exists()
    assert (dns_env.home / "dns/hosts.d/shop.dev.hosts").exists()
    assert dnsmasq.running_pid() is None


def test_dns_commands(dns_env: DnsEnv, monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from compose_cilo.cli.dns import dns_app
    from compose_cilo.state import store

    with store.mutate() as st:
        st.environments("local")["shop/dev"] = shop_dev()
    runner = CliRunner()
    out = runner.invoke(dns_app, ["start"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(dns_app, ["status", "--json"])
    data = json.loads(out.output)
    assert {"running", "pid", "port", "names", "upstreams", "system_route"} <= set(data)
    assert data["running"] and data["port"] == dns_env.port and data["upstreams"] == []
    assert data["names"]["web.dev.test"] == ["10.224.3.20"]
    assert data["names"]["*.shop.dev.test"] == ["10.224.3.10"]
    assert data["current"] is True
    assert data["responders"]["shop/dev"]["pid"] and data["responders"]["shop/dev"]["port"]
    out = runner.invoke(dns_app, ["status"])
    assert "running (pid" in out.output and "no-resolv" in out.output
    out = runner.invoke(dns_app, ["render"])
    assert "local=/test/" in out.output and "10.224.3.20 web.dev.test" in out.output
    assert "wildcards/shop.dev.conf" in out.output and "server=/shop.dev.test/127.0.0.1#" in out.output
    out = runner.invoke(dns_app, ["restart"])
    assert out.exit_code == 0 and "restarted (gap" in out.output, out.output
    out = runner.invoke(dns_app, ["stop"])
    assert out.exit_code == 0 and "stopped" in out.output
    assert dnsmasq.running_pid() is None and dnsmasq.responder_pids() == {}


def test_dns_command_line_starts_fast_enough_to_matter(dns_env: DnsEnv) -> None:
    """sync from a fresh interpreter: the path `docker cilo up` takes."""
    code = ("import json,sys; from compose_cilo.dns import dnsmasq; "
            "r = dnsmasq.sync(json.load(sys.stdin)); print(json.dumps(r.served))")
    proc = subprocess.run([sys.executable, "-c", code], input=json.dumps(base_doc()),
                          capture_output=True, text=True, env=os.environ.copy(), timeout=30)
    assert proc.stdout.strip() == "true", proc.stderr
    assert dns_env.ips("web.dev.test") == ["10.224.3.20"]


def test_golden_configs_pass_dnsmasqs_own_syntax_check(dns_env: DnsEnv) -> None:
    golden = Path(__file__).resolve().parent.parent / "golden" / "dns" / "expected"
    confs = sorted(golden.glob("*.conf"))
    assert confs
    for conf in confs:
        proc = subprocess.run([dns_env.binary, "--test", f"--conf-file={conf}"],
                              capture_output=True, text=True)
        assert proc.returncode == 0 and "syntax check OK" in proc.stderr, (conf, proc.stderr)
