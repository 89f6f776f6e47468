"""Issue 15 in memory: environments live on an engine. Two fake engines (this machine's,
on a local socket, and one elsewhere, over TCP), each with its own ID: where a command
goes, per-engine subnets, host-qualified references, one list of everything, doctor per
engine, names of the same environment on two engines."""

from __future__ import annotations

import json
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import pytest
import yaml

from compose_cilo import doctor, hosts, lifecycle, queries, remote, teardown
from compose_cilo.cli import output
from compose_cilo.dns import zone
from compose_cilo.engine.options import DockerOptions
from compose_cilo.errors import CiloError, NoSuchEnvironment
from compose_cilo.network.subnets import Taken
from compose_cilo.queries import Context
from compose_cilo.state import store
from compose_cilo.state.document import LOCAL_HOST
from tests.fakes import FakeEngine
from tests.unit.test_lifecycle import COMPOSE, FakeDns

HERE = DockerOptions(host="unix:///run/fake-local.sock")
THERE = DockerOptions(host="tcp://192.0.2.7:2375")
HERE_ID, THERE_ID = "AAAA:BBBB:CCCC", "DDDD:EEEE:FFFF"


class Engines:
    """The two engines, and the Context's way of reaching one by its docker options."""

    def __init__(self) -> None:
        self.by_host = {HERE.host: FakeEngine(opts=HERE, engine_id=HERE_ID),
                        THERE.host: FakeEngine(opts=THERE, engine_id=THERE_ID)}
        self.connected: list[str | None] = []

    def connect(self, opts: DockerOptions) -> FakeEngine:
        self.connected.append(opts.host)
        return self.by_host[opts.host]

    @property
    def here(self) -> FakeEngine:
        return self.by_host[HERE.host]

    @property
    def there(self) -> FakeEngine:
        return self.by_host[THERE.host]


@pytest.fixture
def engines() -> Engines:
    return Engines()


@pytest.fixture
def shop(tmp_path: Path) -> Path:
    proj = tmp_path / "shop"
    proj.mkdir()
    (proj / "compose.yaml").write_text(yaml.safe_dump(COMPOSE))
    return proj


@pytest.fixture
def said() -> list[str]:
    return []


def on(engines: Engines, opts: DockerOptions, shop: Path, said: list[str], host: str | None = None,
       routes: list[Taken] | None = None) -> Context:
    """A command's Context whose docker options name `opts`'s engine (-H)."""
    return Context(engines.by_host[opts.host], cwd=shop, say=said.append, routes=lambda: list(routes or []),
                   dns=FakeDns(), connect=engines.connect, host=host)


def doc() -> dict[str, Any]:
    return store.read_state().doc


def test_a_new_environment_lives_on_the_current_engine_keyed_by_its_id(engines: Engines, shop: Path,
                                                                       said: list[str]) -> None:
    lifecycle.up(on(engines, HERE, shop, said), "alpha")
    lifecycle.up(on(engines, THERE, shop, said), "beta")
    entries = doc()["hosts"]
    assert set(entries) == {HERE_ID, THERE_ID}
    assert entries[HERE_ID] | {"environments": None} == {
        "id": HERE_ID, "provider": "docker", "name": "local", "endpoint": HERE.host, "local": True,
        "environments": None, "reach": entries[HERE_ID]["reach"]}
    assert (entries[THERE_ID]["name"], entries[THERE_ID]["endpoint"], entries[THERE_ID]["local"]) == (
        "192-0-2-7", THERE.host, False)
    assert list(entries[HERE_ID]["environments"]) == ["shop/alpha"]
    assert list(entries[THERE_ID]["environments"]) == ["shop/beta"]
    assert engines.there.containers(None) and all(  # beta's containers are on the remote engine only
        c.labels.get("cilo.env") != "beta" for c in engines.here.containers(None))


