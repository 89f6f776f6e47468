"""doctor's checks and repairs without Docker: the FakeEngine and a fake DNS server."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from compose_cilo import doctor, lifecycle, paths
from compose_cilo.queries import Context
from tests.fakes import FakeEngine
from tests.unit.test_lifecycle import COMPOSE, FakeDns  # noqa: F401 - shared fixtures' data


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    import yaml

    proj = tmp_path / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(yaml.safe_dump(COMPOSE))
    return Context(FakeEngine(), cwd=proj, say=lambda m: None, routes=lambda: [], dns=FakeDns())


def by_id(checks: list[Any]) -> dict[str, Any]:
    return {c.id: c for c in checks}


def test_an_unreachable_engine_is_one_failed_check_and_no_plan(ctx: Context) -> None:
    ctx.engine.fail["ping"] = "cannot reach the Docker engine (fake)"  # type: ignore[attr-defined]
    checks = by_id(doctor.run_checks(ctx))
    assert checks["engine.reachable"].status == "fail"
    assert "cannot reach" in checks["engine.reachable"].message
    assert not any(i.startswith(("orphan.", "env.")) for i in checks)
    assert doctor.as_json(list(checks.values()))["ok"] is False


def test_an_old_compose_fails(ctx: Context, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ctx.engine, "compose_version", lambda: "2.20.3")
    checks = by_id(doctor.run_checks(ctx))
    assert checks["compose.available"].status == "fail"
    assert "older than 2.24.0" in checks["compose.available"].message


def test_a_broken_state_file_is_reported_with_the_way_out(ctx: Context) -> None:
    paths.state_path().parent.mkdir(parents=True, exist_ok=True)
    paths.state_path().write_text("{broken")
    checks = by_id(doctor.run_checks(ctx))
    assert checks["state.valid"].status == "fail"
    assert "restore" in checks["state.valid"].fix
    assert "dns.running" not in checks  # nothing is planned from a state it cannot read


def test_dns_not_running_or_stale_is_repaired_by_a_restart(ctx: Context, tmp_path: Path) -> None:
    dns: FakeDns = ctx.dns  # type: ignore[assignment]
    lifecycle.up(ctx, "dev")
    served = tmp_path / "served.conf"
    served.write_text("old")
    dns.status = lambda doc=None: SimpleNamespace(  # type: ignore[method-assign]
        binary="/usr/sbin/dnsmasq", running=False, pid=None, port=5354, current=False, names={},
        system_route={"routed": False, "detail": "no resolver"}, suffix="test")
    dns.render_files = lambda doc: {served: "new"}  # type: ignore[method-assign]
    checks = by_id(doctor.run_checks(ctx))
    assert checks["dns.running"].status == "fail"
    assert checks["dns.in_sync"].status == "fail" and str(served) in checks["dns.in_sync"].message
    assert checks["dns.system_route"].status == "warn" and checks["dns.system_route"].fix == "docker cilo init"
    done = doctor.fix(ctx, list(checks.values()), confirm=lambda what: True)
    assert dns.restarts == 1 and "re-rendered DNS and restarted dnsmasq" in done


def test_the_report_groups_checks_and_counts_them(ctx: Context) -> None:
    lifecycle.up(ctx, "dev")
    checks = doctor.run_checks(ctx)
    text = doctor.report(checks)
    assert text.splitlines()[0] == "engine (local):"
    assert "  ok   engine.reachable" in text
    failed = sum(c.status == "fail" for c in checks)
    assert text.endswith(f"{failed} failed, {sum(c.status == 'warn' for c in checks)} warnings, "
                         f"{len(checks) - failed - sum(c.status == 'warn' for c in checks)} ok")
    assert doctor.as_json(checks)["ok"] == (failed == 0)
