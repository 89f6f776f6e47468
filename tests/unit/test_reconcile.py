"""reconcile.plan is pure: state + one engine snapshot -> findings and actions."""

from __future__ import annotations

from compose_cilo.engine.api import ContainerInfo, NetworkInfo, VolumeInfo
from compose_cilo.reconcile import Observed, plan

L = {"cilo": "true", "cilo.project": "shop", "cilo.environment": "dev"}


def record(status: str = "running") -> dict:
    return {
        "name": "dev", "project": "shop", "status": status, "subnet": "10.224.0.0/24",
        "network": "cilo_shop_dev", "workspace": "/src/shop",
        "services": {
            "web": {"ip": "10.224.0.2", "container": "w1", "status": "running",
                    "replicas": [{"container": "w1", "ip": "10.224.0.2", "status": "running"}]},
            "extra": {"ip": "10.224.0.3", "container": None, "status": "not created", "replicas": []},
        },
    }


def doc(*records: dict) -> dict:
    return {"version": 2, "hosts": {"local": {"environments": {
        f"{r['project']}/{r['name']}": r for r in records}}}}


def web(state: str = "running", ip: str = "10.224.0.2", **labels: str) -> ContainerInfo:
    return ContainerInfo("id1", "w1", "web", state, {"cilo_shop_dev": ip}, {**L, **labels})


NET = NetworkInfo("n1", "cilo_shop_dev", ("10.224.0.0/24",), dict(L))


def ids(checks) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(c.id, c.status, tuple(a.kind for a in c.actions)) for c in checks if c.status != "ok"]


def test_healthy_environment_is_ok() -> None:
    checks = plan(doc(record()), Observed([web()], [NET]))
    assert ids(checks) == []
    assert {c.id for c in checks} == {"env.drift", "orphan.container"}


def test_gone_stopped_and_moved_containers() -> None:
    assert ids(plan(doc(record()), Observed([], [NET]))) == [("env.drift", "fail", ("up",))]
    assert ids(plan(doc(record()), Observed([web("exited")], [NET]))) == [("env.drift", "fail", ("up",))]
    assert ids(plan(doc(record()), Observed([web(ip="10.224.0.9")], [NET]))) == [
        ("env.drift", "warn", ("record",))]


def test_missing_network_and_workspace() -> None:
    assert ids(plan(doc(record()), Observed([web()], []))) == [("env.drift", "fail", ("up",))]
    assert ids(plan(doc(record("created")), Observed([], []))) == [("env.drift", "fail", ("network",))]
    checks = plan(doc(record()), Observed([web()], [NET], missing_workspaces=frozenset({"shop/dev"})))
    assert ids(checks) == [("env.drift", "fail", ())]  # cannot be fixed automatically


def test_stopped_environment_with_running_containers() -> None:
    assert ids(plan(doc(record("stopped")), Observed([web()], [NET]))) == [("env.drift", "warn", ("stop",))]


def test_overlap_is_reported_with_the_move_command() -> None:
    checks = plan(doc(record()), Observed([web()], [NET], overlaps={"shop/dev": ["host route x"]}))
    (c,) = [c for c in checks if c.id == "subnet.overlap"]
    assert c.status == "fail" and not c.actions and "up dev --recreate" in c.fix


def test_orphans_adopted_when_labels_suffice_else_removed() -> None:
    adoptable = web(**{"com.docker.compose.project.working_dir": "/src/shop",
                       "com.docker.compose.project.config_files":
                           "/src/shop/compose.yaml,/h/envs/shop/dev/override.yml",
                       "cilo.profiles": "full"})
    checks = plan(doc(), Observed([adoptable], [NET], [VolumeInfo("v", dict(L))]))
    assert ids(checks) == [("orphan.container", "fail", ("adopt",)), ("orphan.network", "fail", ("adopt",)),
                           ("orphan.volume", "fail", ("adopt",))]
    adopt = checks[0].actions[0]
    assert adopt.adoption.files == ("/src/shop/compose.yaml",) and adopt.adoption.profiles == ("full",)
    assert adopt.adoption.subnet == "10.224.0.0/24" and adopt.adoption.running is True
    bare = plan(doc(), Observed([web()], [NET]))
    assert ids(bare) == [("orphan.container", "fail", ("remove_container",)),
                         ("orphan.network", "fail", ("remove_network",))]
    assert all(a.destructive for c in bare for a in c.actions)


def test_unlabelled_objects_are_never_orphans() -> None:
    stranger = ContainerInfo("x", "x", "", "running", {}, {"cilo": "true"})
    assert ids(plan(doc(), Observed([stranger], [NetworkInfo("b", "bridge", (), {})]))) == []
