"""The environment lifecycle without Docker: create, up, --recreate, down, destroy, adopt,
and the rollback of a failed create, against the in-memory FakeEngine.

State is real (each test has its own CILO_HOME); the engine, the host's routes and the
DNS server are the Context's fakes, so every step can be checked object by object.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml

from compose_cilo import lifecycle, paths, teardown
from compose_cilo.envrecord import live_view
from compose_cilo.errors import CiloError, SubnetConflict
from compose_cilo.model import LABEL_ENV, LABEL_HOME, LABEL_NETWORK, LABEL_PROJECT
from compose_cilo.network.subnets import Taken
from compose_cilo.queries import Context
from compose_cilo.state import store
from tests.fakes import FAKE_HOST, FakeEngine, envs_of

# compose's normalised long syntax, as `docker compose config` writes it
COMPOSE = {
    "services": {
        "web": {"image": "cilo-test/busybox", "networks": {"default": None, "back": None},
                "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]},
        "db": {"image": "cilo-test/busybox", "container_name": "shop-db", "networks": {"back": None},
               "volumes": [{"type": "volume", "source": "dbdata", "target": "/data"}]},
        "debug": {"image": "cilo-test/busybox", "profiles": ["debug"]},
    },
    "networks": {"back": {}},
    "volumes": {"dbdata": {}},
}


class FakeDns:
    """Counts the renders it is asked for; serves nothing."""

    def __init__(self) -> None:
        self.synced: list[dict[str, Any]] = []
        self.restarts = 0

    def sync(self, state_doc: Any = None) -> Any:
        self.synced.append(state_doc)
        return SimpleNamespace(served=True, message="")

    def restart(self) -> Any:
        self.restarts += 1
        return SimpleNamespace(served=True, message="")

    def status(self, state_doc: Any = None) -> Any:
        return SimpleNamespace(binary="/usr/sbin/dnsmasq", running=True, pid=1, port=5354, current=True,
                               names={}, system_route={"routed": True, "detail": "fake"}, suffix="test")

    def render_files(self, state_doc: Any) -> dict[Path, str]:
        return {}


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    proj = tmp_path / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(yaml.safe_dump(COMPOSE))
    return proj


@pytest.fixture
def engine() -> FakeEngine:
    return FakeEngine()


@pytest.fixture
def dns() -> FakeDns:
    return FakeDns()


@pytest.fixture
def said() -> list[str]:
    return []


@pytest.fixture
def ctx(engine: FakeEngine, dns: FakeDns, shop: Path, said: list[str]) -> Context:
    return Context(engine, cwd=shop, say=said.append, routes=lambda: [], dns=dns)


def record(key: str = "shop/dev") -> dict[str, Any]:
    return envs_of(store.read_state())[key]


def test_create_reserves_subnets_networks_and_an_override(ctx: Context, engine: FakeEngine,
                                                          dns: FakeDns) -> None:
    rec = lifecycle.create(ctx, "dev")
    assert (rec["project"], rec["name"], rec["status"]) == ("shop", "dev", "created")
    assert record() == rec
    home = store.read_state().doc["home_id"]
    own, back = engine.networks_["cilo_shop_dev"], engine.networks_[rec["networks"]["back"]["name"]]
    assert own.subnets == (rec["subnet"],) and back.subnets == (rec["networks"]["back"]["subnet"],)
    assert own.subnets != back.subnets
    for net in (own, back):
        assert net.labels[LABEL_PROJECT] == "shop" and net.labels[LABEL_ENV] == "dev"
        assert net.labels[LABEL_HOME] == home
    assert back.labels[LABEL_NETWORK] == "back"
    override = yaml.load(Path(rec["override"]).read_text(), Loader=yaml.BaseLoader)
    assert "ports" in override["services"]["web"]  # reset: no host ports
    assert override["services"]["db"]["container_name"] == "null"  # `!reset null`
    assert not any(c[0] == "compose_up" for c in engine.calls)
    assert dns.synced == []  # names come with addresses, at up


def test_create_skips_subnets_taken_by_docker_networks_and_host_routes(ctx: Context,
                                                                       engine: FakeEngine) -> None:
    engine.add_network("users_default", "10.224.0.0/24")
    ctx.routes = lambda: [Taken.host_route(ipaddress.IPv4Network("10.224.1.0/24"), "dev eth9")]
    rec = lifecycle.create(ctx, "dev")
    held = {rec["subnet"], rec["networks"]["back"]["subnet"]}
    assert held == {"10.224.2.0/24", "10.224.3.0/24"}


def test_up_starts_the_copy_and_records_its_addresses(ctx: Context, engine: FakeEngine,
                                                      dns: FakeDns) -> None:
    rec = lifecycle.up(ctx, "dev")
    assert rec["status"] == "running"
    assert dns.synced[-1]["hosts"][FAKE_HOST]["environments"]["shop/dev"]["services"] == rec["services"]
    started = {c.service for c in engine.containers_.values()}
    assert started == {"web", "db"}  # `debug` is behind a profile
    web = rec["services"]["web"]
    assert web["status"] == "running" and web["container"] == "cilo_shop_dev-web-1"
    assert ipaddress.IPv4Address(web["ip"]) in ipaddress.IPv4Network(rec["subnet"])
    again = lifecycle.up(ctx, "dev")  # idempotent
    assert again["subnet"] == rec["subnet"] and again["services"]["web"]["ip"] == web["ip"]


def test_up_with_a_profile_starts_its_services_and_records_it(ctx: Context, engine: FakeEngine) -> None:
    lifecycle.up(ctx, "dev")
    ctx.compose = ctx.compose._replace(profiles=("debug",))
    rec = lifecycle.up(ctx, "dev")
    assert rec["profiles"] == ["debug"]
    assert "debug" in {c.service for c in engine.containers_.values()}


def test_stop_stops_and_keeps_everything(ctx: Context, engine: FakeEngine) -> None:
    lifecycle.up(ctx, "dev")
    rec = lifecycle.stop(ctx, "dev")
    assert rec["status"] == "stopped"
    assert {c.state for c in engine.containers_.values()} == {"exited"}
    assert "cilo_shop_dev" in engine.networks_ and record()["subnet"] == rec["subnet"]


def test_recreate_moves_to_the_lowest_free_subnets(ctx: Context, engine: FakeEngine) -> None:
    first = lifecycle.up(ctx, "one")
    second = lifecycle.up(ctx, "two")
    teardown.destroy(ctx, "one")
    moved = lifecycle.up(ctx, "two", recreate=True)
    assert moved["subnet"] == first["subnet"] != second["subnet"]
    assert engine.networks_["cilo_shop_two"].subnets == (moved["subnet"],)
    assert moved["status"] == "running"


def test_destroy_removes_only_what_carries_the_environments_labels(ctx: Context,
                                                                   engine: FakeEngine) -> None:
    lifecycle.up(ctx, "dev")
    lifecycle.up(ctx, "keep")
    engine.add_network("shop_default", "10.99.0.0/24", {LABEL_PROJECT: "shop"})  # the user's own
    engine.add_network("other_home", "10.98.0.0/24",
                       {LABEL_PROJECT: "shop", LABEL_ENV: "dev", LABEL_HOME: "f" * 16})
    env_dir = paths.env_dir("shop", "dev")
    assert env_dir.exists()
    teardown.destroy(ctx, "dev")
    assert "shop/dev" not in envs_of(store.read_state())
    assert not env_dir.exists()
    assert not [c for c in engine.containers_.values() if c.labels.get(LABEL_ENV) == "dev"]
    assert set(engine.networks_) >= {"shop_default", "other_home", "cilo_shop_keep"}
    assert not any(n.startswith("cilo_shop_dev") for n in engine.networks_)
    assert "shop/keep" in envs_of(store.read_state())


def test_destroy_with_the_engine_down_changes_nothing(ctx: Context, engine: FakeEngine) -> None:
    lifecycle.up(ctx, "dev")
    before = paths.state_path().read_bytes()
    engine.fail["containers"] = "cannot reach the Docker engine (fake)"
    with pytest.raises(CiloError, match="cannot reach"):
        teardown.destroy(ctx, "dev")
    assert paths.state_path().read_bytes() == before


def test_a_failed_create_leaves_nothing_behind(ctx: Context, engine: FakeEngine) -> None:
    real = engine.create_network
    made: list[str] = []

    def second_fails(spec: Any) -> None:  # the own network is made, the next one fails
        if made:
            raise CiloError("creating network failed: permission denied (fake)")
        real(spec)
        made.append(spec.name)

    engine.create_network = second_fails  # type: ignore[method-assign]
    with pytest.raises(CiloError, match="permission denied"):
        lifecycle.up(ctx, "dev")
    assert made == ["cilo_shop_dev"]
    assert envs_of(store.read_state()) == {}
    assert not paths.env_dir("shop", "dev").exists()
    assert not any(n.startswith("cilo_shop_dev") for n in engine.networks_)


def test_a_refused_subnet_is_retried_on_another(ctx: Context, engine: FakeEngine) -> None:
    engine.fail["create_network"] = SubnetConflict("Pool overlaps with other one on this address space")
    rec = lifecycle.create(ctx, "dev")
    assert engine.networks_["cilo_shop_dev"].subnets == (rec["subnet"],)
    assert [c for c in engine.calls if c[0] == "create_network"][0][1].subnet != rec["subnet"]


def test_adopt_rebuilds_a_lost_record_from_labels(ctx: Context, engine: FakeEngine) -> None:
    from compose_cilo import doctor

    rec = lifecycle.up(ctx, "dev")
    with store.mutate() as st:
        del envs_of(st)["shop/dev"]
    checks = doctor.run_checks(ctx)
    assert ("orphan.container", "fail") in {(c.id, c.status) for c in checks}
    done = doctor.fix(ctx, checks, confirm=lambda what: False)
    assert "adopted shop/dev back into state" in done
    back = record()
    for field in ("subnet", "network", "networks", "project_dir", "compose_files", "profiles", "workspace"):
        assert back[field] == rec[field], field
    assert back["status"] == "running"
    assert {c.id: c.status for c in doctor.run_checks(ctx)}["orphan.container"] == "ok"


def test_doctor_removes_orphans_only_when_confirmed_and_never_foreign_ones(ctx: Context,
                                                                          engine: FakeEngine) -> None:
    from compose_cilo import doctor

    lifecycle.create(ctx, "dev")  # makes the home id
    home = store.read_state().doc["home_id"]
    orphan = {"cilo": "true", LABEL_PROJECT: "gone", LABEL_ENV: "x", LABEL_HOME: home}
    foreign = {"cilo": "true", LABEL_PROJECT: "gone", LABEL_ENV: "y", LABEL_HOME: "a" * 16}
    engine.add_network("cilo_gone_x", "10.97.0.0/24", orphan)
    engine.add_network("cilo_gone_y", "10.96.0.0/24", foreign)
    asked: list[str] = []
    doctor.fix(ctx, doctor.run_checks(ctx), confirm=lambda what: asked.append(what) or False)
    assert asked and "cilo_gone_x" in engine.networks_
    done = doctor.fix(ctx, doctor.run_checks(ctx), confirm=lambda what: True)
    assert "removed network cilo_gone_x" in done
    assert "cilo_gone_x" not in engine.networks_ and "cilo_gone_y" in engine.networks_
    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["foreign.environment"].status == "warn"


def test_doctor_recreates_a_lost_network_and_restarts_what_stopped(ctx: Context,
                                                                  engine: FakeEngine) -> None:
    from compose_cilo import doctor

    rec = lifecycle.up(ctx, "dev")
    engine.remove_networks(["cilo_shop_dev"])
    lifecycle.stop(ctx, "dev")
    with store.mutate() as st:  # state says running; the engine says stopped
        envs_of(st)["shop/dev"]["status"] = "running"
    checks = doctor.run_checks(ctx)
    failing = {c.id for c in checks if c.status == "fail"}
    assert failing, checks
    done = doctor.fix(ctx, checks, confirm=lambda what: True)
    assert "started shop/dev again" in done  # `up` makes the missing network first
    assert engine.networks_["cilo_shop_dev"].subnets == (rec["subnet"],)
    assert {c.state for c in engine.containers_.values()} == {"running"}


def test_copy_mode_runs_from_a_copy_and_destroy_removes_it(ctx: Context, engine: FakeEngine,
                                                           shop: Path) -> None:
    (shop / "app.txt").write_text("hello")
    rec = lifecycle.up(ctx, "dev", copy=True)
    workspace = Path(rec["workspace"])
    assert rec["copy"] and workspace != shop and (workspace / "app.txt").read_text() == "hello"
    up = [c[1] for c in engine.calls if c[0] == "compose_up"][-1]
    assert up.project_dir == str(workspace)
    assert lifecycle.up(ctx, "dev")["workspace"] == str(workspace)  # a copy stays a copy
    teardown.destroy(ctx, "dev")
    assert not workspace.exists() and (shop / "app.txt").exists()


def test_destroy_all_takes_this_projects_environments_only(ctx: Context, engine: FakeEngine,
                                                           tmp_path: Path) -> None:
    lifecycle.create(ctx, "a")
    lifecycle.create(ctx, "b")
    other = tmp_path / "blog"
    other.mkdir()
    (other / "compose.yaml").write_text(yaml.safe_dump({"services": {"web": {"image": "x"}}}))
    lifecycle.create(Context(engine, cwd=other, say=ctx.say, routes=ctx.routes, dns=ctx.dns), "a")
    assert teardown.destroy_all_plan(ctx, every_project=False) == [(FAKE_HOST, "shop/a"), (FAKE_HOST, "shop/b")]
    assert teardown.destroy_all(ctx, every_project=False) == ["shop/a", "shop/b"]
    assert list(envs_of(store.read_state())) == ["blog/a"]
    assert teardown.destroy_all(ctx, every_project=True) == ["blog/a"]
    assert not engine.networks_


def test_ensure_running_and_live_view(ctx: Context, engine: FakeEngine) -> None:
    lifecycle.create(ctx, "dev")
    rec = lifecycle.ensure_running(ctx, "dev")
    assert rec["status"] == "running" and engine.containers_
    engine.containers_["cilo_shop_dev-web-1"] = engine.containers_["cilo_shop_dev-web-1"]._replace(state="exited")
    live = live_view(ctx, record())
    assert live["services"]["web"]["status"] == "exited"
    assert record()["services"]["web"]["status"] == "running"  # a view: state is unchanged


def test_doctor_recreates_the_network_of_a_stopped_environment(ctx: Context, engine: FakeEngine) -> None:
    from compose_cilo import doctor

    rec = lifecycle.up(ctx, "dev")
    lifecycle.stop(ctx, "dev")
    engine.remove_networks(["cilo_shop_dev"])
    done = doctor.fix(ctx, doctor.run_checks(ctx), confirm=lambda what: True)
    assert "recreated the network of shop/dev" in done
    assert engine.networks_["cilo_shop_dev"].subnets == (rec["subnet"],)


def test_options_on_an_existing_environment_are_applied_by_up_and_refused_elsewhere(
        ctx: Context, shop: Path) -> None:
    from compose_cilo.queries import get_env

    lifecycle.create(ctx, "dev")
    (shop / "extra.yaml").write_text(yaml.safe_dump({"services": {"web": {"image": "y"}}}))
    ctx.compose = ctx.compose._replace(files=("compose.yaml", "extra.yaml"))
    with pytest.raises(CiloError, match="other compose options"):
        get_env(ctx, "dev")
    rec = lifecycle.up(ctx, "dev")  # up applies them and records them
    assert rec["compose_files"] == [str(shop / "compose.yaml"), str(shop / "extra.yaml")]
    assert get_env(ctx, "dev") == record()
    ctx.cwd = shop.parent  # from elsewhere, PROJECT/ENV may change profiles, never files
    ctx.compose = ctx.compose._replace(files=("other.yaml",))
    with pytest.raises(CiloError, match="-f and --env-file of an existing environment"):
        lifecycle.up(ctx, "shop/dev")


def test_strict_refuses_a_project_that_shares_with_the_users_stack(ctx: Context, shop: Path) -> None:
    (shop / "compose.yaml").write_text(yaml.safe_dump(
        {"services": {"web": {"image": "x", "network_mode": "host"}}}))
    with pytest.raises(CiloError, match="host"):
        lifecycle.create(ctx, "dev", strict=True)
    assert envs_of(store.read_state()) == {}


def test_a_workspace_that_cannot_be_removed_is_said_with_the_command(
        ctx: Context, engine: FakeEngine, said: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    lifecycle.up(ctx, "dev", copy=True)
    calls = []

    def refuse(folder: Path) -> None:
        calls.append(folder)
        raise PermissionError(13, "Permission denied", str(folder / "pgdata"))

    monkeypatch.setattr(teardown, "remove_tree", refuse)
    teardown.destroy(ctx, "dev")
    assert "shop/dev" not in envs_of(store.read_state())  # the engine objects are gone
    assert ("remove_folder", (paths.env_dir("shop", "dev"), "cilo-test/busybox")) in engine.calls
    assert any("sudo rm -rf" in line and str(paths.env_dir("shop", "dev")) in line for line in said)


def test_new_profiles_are_recorded_only_once_compose_accepts_them(ctx: Context, engine: FakeEngine,
                                                                  shop: Path) -> None:
    lifecycle.create(ctx, "dev")
    before = paths.state_path().read_bytes()
    ctx.cwd = shop.parent  # PROJECT/ENV from elsewhere may change profiles
    ctx.compose = ctx.compose._replace(profiles=("debug",))
    engine.fail["compose_config"] = "docker compose config failed (fake)"
    with pytest.raises(CiloError, match="compose config failed"):
        lifecycle.up(ctx, "shop/dev")
    assert paths.state_path().read_bytes() == before  # found by the property test
    assert lifecycle.up(ctx, "shop/dev")["profiles"] == ["debug"]


def test_a_destroy_that_removes_the_folder_meanwhile_is_a_clear_error(
        ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    from compose_cilo.errors import DestroyedMeanwhile

    def gone(path: Path, *args: object) -> None:
        raise FileNotFoundError(2, "No such file or directory", str(path))

    monkeypatch.setattr(lifecycle, "atomic_write", gone)
    with pytest.raises(DestroyedMeanwhile, match="environment shop/dev was destroyed while cilo was preparing it"):
        lifecycle.create(ctx, "dev")
    assert "shop/dev" not in envs_of(store.read_state())  # the half-made copy is undone
