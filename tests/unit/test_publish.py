"""Issue 14 with the FakeEngine and pure functions: published ports (`--publish`, the
default in router mode), the router's CA in copies and `trust`, the router's names on
each copy's network."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compose_cilo import lifecycle, override
from compose_cilo.engine.api import ContainerInfo, PublishedPort, published_ports
from compose_cilo.envrecord import apply_containers, env_target
from compose_cilo.errors import CiloError
from compose_cilo.project import model_from_config
from compose_cilo.queries import Context
from compose_cilo.reach import ca, ports, router, trust
from compose_cilo.reach.mode import Reach
from compose_cilo.state import store
from tests.fakes import FAKE_CA, FakeEngine, envs_of

from .test_cli_verbs import asked, cilo, engine, shop  # noqa: F401 - fixtures
from .test_lifecycle import FakeDns
from .test_override import GOLDEN, IDENT, META, SHOP_CONFIG, _golden

COMPOSE = {"services": {"web": {"image": "x", "ports": ["8080:80"]},
                        "db": {"image": "x", "expose": ["5432"]},
                        "side": {"image": "x", "network_mode": "service:web"},
                        "job": {"image": "x"}}}
ROUTER = Reach("router", "reach is set to router", "127.0.0.1")
DIRECT = Reach("direct", "reach is set to direct", "127.0.0.1")


def context(tmp_path: Path, reach: Reach) -> Context:
    proj = tmp_path / "shop"
    proj.mkdir(exist_ok=True)
    (proj / "compose.yaml").write_text(yaml.safe_dump(COMPOSE))
    c = Context(FakeEngine(), cwd=proj, say=lambda m: None, routes=lambda: [], dns=FakeDns())
    c.reach = reach
    return c


def overlay(record: dict) -> dict:
    text = Path(record["override"]).read_text().replace("!override", "").replace("!reset", "")
    return yaml.safe_load(text)


# --- the override (pure, golden) --------------------------------------------------------


def test_published_override_matches_golden() -> None:
    model = model_from_config(SHOP_CONFIG)
    addresses = override.assign_addresses(IDENT.subnet, override.fixed_address_services(model), {})
    doc = override.build_override(model, IDENT, addresses, META, "127.0.0.1", "cilo_router_h1_ca")
    _golden("published.yml", override.render(doc, IDENT))
    assert (GOLDEN / "published.yml").read_text().count("'127.0.0.1::") == 2  # api and web declare ports


def test_declared_ports_are_ports_targets_then_expose_once_each() -> None:
    model = model_from_config({"name": "p", "services": {"s": {
        "image": "x", "expose": ["80", "9000-9002"], "ports": [{"target": 80}, {"target": 53, "protocol": "udp"}]}}})
    assert override.declared_ports(model.services["s"]) == [(80, "tcp"), (53, "udp"), (9000, "tcp")]


# --- the lifecycle --------------------------------------------------------------------------


def test_router_mode_publishes_each_declared_port_and_mounts_the_ca(tmp_path: Path) -> None:
    ctx = context(tmp_path, ROUTER)
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    rec = lifecycle.up(ctx, "dev")
    ov = overlay(rec)
    assert ov["services"]["web"]["ports"] == ["127.0.0.1::80/tcp"]
    assert ov["services"]["db"]["ports"] == ["127.0.0.1::5432/tcp"]  # expose: counts
    assert "ports" not in ov["services"]["side"] and "ports" not in ov["services"]["job"]
    home = store.read_state().doc["home_id"]
    assert ov["volumes"]["cilo_router_ca"] == {"name": f"cilo_router_{home}_ca", "external": True}
    assert all(s["volumes"] == [{"type": "volume", "source": "cilo_router_ca", "target": "/etc/cilo/ca",
                                 "read_only": True}] for s in ov["services"].values())
    # the router ran before the copy, with its CA copied into the volume copies mount
    name = f"cilo_router_{home}"
    assert engine.files_[(name, "/etc/cilo/ca/root.crt")] == FAKE_CA == ca.ca_file().read_text()
    assert {f"cilo_router_{home}_data", f"cilo_router_{home}_ca"} <= set(engine.volumes_)
    # recorded: the engine's ports, per service and replica
    web = envs_of(store.read_state())["shop/dev"]["services"]["web"]
    (port,) = web["published"]
    assert (port["target"], port["protocol"], port["host"]) == (80, "tcp", "127.0.0.1") and port["port"] > 32768
    assert web["replicas"][0]["published"] == [port]
    # the router answers the copy's names on its network (services reach each other's HTTPS)
    assert "web.dev.test" in engine.router_aliases[rec["network"]]
    assert not any(a.startswith("*") for a in engine.router_aliases[rec["network"]])
    reads = [c for c in engine.calls if c[0] == "read_file"]
    lifecycle.up(ctx, "dev")
    assert [c for c in engine.calls if c[0] == "read_file"] == reads  # the CA is known: not read again


def test_direct_mode_publishes_only_with_publish_and_the_choice_is_kept(tmp_path: Path) -> None:
    ctx = context(tmp_path, DIRECT)
    rec = lifecycle.up(ctx, "dev")
    ov = overlay(rec)
    assert ov["services"]["web"]["ports"] == [] and "ports" not in ov["services"]["db"]
    assert "volumes" not in ov  # no router: no CA
    assert "publish" not in envs_of(store.read_state())["shop/dev"]
    lifecycle.prepare(ctx, "dev", publish=True)
    assert overlay(rec)["services"]["db"]["ports"] == ["127.0.0.1::5432/tcp"]
    lifecycle.prepare(ctx, "dev")  # kept
    assert envs_of(store.read_state())["shop/dev"]["publish"] is True
    assert overlay(rec)["services"]["db"]["ports"] == ["127.0.0.1::5432/tcp"]
    lifecycle.prepare(ctx, "dev", publish=False)
    assert overlay(rec)["services"]["web"]["ports"] == []


def test_no_publish_in_router_mode_publishes_nothing(tmp_path: Path) -> None:
    ctx = context(tmp_path, ROUTER)
    rec, _ = lifecycle.prepare(ctx, "dev", publish=False)
    assert overlay(rec)["services"]["web"]["ports"] == []


def test_a_remote_engine_named_by_address_publishes_on_that_address(tmp_path: Path) -> None:
    remote = Reach("router", "auto: tcp", "192.168.250.2")
    assert router.bind_address(remote) == "192.168.250.2"
    assert router.bind_address(Reach("router", "auto: ssh", "build-box.invalid")) == "0.0.0.0"
    ctx = context(tmp_path, remote)
    rec = lifecycle.up(ctx, "dev")
    assert overlay(rec)["services"]["db"]["ports"] == ["192.168.250.2::5432/tcp"]


def test_an_old_router_without_the_ca_volume_is_made_again(tmp_path: Path) -> None:
    ctx = context(tmp_path, ROUTER)
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    ca.ca_file().unlink()
    engine.fail["write_file"] = "Could not find the file /etc/cilo/ca in container"
    lifecycle.up(ctx, "dev")
    assert [c[0] for c in engine.calls].count("start_router") == 2
    assert ca.ca_file().read_text() == FAKE_CA


# --- what the engine publishes, as recorded and shown ------------------------------------


def test_published_ports_from_the_engines_answer() -> None:
    raw = {"5432/tcp": [{"HostIp": "0.0.0.0", "HostPort": "49154"}, {"HostIp": "::", "HostPort": "49154"}],
           "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "49155"}], "80/tcp": None}
    assert set(published_ports(raw)) == {PublishedPort(5432, "tcp", "0.0.0.0", 49154),
                                         PublishedPort(53, "udp", "127.0.0.1", 49155)}
    assert published_ports(None) == ()


def test_a_port_bound_to_every_address_is_recorded_at_the_engine_host() -> None:
    record = {"network": "n", "networks": {}, "services": {"db": {
        "ip": None, "container": None, "status": "x", "ingress": False, "hostnames": [], "replicas": []}}}
    c = ContainerInfo("i", "c1", "db", "running", {"n": "10.0.0.2"}, {},
                      ports=(PublishedPort(5432, "tcp", "0.0.0.0", 49154),))
    apply_containers(record, [c], "192.168.250.2")
    assert record["services"]["db"]["published"] == [
        {"target": 5432, "protocol": "tcp", "port": 49154, "host": "192.168.250.2"}]
    apply_containers(record, [c._replace(ports=())])
    assert "published" not in record["services"]["db"] and "published" not in record["services"]["db"]["replicas"][0]


def test_port_variables_and_summary() -> None:
    record = {"services": {"db-main": {"published": [{"target": 5432, "protocol": "tcp", "host": "h", "port": 1}]},
                           "dns": {"published": [{"target": 53, "protocol": "udp", "host": "h", "port": 2}]},
                           "web": {}}}
    assert ports.variables(record) == {"CILO_DB_MAIN_5432": "h:1", "CILO_DNS_53_UDP": "h:2"}
    assert ports.summary(record["services"]["dns"]) == "53/udp->h:2" and ports.summary({}) == "-"


# --- trust --------------------------------------------------------------------------------


def test_trust_plans_per_system_without_touching_any_store(tmp_path: Path) -> None:
    caf = tmp_path / "root.crt"
    debian = trust.plan(caf, "linux", tmp_path, is_dir=lambda p: p == "/usr/local/share/ca-certificates",
                        which=lambda _: None)
    assert [s.argv for s in debian] == [("cp", str(caf), "/usr/local/share/ca-certificates/cilo-local-ca.crt"),
                                        ("update-ca-certificates",)]
    fedora = trust.plan(caf, "linux", tmp_path, is_dir=lambda p: p.startswith("/etc/pki"), which=lambda _: None)
    assert fedora[-1].argv == ("update-ca-trust",)
    nss = str(tmp_path / ".pki" / "nssdb")
    browsers = trust.plan(caf, "linux", tmp_path, is_dir=lambda p: p == nss, which=lambda _: "/usr/bin/certutil")
    assert browsers[0].argv[:3] == ("certutil", "-d", f"sql:{nss}") and not browsers[0].needs_root
    mac = trust.plan(caf, "darwin", tmp_path)
    assert mac[0].argv[:2] == ("sudo", "security") and trust.shown(mac[0], False).startswith("sudo security ")
    assert trust.plan(caf, "win32", tmp_path)[0].argv[:2] == ("certutil", "-addstore")
    assert trust.shown(debian[1], root=False) == "sudo update-ca-certificates"


def test_install_runs_only_what_this_user_may_and_says_where(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    nss = str(tmp_path / ".pki" / "nssdb")
    steps = trust.plan(tmp_path / "root.crt", "linux", tmp_path,
                       is_dir=lambda p: p in (nss, "/usr/local/share/ca-certificates"), which=lambda _: "certutil")
    ran: list[list[str]] = []
    monkeypatch.setattr(trust, "is_root", lambda: False)
    assert trust.install(steps, run=lambda argv: ran.append(argv) or 0) == ["Chrome and Chromium (your NSS database)"]
    assert [a[0] for a in ran] == ["certutil"]
    monkeypatch.setattr(trust, "is_root", lambda: True)
    ran.clear()
    assert len(trust.install(steps, run=lambda argv: ran.append(argv) or 0)) == 2
    assert [a[0] for a in ran] == ["cp", "update-ca-certificates", "certutil"]
    with pytest.raises(CiloError, match="update-ca-certificates exited 1"):
        trust.install(steps, run=lambda argv: 1 if argv[0] == "update-ca-certificates" else 0)


def test_trust_without_a_router_says_how_to_get_one(tmp_path: Path) -> None:
    ctx = context(tmp_path, ROUTER)
    with pytest.raises(CiloError, match="router is not running"):
        trust.fetch_ca(ctx, "h1")
    lifecycle.up(ctx, "dev")
    assert trust.fetch_ca(ctx, store.read_state().doc["home_id"]) == FAKE_CA



# --- through the CLI ------------------------------------------------------------------------


def test_up_publish_is_kept_port_answers_host_port_and_with_sets_the_variables(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cilo(capsys, engine, "up", "dev", "--publish")
    assert code == 0, out
    assert asked(shop) == [["up", "--detach", "--remove-orphans"]]  # --publish is cilo's, not compose's
    rec = envs_of(store.read_state())["shop/dev"]
    assert rec["publish"] is True
    assert overlay(rec)["services"]["web"]["ports"] == ["127.0.0.1::80/tcp"]
    engine.compose_up(env_target(rec), build=False, recreate=False)  # what compose made of it
    out = cilo(capsys, engine, "status", "dev")[1]
    (published,) = engine.containers_["cilo_shop_dev-web-1"].ports
    port = {"port": published.port}
    assert "PORTS" in out and f"80->127.0.0.1:{port['port']}" in out, out
    assert cilo(capsys, engine, "port", "dev", "web", "80") == (0, f"127.0.0.1:{port['port']}", "")
    seen = shop.parent / "seen"
    assert cilo(capsys, engine, "with", "dev", "--", "sh", "-c", f"echo $CILO_WEB_80 > {seen}")[0] == 0
    assert seen.read_text() == f"127.0.0.1:{port['port']}\n"
    assert cilo(capsys, engine, "up", "dev", "--no-publish")[0] == 0
    assert envs_of(store.read_state())["shop/dev"]["publish"] is False


def test_publish_and_no_publish_together_are_refused_and_change_nothing(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = cilo(capsys, engine, "up", "dev", "--publish", "--no-publish")
    assert code == 2 and "--publish and --no-publish contradict each other" in err
    assert envs_of(store.read_state()) == {} and asked(shop) == []


def test_port_of_an_unpublished_port_in_router_mode_says_how_to_publish(
        shop: Path, engine: FakeEngine, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_REACH", "router")
    monkeypatch.setenv("CILO_ROUTER_IMAGE", "cilo-test/caddy")
    assert cilo(capsys, engine, "up", "dev", "--no-publish")[0] == 0
    engine.compose_up(env_target(envs_of(store.read_state())["shop/dev"]), build=False, recreate=False)
    code, _, err = cilo(capsys, engine, "port", "dev", "web", "80")
    assert code == 1 and "port 80/tcp is not published" in err and "docker cilo up dev --publish" in err


def test_the_router_asks_the_kernel_to_keep_connections_across_reloads_and_runs_without_where_refused(
        tmp_path: Path) -> None:
    from compose_cilo.engine.compose import EngineCommon
    from compose_cilo.engine.options import DockerOptions
    from compose_cilo.errors import EngineError

    class Runner:
        def __init__(self) -> None:
            self.argvs: list[list[str]] = []

        def run(self, argv: list[str], action: str, *, capture: bool, env: object = None) -> str:
            self.argvs.append(argv)
            created = [a for a in self.argvs if a[1] == "create"]
            if argv[1] == "start" and "--sysctl" in created[-1]:  # an old kernel refuses it
                raise EngineError("starting failed: open /proc/sys/net/ipv4/tcp_migrate_req: no such file")
            return ""

    spec = router.spec("h1", ROUTER, "caddy:2")
    assert spec.sysctls == {"net.ipv4.tcp_migrate_req": "1"}
    runner = Runner()
    EngineCommon(DockerOptions(), runner).start_router(spec, "cfg", ["cilo_shop_dev"])  # type: ignore[arg-type]
    creates = [a for a in runner.argvs if a[1] == "create"]
    assert "net.ipv4.tcp_migrate_req=1" in creates[0] and "--sysctl" not in creates[1]
    assert "--network" not in creates[0]  # on the default bridge: joining copies never moves its ports
    assert [a[1] for a in runner.argvs].count("start") == 2
