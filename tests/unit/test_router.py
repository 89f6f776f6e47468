"""cilo's router, through the lifecycle with the FakeEngine: started with the first running
copy in router mode, joined to each running copy's network before its routes load, left
after they go, removed when no copy needs it; in direct mode never started."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from compose_cilo import lifecycle, teardown
from compose_cilo.dns import files
from compose_cilo.model import LABEL_HOME, LABEL_MARK, LABEL_ROUTER
from compose_cilo.queries import Context
from compose_cilo.reach.mode import Reach
from compose_cilo.state import store
from tests.fakes import FAKE_HOST, FakeEngine, envs_of

from .test_lifecycle import FakeDns

COMPOSE = {"services": {"web": {"image": "x", "labels": {"cilo.http_port": "8080"}},
                        "api": {"image": "x", "expose": ["3000"]}}}
ROUTER = Reach("router", "reach is set to router", "127.0.0.1")


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    proj = tmp_path / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(yaml.safe_dump(COMPOSE))
    c = Context(FakeEngine(), cwd=proj, say=lambda m: None, routes=lambda: [], dns=FakeDns())
    c.reach = ROUTER
    return c


def routers(engine: FakeEngine) -> list[str]:
    return [n for n, c in engine.containers_.items() if c.labels.get(LABEL_ROUTER) == "true"]


def test_the_first_running_copy_starts_the_router_with_its_routes(ctx: Context) -> None:
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    rec = lifecycle.up(ctx, "dev")
    (name,) = routers(engine)
    router = engine.containers_[name]
    assert router.labels[LABEL_HOME] == store.read_state().doc["home_id"] and LABEL_MARK not in router.labels
    assert set(router.addresses) == {rec["network"]}  # on the copy's network
    config = engine.router_configs[-1]
    web, api = rec["services"]["web"]["ip"], rec["services"]["api"]["ip"]
    assert "http://web.dev.test, https://web.dev.test" in config and f"reverse_proxy {web}:8080" in config
    assert f"reverse_proxy {api}:3000" in config  # expose: when no ports: and no label
    assert store.read_state().doc["hosts"][FAKE_HOST]["reach"] == {
        "mode": "router", "address": "127.0.0.1", "reason": "reach is set to router"}
    rendered = files.render(store.read_state().doc)
    assert {ips for e in rendered.recs.envs.values() for ips in e.names.values()} == {("127.0.0.1",)}


def test_copies_join_before_their_routes_load_and_leave_after_they_go(ctx: Context) -> None:
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    qa = lifecycle.up(ctx, "qa")
    (name,) = routers(engine)
    calls = [c for c, _ in engine.calls]
    assert calls.index("connect_network") < len(calls) - 1 - calls[::-1].index("reload_router")
    assert "web.qa.test" in engine.router_configs[-1] and "web.dev.test" in engine.router_configs[-1]
    engine.calls.clear()
    lifecycle.stop(ctx, "dev")
    order = [c for c, _ in engine.calls if c in ("reload_router", "disconnect_network")]
    assert order == ["reload_router", "disconnect_network"]  # routes go first, then the network
    assert "web.dev.test" not in engine.router_configs[-1]
    assert set(engine.containers_[name].addresses) == {qa["network"]}
    teardown.destroy(ctx, "qa")
    assert routers(engine) == []  # no copy needs it: removed


def test_direct_mode_never_starts_a_router(ctx: Context) -> None:
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    ctx.reach = Reach("direct", "auto: a local engine", "127.0.0.1")
    lifecycle.up(ctx, "dev")
    assert routers(engine) == [] and not engine.router_configs
    assert store.read_state().doc["hosts"][FAKE_HOST]["reach"]["mode"] == "direct"
    rendered = files.render(store.read_state().doc)
    assert ("127.0.0.1",) not in {ips for e in rendered.recs.envs.values() for ips in e.names.values()}


def test_a_router_that_cannot_start_is_a_warning_and_the_copy_runs(ctx: Context) -> None:
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    said: list[str] = []
    ctx.say = said.append
    engine.fail["start_router"] = "image caddy:2 not found"
    rec = lifecycle.up(ctx, "dev")
    assert rec["status"] == "running"
    assert any("warning: cilo's router:" in m and "caddy:2" in m for m in said)


def test_doctor_says_which_reach_mode_is_in_use_and_why(ctx: Context) -> None:
    from compose_cilo import doctor

    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["reach.mode"].status == "ok"
    assert checks["reach.mode"].message == "reach router: reach is set to router"


def test_doctor_finds_a_missing_or_stale_router_and_fix_makes_it_match_state(ctx: Context) -> None:
    from compose_cilo import doctor

    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["router.in_sync"].status == "ok" and "of 1 copy" in checks["router.in_sync"].message
    (name,) = routers(engine)
    engine.files_[(name, "/etc/caddy/Caddyfile")] = "# someone else's\n"
    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["router.in_sync"].status == "fail" and "other routes than state's" in checks["router.in_sync"].message
    del engine.containers_[name]  # the router is gone: names of running copies do not answer
    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["router.running"].status == "fail" and "1 running copy" in checks["router.running"].message
    done = doctor.fix(ctx, list(checks.values()), confirm=lambda _: True)
    assert "made cilo's router match state (its routes and networks)" in done
    assert len(routers(engine)) == 1 and {c.id: c for c in doctor.run_checks(ctx)}["router.in_sync"].status == "ok"


def test_doctor_flags_a_router_no_copy_needs(ctx: Context) -> None:
    from compose_cilo import doctor

    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    with store.mutate() as st:  # state says nothing runs (the router was left behind)
        envs_of(st)["shop/dev"]["status"] = "stopped"
    checks = {c.id: c for c in doctor.run_checks(ctx)}
    assert checks["router.needed"].status == "warn"
    doctor.fix(ctx, [checks["router.needed"]], confirm=lambda _: True)
    assert routers(engine) == []


def test_an_unchanged_configuration_is_not_reloaded_unless_forced(ctx: Context) -> None:
    from compose_cilo.reach import router

    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    reloads = [c for c in engine.calls if c[0] == "reload_router"]
    home = store.read_state().doc["home_id"]
    router.sync(ctx, home)
    router.sync(ctx, home)
    assert [c for c in engine.calls if c[0] == "reload_router"] == reloads  # nothing changed: no reload
    router.sync(ctx, home, force=True)  # doctor --fix: whatever the router was given meanwhile
    assert len([c for c in engine.calls if c[0] == "reload_router"]) == len(reloads) + 1


def test_destroy_records_the_copy_stopped_before_its_routes_go(ctx: Context) -> None:
    """So that a router change of another command, made from the state it reads under the
    router's lock, never joins the network being removed."""
    engine: FakeEngine = ctx.engine  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    lifecycle.up(ctx, "qa")
    seen: list[str] = []
    real = engine.reload_router

    def reload(name: str, path: str, config: str) -> None:
        seen.append(envs_of(store.read_state())["shop/dev"]["status"])
        real(name, path, config)

    engine.reload_router = reload  # type: ignore[method-assign]
    teardown.destroy(ctx, "dev")
    assert seen[0] == "stopped"
    (name,) = routers(engine)
    assert "web.dev.test" not in engine.router_configs[-1] and "web.qa.test" in engine.router_configs[-1]
    assert set(engine.containers_[name].addresses) == {envs_of(store.read_state())["shop/qa"]["network"]}