def test_a_command_about_an_existing_environment_goes_to_its_engine_and_says_so(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.up(on(engines, THERE, shop, said), "beta")
    ctx = on(engines, HERE, shop, said)  # the current context points at this machine's engine
    teardown.destroy(ctx, "beta")
    assert ctx.engine is engines.there and THERE.host in engines.connected
    assert any("on engine 192-0-2-7 (tcp://192.0.2.7:2375)" in m and "current docker context points at "
               f"{HERE.host}" in m for m in said)
    assert not engines.there.containers(None) and not doc()["hosts"][THERE_ID]["environments"]


def test_each_engine_allocates_its_own_subnets_and_only_a_local_engine_counts_host_routes(
        engines: Engines, shop: Path, said: list[str]) -> None:
    vpn = [Taken.host_route(IPv4Network("10.224.0.0/24"), "dev tun0")]
    a = lifecycle.create(on(engines, HERE, shop, said, routes=vpn), "alpha")
    b = lifecycle.create(on(engines, THERE, shop, said, routes=vpn), "beta")
    assert a["subnet"] == "10.224.1.0/24"  # this machine's VPN route holds .0 here
    assert b["subnet"] == "10.224.0.0/24"  # the remote engine's networks are not this host's routes
    c = lifecycle.create(on(engines, THERE, shop, said, routes=vpn), "gamma")
    assert c["subnet"] not in (b["subnet"], *b["networks"].values())  # one engine never twice
    used = {n["subnet"] for n in b["networks"].values()} | {b["subnet"]}
    assert c["subnet"] not in used


def test_the_same_environment_on_two_engines_needs_a_host_qualified_reference(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.up(on(engines, HERE, shop, said), "alpha")
    # `docker --context remote cilo up alpha` goes to the existing alpha (on this machine)...
    lifecycle.up(on(engines, THERE, shop, said), "alpha")
    assert list(doc()["hosts"]) == [HERE_ID]
    # ...and a second alpha on the remote engine takes HOST: (a docker context name or -H's
    # engine once known) or --host
    remote = lifecycle.up(on(engines, THERE, shop, said, host="tcp://192.0.2.7:2375"), "alpha")
    assert remote["override"].endswith("/shop/alpha@192-0-2-7/override.yml")  # its own files
    assert [h for h, _ in store.read_state().find("shop/alpha")] == sorted([HERE_ID, THERE_ID])
    # unqualified: the current engine's; from a third engine: refused, naming both
    ctx = on(engines, THERE, shop, said)
    assert queries.get_env(ctx, "alpha")["override"] == remote["override"] and ctx.host == THERE_ID
    third = Context(FakeEngine(opts=DockerOptions(host="tcp://192.0.2.99:2375"), engine_id="X:Y"), cwd=shop,
                    say=said.append, routes=lambda: [], dns=FakeDns(), connect=engines.connect)
    with pytest.raises(CiloError, match=r"shop/alpha exists on engines local .* and 192-0-2-7 .*; name the "
                                        r"one: local:alpha or 192-0-2-7:alpha \(or --host NAME before"):
        queries.get_env(third, "alpha")
    ctx = on(engines, THERE, shop, said)
    assert queries.get_env(ctx, "local:alpha")["override"].endswith("/shop/alpha/override.yml")
    assert ctx.engine is engines.here
    with pytest.raises(NoSuchEnvironment, match="shop/nope does not exist on engine local"):
        queries.get_env(on(engines, THERE, shop, said), "local:nope")
    with pytest.raises(CiloError, match=r"no engine 'elsewhere': cilo knows .*local \(unix:///run/fake-local"):
        queries.get_env(on(engines, THERE, shop, said), "elsewhere:alpha")


def test_names_of_the_same_environment_on_another_engine_carry_its_name(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.up(on(engines, HERE, shop, said), "alpha")
    lifecycle.up(on(engines, THERE, shop, said, host="tcp://192.0.2.7:2375"), "alpha")
    names = zone.names_for_env(doc(), "shop/alpha", "test", THERE_ID)
    assert names["web"][0] == "web.alpha.192-0-2-7.test"
    assert zone.names_for_env(doc(), "shop/alpha", "test", HERE_ID)["web"][0] == "web.alpha.test"
    served = zone.records(doc(), "test")
    assert set(served.envs) == {"shop/alpha", "shop/alpha.192-0-2-7"}


def test_list_shows_the_current_engines_copies_and_list_all_every_engines_with_its_host(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.create(on(engines, HERE, shop, said), "alpha")
    lifecycle.create(on(engines, THERE, shop, said), "beta")
    listed, _, elsewhere = queries.list_records(on(engines, HERE, shop, said), every=False)
    assert [(h, r["name"]) for h, r, _ in listed] == [("local", "alpha")] and elsewhere == 1
    assert "(1 more on other engines: docker cilo list --all)" in output.list_text(listed, {}, False, False, 1)
    every, _, _ = queries.list_records(on(engines, HERE, shop, said), every=True)
    table = output.list_text(every, {}, False, True)
    assert table.splitlines()[0].split()[:3] == ["HOST", "PROJECT", "ENV"]
    assert {tuple(line.split()[:3]) for line in table.splitlines()[1:]} == {
        ("local", "shop", "alpha"), ("192-0-2-7", "shop", "beta")}
    assert [(e["host"], e["name"]) for e in json.loads(output.list_text(every, {}, True, True))] == [
        ("local", "alpha"), ("192-0-2-7", "beta")]


def test_doctor_checks_every_engine_and_one_that_does_not_answer_is_one_warning(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.up(on(engines, HERE, shop, said), "alpha")
    lifecycle.up(on(engines, THERE, shop, said), "beta")
    engines.there.fail["ping"] = "no answer within 5 s"
    checks = doctor.run_checks(on(engines, HERE, shop, said))
    reach = {(c.host, c.id): c for c in checks if c.id == "engine.reachable"}
    assert reach[("local", "engine.reachable")].status == "ok"
    remote = reach[("192-0-2-7", "engine.reachable")]
    assert remote.status == "warn" and "unreachable: no answer within 5 s" in remote.message
    assert any(c.host == "local" and c.subject == "shop/alpha" and c.status == "ok" for c in checks)
    assert not any(c.host == "192-0-2-7" and c.id.startswith("env.") for c in checks)
    assert doctor.as_json(checks)["ok"] is True  # a warning, not a failure of the others
    only = doctor.run_checks(on(engines, HERE, shop, said), only="192-0-2-7")
    assert {c.host for c in only if c.host} == {"192-0-2-7"}


def test_doctor_sees_drift_on_the_remote_engine_through_that_engine(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.up(on(engines, THERE, shop, said), "beta")
    web = next(c for c in engines.there.containers_.values() if c.service == "web")
    engines.there.containers_[web.name] = web._replace(state="exited")
    ctx = on(engines, HERE, shop, said)
    checks = doctor.run_checks(ctx)
    drift = [c for c in checks if c.host == "192-0-2-7" and c.subject == "shop/beta" and c.status != "ok"]
    assert drift, [c for c in checks if c.host]
    doctor.fix(ctx, checks, confirm=lambda _: False)
    web = next(c for c in engines.there.containers_.values() if c.service == "web")
    assert web.state == "running"  # repaired on the remote engine, through it


def test_register_claims_an_older_files_local_host_for_this_machines_engine() -> None:
    d: dict[str, Any] = {"hosts": {LOCAL_HOST: {"id": LOCAL_HOST, "provider": "docker",
                                                "environments": {"shop/dev": {}}}}}
    where = hosts.Here("unix:///var/run/docker.sock", None)
    assert hosts.by_endpoint(d, where) == LOCAL_HOST  # before: found without asking the engine
    assert hosts.by_endpoint(d, hosts.Here("tcp://h:2375", None)) is None
    assert hosts.register(d, "ID:1", where, native=True) == "ID:1"
    assert d["hosts"] == {"ID:1": {"id": "ID:1", "provider": "docker", "environments": {"shop/dev": {}},
                                   "name": "local", "endpoint": "unix:///var/run/docker.sock", "local": True}}
    assert hosts.by_endpoint(d, where) == "ID:1"
    # a remote engine never claims it
    d2: dict[str, Any] = {"hosts": {LOCAL_HOST: {"id": LOCAL_HOST, "provider": "docker", "environments": {}}}}
    key = hosts.register(d2, "R:2", hosts.Here("ssh://me@box", "box"), native=False)
    assert set(d2["hosts"]) == {LOCAL_HOST, "R:2"} and d2["hosts"][key]["name"] == "box"
    assert d2["hosts"][key]["context"] == "box"


def test_an_endpoint_that_now_reaches_another_engine_moves_to_it() -> None:
    d: dict[str, Any] = {"hosts": {}}
    where = hosts.Here("tcp://192.0.2.7:2375", None)
    hosts.register(d, "OLD:1", where, native=False)
    hosts.register(d, "NEW:2", where, native=False)
    assert "endpoint" not in d["hosts"]["OLD:1"] and d["hosts"]["NEW:2"]["endpoint"] == where.endpoint
    assert hosts.by_endpoint(d, where) == "NEW:2"
    assert d["hosts"]["NEW:2"]["name"] == "192-0-2-7-2"  # names stay unique
    with pytest.raises(CiloError, match="reports the ID 'bad id'"):
        hosts.register(d, "bad id", where, native=False)


@pytest.mark.parametrize(("ref", "want"), [
    ("remote:alpha", ("remote", "alpha")), ("remote:shop/alpha", ("remote", "shop/alpha")),
    ("alpha", (None, "alpha")), ("shop/alpha", (None, "shop/alpha")),
])
def test_host_qualified_references(ref: str, want: tuple[str | None, str]) -> None:
    assert hosts.split_qualified(ref) == want


def test_resolve_finds_an_engine_by_name_id_prefix_context_or_endpoint() -> None:
    d = {"hosts": {"ABCDEF:123": {"name": "local", "endpoint": "unix:///var/run/docker.sock"},
                   "ZZZZZZ:999": {"name": "box", "context": "buildbox", "endpoint": "ssh://me@box"}}}
    assert [hosts.resolve(d, n) for n in ("box", "ZZZZZZ:999", "zzzzzz", "buildbox", "ssh://me@box")] == [
        "ZZZZZZ:999"] * 5
    assert hosts.resolve(d, "local") == "ABCDEF:123" and hosts.resolve(d, "zz") is None


@pytest.mark.parametrize(("endpoint", "access"), [
    (None, "local"), ("unix:///var/run/docker.sock", "local"), ("npipe:////./pipe/docker_engine", "local"),
    ("tcp://127.0.0.1:2375", "local"), ("tcp://localhost:2376", "local"), ("tcp://192.0.2.7:2375", "none"),
    ("tcp://build.example:2376", "none"), ("ssh://me@box", "ssh"),
])
def test_file_access_is_decided_from_the_endpoint(endpoint: str | None, access: str) -> None:
    assert remote.file_access(endpoint) == access


def test_a_tcp_engine_elsewhere_refuses_workspace_bind_mounts_naming_them(
        engines: Engines, shop: Path, said: list[str]) -> None:
    compose = json.loads(json.dumps(COMPOSE))
    compose["services"]["web"]["volumes"] = [{"type": "bind", "source": str(shop / "html"), "target": "/www"},
                                             {"type": "bind", "source": "/etc/localtime", "target": "/t"}]
    (shop / "compose.yaml").write_text(yaml.safe_dump(compose))
    with pytest.raises(CiloError, match=r"shop/alpha: the engine at tcp://192.0.2.7:2375 runs on another "
                                        r"machine .* web \(/.*/shop/html\)\. Reach that machine over ssh"):
        lifecycle.up(on(engines, THERE, shop, said), "alpha")
    assert not store.read_state().doc["hosts"] and not engines.there.networks_  # nothing made
    lifecycle.up(on(engines, HERE, shop, said), "alpha")  # this machine's engine has the files
    compose["services"]["web"]["volumes"] = compose["services"]["web"]["volumes"][1:]
    (shop / "compose.yaml").write_text(yaml.safe_dump(compose))
    lifecycle.up(on(engines, THERE, shop, said, host="tcp://192.0.2.7:2375"), "alpha")  # a host path: its own
    assert len(store.read_state().find("shop/alpha")) == 2


def test_list_all_says_which_engine_does_not_answer_and_still_shows_every_copy(
        engines: Engines, shop: Path, said: list[str]) -> None:
    lifecycle.create(on(engines, HERE, shop, said), "alpha")
    lifecycle.create(on(engines, THERE, shop, said), "beta")
    engines.there.fail["ping"] = "no answer within 5 s"
    every, _, _ = queries.list_records(on(engines, HERE, shop, said), every=True)
    assert [(h, r["name"], ok) for h, r, ok in every] == [("local", "alpha", None), ("192-0-2-7", "beta", False)]
    assert any("engine 192-0-2-7 (tcp://192.0.2.7:2375) is unreachable (no answer within 5 s)" in m for m in said)
    rows = {line.split()[2]: line.split()[3] for line in output.list_text(every, {}, False, True).splitlines()[1:]}
    assert rows == {"alpha": "created", "beta": "created?"}
    assert [e.get("host_reachable") for e in json.loads(output.list_text(every, {}, True, True))] == [None, False]
    said.clear()
    every, _, _ = queries.list_records(on(engines, HERE, shop, said), every=True)  # it answers again
    assert [ok for _, _, ok in every] == [None, True] and not said
