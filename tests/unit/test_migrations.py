"""State migrations: the converters, the chain, and the store's backup/migrate/refuse logic."""

from __future__ import annotations

import copy
import errno
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from compose_cilo import paths
from compose_cilo.cli import main as app
from compose_cilo.errors import CiloError, StateError, UsageError
from compose_cilo.state import migrations, store, validation
from tests.fakes import FakeEngine


def v1_doc(source: str = "/src/shop") -> dict:
    return {
        "version": 1,
        "environments": {
            "shop/dev": {
                "name": "dev", "project": "shop", "subnet": "10.224.1.0/24", "status": "running",
                "created_at": "2025-01-15T10:30:00Z", "source": source,
                "services": {"web": {"ip": "10.224.1.2", "container": "cilo_dev_web"},
                             "cache": {"ip": ""}},
            },
            "blog/qa": {
                "name": "qa", "project": "blog", "subnet": "10.224.3.0/24", "status": "exited",
                "created_at": "2025-01-16T10:30:00.123456789+01:00", "source": "/srv/blog",
                "services": {},
            },
        },
        "subnet_counter": 3,
    }


def v2_record(project: str = "shop", env: str = "dev", subnet: str = "10.224.0.0/24") -> dict:
    return {
        "name": env, "project": project, "compose_project": f"cilo_{project}_{env}",
        "status": "running", "subnet": subnet, "network": f"cilo_{project}_{env}",
        "project_dir": "/src/shop", "compose_files": ["/src/shop/compose.yaml"],
        "env_files": ["/src/shop/.env.test"], "profiles": ["debug"], "workspace": "/h/ws",
        "copy": True, "override": f"/h/envs/{project}/{env}/override.yml",
        "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-29T00:00:00Z",
        "services": {
            "web": {"ip": "10.224.0.2", "container": "c1", "status": "running",
                    "ingress": True, "hostnames": ["admin"], "replicas": []},
            "db": {"ip": None, "container": None, "status": "not created",
                   "ingress": False, "hostnames": [], "replicas": []},
        },
    }


def v2_doc(*records: dict) -> dict:
    """A version-2 document (what cilo wrote before version 3)."""
    doc = store.empty_state()
    doc["version"] = 2
    doc["hosts"]["local"] = {"id": "local", "provider": "docker", "environments": {}}
    for r in records:
        doc["hosts"]["local"]["environments"][f"{r['project']}/{r['name']}"] = r
    return doc


def current_record(project: str = "shop", env: str = "dev", subnet: str = "10.224.0.0/24",
                   networks: dict | None = None) -> dict:
    """`v2_record` as the current version holds it."""
    return {**v2_record(project, env, subnet), "networks": networks or {}}


def current_doc(*records: dict) -> dict:
    """A document of the current version (what this cilo writes)."""
    doc = store.empty_state()
    doc["hosts"]["local"] = {"id": "local", "provider": "docker", "environments": {}}  # unclaimed
    for r in records:
        doc["hosts"]["local"]["environments"][f"{r['project']}/{r['name']}"] = r
    return doc


FRONT = {"front": {"name": "cilo_shop_dev_front", "subnet": "10.224.5.0/24"}}
NEWER = migrations.LATEST + 1


def check(path: Path = Path("/s.json")) -> migrations.Check:
    return lambda doc, version: store.validate(doc, path, version)


def write_state(content: bytes | dict) -> bytes:
    raw = content if isinstance(content, bytes) else json.dumps(content, indent=1).encode()
    path = paths.state_path()
    paths.ensure_private_dir(path.parent)
    path.write_bytes(raw)
    path.chmod(0o600)
    return raw


# --- converters -----------------------------------------------------------------------


def test_v1_record_gets_every_v2_field_derived(tmp_path: Path) -> None:
    (tmp_path / "compose.yml").write_text("services: {}\n")
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "compose.override.yaml").write_text("services: {}\n")
    doc = migrations.migrate(v1_doc(str(tmp_path)), 2, Path("/s.json"), check())
    dev = doc["hosts"]["local"]["environments"]["shop/dev"]
    assert dev == {
        "name": "dev", "project": "shop", "compose_project": "cilo_shop_dev",
        "status": "running", "subnet": "10.224.1.0/24", "network": "cilo_shop_dev",
        "project_dir": str(tmp_path),
        "compose_files": [str(tmp_path / "compose.yml"), str(tmp_path / "compose.override.yaml")],
        "env_files": [], "profiles": [], "workspace": str(tmp_path), "copy": False,
        "override": str(paths.env_dir("shop", "dev") / "override.yml"),
        "created_at": "2025-01-15T10:30:00Z", "updated_at": "2025-01-15T10:30:00Z",
        "services": {
            "cache": {"ip": None, "container": None, "status": "not created", "ingress": False,
                      "hostnames": [], "replicas": []},
            "web": {"ip": "10.224.1.2", "container": "cilo_dev_web", "status": "unknown",
                    "ingress": True, "hostnames": [], "replicas": []},
        },
    }
    qa = doc["hosts"]["local"]["environments"]["blog/qa"]
    assert qa["compose_files"] == ["/srv/blog/docker-compose.yml"]  # no file there: the plan's
    assert qa["status"] == "stopped" and qa["updated_at"] == qa["created_at"]


@pytest.mark.parametrize(
    ("v1", "v2"),
    [("running", "running"), ("Running", "running"), ("up", "running"), ("created", "created"),
     ("creating", "creating"), ("exited", "stopped"), ("stopped", "stopped"),
     ("paused", "stopped"), ("dead", "error"), ("failed", "error"), ("error", "error"),
     ("something-new", "stopped")],
)
def test_v1_statuses_map_to_the_v2_enum(v1: str, v2: str) -> None:
    doc = v1_doc()
    doc["environments"]["shop/dev"]["status"] = v1
    out = migrations.v1_to_v2(doc)
    assert out["hosts"]["local"]["environments"]["shop/dev"]["status"] == v2


def test_a_file_without_version_is_version_1() -> None:
    doc = v1_doc()
    del doc["version"]
    assert migrations.version_of(doc, Path("/s.json")) == 1
    assert migrations.version_of({}, Path("/s.json")) == 1
    assert migrations.migrate({}, 2, Path("/s.json"), check()) == v2_doc()
    assert migrations.migrate({}, migrations.LATEST, Path("/s.json"), check()) == \
        store.empty_state()


def test_v2_to_v1_to_v2_keeps_what_v1_holds() -> None:
    records = [v2_record(), v2_record("blog", "qa", "10.224.7.0/24")]
    for status in ("creating", "created", "running", "stopped", "error"):
        records[1] = {**records[1], "status": status}
        doc = v2_doc(*copy.deepcopy(records))
        back = migrations.migrate(migrations.migrate(doc, 1, Path("/s"), check()), 2, Path("/s"),
                                  check())
        for key, before in doc["hosts"]["local"]["environments"].items():
            after = back["hosts"]["local"]["environments"][key]
            for f in ("name", "project", "subnet", "status", "created_at", "project_dir",
                      "compose_project", "network"):
                assert after[f] == before[f], f
            assert {n: (s["ip"], s["container"]) for n, s in after["services"].items()} == \
                   {n: (s["ip"], s["container"]) for n, s in before["services"].items()}


def test_v1_to_v2_to_v1_is_equivalent() -> None:
    doc = v1_doc()
    doc["environments"]["blog/qa"]["status"] = "stopped"  # a v2 status: kept exactly
    back = migrations.migrate(migrations.migrate(doc, 2, Path("/s"), check()), 1, Path("/s"),
                              check())
    assert back == doc


def test_down_derives_the_subnet_counter() -> None:
    doc = v2_doc(v2_record(subnet="10.224.4.0/24"), v2_record("blog", "qa", "10.224.9.0/24"))
    assert migrations.v2_to_v1(doc)["subnet_counter"] == 9
    assert migrations.v2_to_v1(v2_doc())["subnet_counter"] == 0


def test_down_refuses_environments_of_other_hosts() -> None:
    doc = v2_doc()
    doc["hosts"]["remote"] = {"id": "remote", "provider": "docker",
                              "environments": {"shop/dev": v2_record()}}
    with pytest.raises(StateError, match=r"/s.json cannot be migrated from version 2 to 1: "
                                         r"hosts/remote: version 1 holds only the local"):
        migrations.migrate(doc, 1, Path("/s.json"), check())


def test_up_refuses_a_key_that_does_not_match_its_record() -> None:
    doc = v1_doc()
    doc["environments"]["shop/prod"] = doc["environments"].pop("shop/dev")
    with pytest.raises(StateError, match=r"environments/shop/prod: holds project \"shop\" and "
                                         r"name \"dev\""):
        migrations.migrate(doc, 2, Path("/s.json"), check())


def test_invalid_v1_input_names_file_version_and_field() -> None:
    doc = v1_doc()
    del doc["environments"]["shop/dev"]["subnet"]
    with pytest.raises(StateError, match=r"state file /s.json \(version 1\) is invalid: "
                                         r"environments/shop/dev: 'subnet' is a required"):
        migrations.migrate(doc, 2, Path("/s.json"), check())


def test_v1_records_may_carry_fields_the_plan_added() -> None:
    doc = v1_doc()
    doc["environments"]["shop/dev"]["shared_networks"] = ["x"]
    doc["environments"]["shop/dev"]["services"]["web"]["hostnames"] = ["a"]
    assert migrations.migrate(doc, 2, Path("/s"), check())["version"] == 2


def test_v1_top_level_is_strict() -> None:
    """A v2 file that lost its version must not pass for an empty v1 state."""
    with pytest.raises(StateError, match=r"\(version 1\) is invalid: \(top level\).*'hosts'"):
        migrations.migrate({"hosts": {}}, 2, Path("/s"), check())


# --- version 2 <-> version 3 ---------------------------------------------------------------


def test_v2_to_v3_adds_empty_networks_to_every_record() -> None:
    doc = v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24"))
    doc["hosts"]["remote"] = {"id": "remote", "provider": "docker",
                              "environments": {"shop/ci": v2_record(env="ci")}}
    before = copy.deepcopy(doc)
    with pytest.raises(StateError, match=r"\.networks|'networks' is a required"):
        store.validate(doc, Path("/s.json"), 3)  # a v2 record is not a v3 record
    out = migrations.migrate(doc, 3, Path("/s.json"), check())
    assert out["version"] == 3
    store.validate(out, Path("/s.json"), 3)
    records = [(h, k, r) for h, host in out["hosts"].items()
               for k, r in host["environments"].items()]
    assert sorted((h, k) for h, k, _ in records) == \
        [("local", "blog/qa"), ("local", "shop/dev"), ("remote", "shop/ci")]
    for h, k, rec in records:
        assert rec == {**before["hosts"][h]["environments"][k], "networks": {}}
    assert {h: {k: v for k, v in host.items() if k != "environments"}
            for h, host in out["hosts"].items()} == \
        {h: {k: v for k, v in host.items() if k != "environments"}
         for h, host in before["hosts"].items()}
    assert doc == before  # the input is not changed


def test_v2_to_v3_of_an_empty_state_is_the_empty_state() -> None:
    assert migrations.migrate(v2_doc(), 3, Path("/s"), check()) == {**v2_doc(), "version": 3}


def test_v3_to_v2_drops_the_networks() -> None:
    doc = current_doc(current_record(networks=FRONT), current_record("blog", "qa", "10.224.7.0/24"))
    store.validate(doc, Path("/s.json"))
    before = copy.deepcopy(doc)
    out = migrations.migrate(doc, 2, Path("/s.json"), check())
    assert out["version"] == 2
    store.validate(out, Path("/s.json"), 2)
    envs = out["hosts"]["local"]["environments"]
    assert envs == {"shop/dev": v2_record(), "blog/qa": v2_record("blog", "qa", "10.224.7.0/24")}
    assert all("networks" not in r for r in envs.values())
    assert doc == before  # the input is not changed


def test_v3_to_v2_to_v3_keeps_everything_but_the_networks() -> None:
    doc = current_doc(current_record(networks=FRONT), current_record("blog", "qa", "10.224.7.0/24"))
    back = migrations.migrate(migrations.migrate(doc, 2, Path("/s"), check()), store.STATE_VERSION,
                              Path("/s"), check())
    expected = copy.deepcopy(doc)
    expected["hosts"]["local"]["environments"]["shop/dev"]["networks"] = {}
    assert back == expected
    plain = current_doc(current_record())
    assert migrations.migrate(migrations.migrate(plain, 2, Path("/s"), check()), store.STATE_VERSION,
                              Path("/s"), check()) == plain


def test_v2_to_v3_to_v2_is_identity() -> None:
    doc = v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24"))
    up = migrations.migrate(doc, 3, Path("/s"), check())
    assert migrations.migrate(up, 2, Path("/s"), check()) == doc


def test_chain_1_to_3_and_back() -> None:
    doc = v1_doc()
    doc["environments"]["blog/qa"]["status"] = "stopped"  # a v2 status: kept exactly
    up = migrations.migrate(doc, 3, Path("/s"), check())
    assert up["version"] == 3
    store.validate(up, Path("/s"), 3)
    via_2 = migrations.v2_to_v3(migrations.migrate(doc, 2, Path("/s"), check()))
    assert up == via_2
    assert {k: r["networks"] for k, r in up["hosts"]["local"]["environments"].items()} == \
        {"shop/dev": {}, "blog/qa": {}}
    assert migrations.migrate(up, 1, Path("/s"), check()) == doc


def test_chain_3_to_1_drops_networks_and_v2_only_fields() -> None:
    doc = current_doc(current_record(subnet="10.224.4.0/24", networks=FRONT))
    v1 = migrations.migrate(doc, 1, Path("/s"), check())
    store.validate(v1, Path("/s"), 1)
    assert v1 == {
        "version": 1, "subnet_counter": 4,
        "environments": {"shop/dev": {
            "name": "dev", "project": "shop", "subnet": "10.224.4.0/24", "status": "running",
            "created_at": "2026-11-28T00:00:00Z", "source": "/src/shop",
            "services": {"db": {"ip": ""}, "web": {"ip": "10.224.0.2", "container": "c1"}},
        }},
    }


def test_down_refuses_other_engines_naming_the_step() -> None:
    doc = current_doc()
    doc["hosts"]["remote"] = {"id": "remote", "provider": "docker", "name": "remote",
                              "environments": {"shop/dev": current_record()}}
    with pytest.raises(StateError, match=r"/s.json cannot be migrated from version 6 to 5: "
                                         r"hosts/remote: version 5 holds only this machine's engine; "
                                         r"destroy the environments on remote first"):
        migrations.migrate(doc, 1, Path("/s.json"), check())


def test_2_to_1_refuses_other_hosts_naming_the_step() -> None:
    doc = v2_doc()
    doc["hosts"]["remote"] = {"id": "remote", "provider": "docker", "environments": {"shop/dev": v2_record()}}
    with pytest.raises(StateError, match=r"/s.json cannot be migrated from version 2 to 1: "
                                         r"hosts/remote: version 1 holds only the local"):
        migrations.migrate(doc, 1, Path("/s.json"), check())


def test_invalid_v2_input_is_refused_before_v3() -> None:
    """A v2 file whose records already hold networks is not a valid v2 file."""
    doc = v2_doc(current_record(networks=FRONT))
    with pytest.raises(StateError, match=r"state file /s.json \(version 2\) is invalid: "
                                         r"hosts/local/environments/shop/dev: .*'networks'"):
        migrations.migrate(doc, 3, Path("/s.json"), check())


def test_invalid_v3_networks_are_refused_going_down() -> None:
    doc = current_doc(current_record(networks={"front": {"name": "cilo_shop_dev_front"}}))
    with pytest.raises(StateError, match=r"state file /s.json is invalid: "
                                         r"hosts/local/environments/shop/dev/networks/front: "
                                         r"'subnet' is a required"):
        migrations.migrate(doc, 2, Path("/s.json"), check())


@pytest.mark.parametrize(
    ("version", "message"),
    [(True, "not a version number"), ("2", "not a version number"), (1.5, "not a version"),
     (None, "not a version number"), (0, "no cilo ever wrote"), (-1, "no cilo ever wrote"),
     (NEWER, rf"version {NEWER}, newer than this cilo understands "
             rf"\(versions 1-{migrations.LATEST}\); upgrade"),
     (99, rf"version 99, newer than this cilo understands \(versions 1-{migrations.LATEST}\)")],
)
def test_bad_versions_are_refused(version: object, message: str) -> None:
    with pytest.raises(StateError, match=message):
        migrations.version_of({"version": version}, Path("/s.json"))


@pytest.mark.parametrize("version", range(1, migrations.LATEST + 1))
def test_every_known_version_is_accepted(version: int) -> None:
    assert migrations.version_of({"version": version}, Path("/s.json")) == version


def test_steps_run_in_order_both_ways() -> None:
    assert migrations.steps(1, 2) == [(2, migrations.v1_to_v2)]
    assert migrations.steps(2, 1) == [(1, migrations.v2_to_v1)]
    assert migrations.steps(2, 3) == [(3, migrations.v2_to_v3)]
    assert migrations.steps(3, 2) == [(2, migrations.v3_to_v2)]
    assert migrations.steps(1, 3) == [(2, migrations.v1_to_v2), (3, migrations.v2_to_v3)]
    assert migrations.steps(3, 1) == [(2, migrations.v3_to_v2), (1, migrations.v2_to_v1)]
    assert migrations.steps(2, 2) == [] and migrations.steps(3, 3) == []
    assert [v for v, _ in migrations.steps(migrations.OLDEST, migrations.LATEST)] == \
        list(range(migrations.OLDEST + 1, migrations.LATEST + 1))
    assert migrations.check_target(migrations.LATEST) == migrations.LATEST
    with pytest.raises(UsageError, match=f"state version {NEWER} does not exist; this cilo "
                                         f"knows versions 1-{migrations.LATEST}"):
        migrations.check_target(NEWER)


def test_dropped_lists_one_entry_per_step_down() -> None:
    v2_drops, v3_drops = (m.down_drops for m in migrations.MIGRATIONS[:2])
    assert migrations.dropped(3, 2) == [v3_drops] and "networks" in v3_drops
    assert migrations.dropped(2, 1) == [v2_drops]
    assert migrations.dropped(3, 1) == [v2_drops, v3_drops]
    assert migrations.dropped(1, 3) == [] and migrations.dropped(3, 3) == []


def test_table_versions_are_contiguous_and_have_schemas() -> None:
    versions = [m.version for m in migrations.MIGRATIONS]
    assert versions == list(range(migrations.OLDEST + 1, migrations.LATEST + 1))
    assert migrations.LATEST == store.STATE_VERSION
    for v in range(migrations.OLDEST, migrations.LATEST + 1):
        assert validation.schema(v)["title"].startswith(f"compose-cilo state, version {v}")


# --- the store: migrate on first read, backup, refuse --------------------------------------


def test_first_read_migrates_the_file_and_keeps_a_byte_identical_backup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = write_state(v1_doc())
    st = store.read_state()
    assert set(st.environments("local")) == {"shop/dev", "blog/qa"}
    path = paths.state_path()
    on_disk = json.loads(path.read_text())
    assert on_disk["version"] == store.STATE_VERSION
    store.validate(on_disk, path)
    assert store.backup_path(path, 1).read_bytes() == raw
    assert stat.S_IMODE(store.backup_path(path, 1).stat().st_mode) == 0o600
    assert "migrated state file" in capsys.readouterr().err
    store.read_state()  # a second read: nothing more to do
    assert store.backups() == [store.backup_path(path, 1)]


def test_mutate_migrates_before_the_change() -> None:
    write_state(v1_doc())
    with store.mutate() as st:
        st.environments("local").pop("blog/qa")
    doc = json.loads(paths.state_path().read_text())
    assert doc["version"] == store.STATE_VERSION
    assert list(doc["hosts"]["local"]["environments"]) == ["shop/dev"]
    assert doc["hosts"]["local"]["environments"]["shop/dev"]["networks"] == {}


def test_an_existing_backup_is_never_overwritten() -> None:
    path = paths.state_path()
    paths.ensure_private_dir(path.parent)
    store.backup_path(path, 1).write_bytes(b"an older original")
    raw = write_state(v1_doc())
    store.read_state()
    assert store.backup_path(path, 1).read_bytes() == b"an older original"
    assert path.with_name("state.json.v1.backup.2").read_bytes() == raw


def test_the_same_original_is_backed_up_once() -> None:
    raw = write_state(v1_doc())
    store.read_state()
    write_state(raw)  # the user puts the original back
    store.read_state()
    assert store.backups() == [store.backup_path(paths.state_path(), 1)]


def test_load_migrates_in_memory_only() -> None:
    raw = write_state(v1_doc())
    assert store.load().doc["version"] == store.STATE_VERSION
    assert paths.state_path().read_bytes() == raw and not store.backups()


def test_load_migrates_a_v2_file_in_memory_only() -> None:
    raw = write_state(v2_doc(v2_record()))
    doc = store.load().doc
    assert doc["version"] == store.STATE_VERSION
    assert doc["hosts"]["local"]["environments"]["shop/dev"]["networks"] == {}
    assert paths.state_path().read_bytes() == raw and not store.backups()


@pytest.mark.parametrize("action", ["read", "mutate", "migrate", "describe"])
def test_newer_or_invalid_v1_files_change_nothing(action: str) -> None:
    v2_with_networks = v2_doc(current_record(networks=FRONT))  # a v3 file that says 2
    for content in (json.dumps({"version": NEWER, "hosts": {}}).encode(),
                    json.dumps({"version": 1, "environments": {"shop/dev": {"name": "dev"}}}).encode(),
                    json.dumps(v2_with_networks).encode()):
        raw = write_state(content)
        with pytest.raises(StateError, match=str(paths.state_path())):
            if action == "read":
                store.read_state()
            elif action == "mutate":
                with store.mutate():
                    pass
            elif action == "migrate":
                store.migrate_file(1)
            else:
                store.describe()
        assert paths.state_path().read_bytes() == raw and not store.backups()


def test_migrate_file_down_and_up_again() -> None:
    original = v1_doc()
    original["environments"]["blog/qa"]["status"] = "stopped"
    write_state(original)
    up = store.migrate_file(2)
    assert (up.from_version, up.to_version, up.dropped) == (1, 2, ())
    down = store.migrate_file(1)
    assert (down.from_version, down.to_version) == (2, 1) and down.dropped
    assert down.backup == store.backup_path(paths.state_path(), 2)
    assert json.loads(paths.state_path().read_text()) == original
    assert store.migrate_file(1).backup is None  # already there: nothing written


def test_migrate_file_without_a_file() -> None:
    done = store.migrate_file(1)
    assert done.from_version is None and not paths.state_path().exists()


def test_concurrent_first_reads_migrate_once(tmp_path: Path) -> None:
    raw = write_state(v1_doc())
    code = "from compose_cilo.state import store as state\nstate.read_state()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
             for _ in range(4)]
    errs = [p.communicate()[1] for p in procs]
    assert all(p.returncode == 0 for p in procs), errs
    assert sum("migrated state file" in e for e in errs) == 1
    assert store.backups() == [store.backup_path(paths.state_path(), 1)]
    assert store.backup_path(paths.state_path(), 1).read_bytes() == raw


def test_first_read_migrates_a_v2_file_and_keeps_a_byte_identical_backup(
    capsys: pytest.CaptureFixture[str],
) -> None:
    raw = write_state(v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24")))
    st = store.read_state()
    assert {k: r["networks"] for k, r in st.environments("local").items()} == \
        {"shop/dev": {}, "blog/qa": {}}
    path = paths.state_path()
    on_disk = json.loads(path.read_text())
    assert on_disk["version"] == store.STATE_VERSION == migrations.LATEST
    store.validate(on_disk, path)
    assert on_disk["hosts"]["local"]["environments"]["shop/dev"] == current_record()
    backup = path.with_name("state.json.v2.backup")
    assert store.backup_path(path, 2) == backup and backup.read_bytes() == raw
    assert stat.S_IMODE(backup.stat().st_mode) == 0o600
    assert f"migrated state file {path} from version 2 to {store.STATE_VERSION}" in capsys.readouterr().err
    store.read_state()
    assert store.backups() == [backup]


def test_mutate_migrates_a_v2_file_before_the_change() -> None:
    raw = write_state(v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24")))
    with store.mutate() as st:
        assert st.environments("local")["shop/dev"]["networks"] == {}
        st.environments("local")["shop/dev"]["networks"] = FRONT
        st.environments("local").pop("blog/qa")
    doc = json.loads(paths.state_path().read_text())
    assert doc["version"] == store.STATE_VERSION
    assert doc["hosts"]["local"]["environments"] == {"shop/dev": current_record(networks=FRONT)}
    assert store.backup_path(paths.state_path(), 2).read_bytes() == raw


def test_migrate_file_from_the_current_version_to_2_and_back() -> None:
    raw = write_state(current_doc(current_record(networks=FRONT)))
    down = store.migrate_file(2)
    assert (down.from_version, down.to_version) == (store.STATE_VERSION, 2)
    assert down.dropped == tuple(m.down_drops for m in migrations.MIGRATIONS[1:])
    assert down.backup == store.backup_path(paths.state_path(), store.STATE_VERSION)
    assert down.backup.read_bytes() == raw
    doc = json.loads(paths.state_path().read_text())
    assert doc == v2_doc(v2_record())
    store.validate(doc, paths.state_path(), 2)
    up = store.migrate_file(store.STATE_VERSION)
    assert (up.from_version, up.to_version, up.dropped) == (2, store.STATE_VERSION, ())
    assert json.loads(paths.state_path().read_text()) == current_doc(current_record())


# --- crash safety and write errors --------------------------------------------------------


def _fail(*_: object) -> None:
    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def test_a_full_disk_leaves_the_previous_state_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    before = paths.state_path().read_bytes()
    monkeypatch.setattr(os, "fsync", _fail)
    with pytest.raises(StateError, match=r"cannot write state file .* \(No space left on "
                                         r"device\); the previous state is intact"):
        with store.mutate() as st:
            st.environments("local").clear()
    assert paths.state_path().read_bytes() == before
    assert sorted(p.name for p in paths.state_path().parent.iterdir()) == \
        ["state.json", "state.json.lock", "state.json.valid"]  # the temp file is gone too


def test_a_failed_rename_leaves_the_previous_state_intact(monkeypatch: pytest.MonkeyPatch) -> None:
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    before = paths.state_path().read_bytes()
    monkeypatch.setattr(os, "replace", _fail)
    with pytest.raises(StateError, match="the previous state is intact"):
        with store.mutate() as st:
            st.environments("local").clear()
    assert paths.state_path().read_bytes() == before
    assert not list(paths.state_path().parent.glob(".cilo-tmp-*"))


def test_a_full_disk_during_migration_keeps_the_v1_file(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = write_state(v1_doc())
    real_fsync = os.fsync
    calls = []

    def fsync_fails_after_backup(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 1:  # the backup is written, then the new state is not
            _fail()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_after_backup)
    with pytest.raises(StateError, match=r"the previous state \(version 1, not migrated\) is "
                                         "intact"):
        store.read_state()
    assert paths.state_path().read_bytes() == raw


def test_a_full_disk_during_migration_keeps_the_v2_file(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = write_state(v2_doc(v2_record()))
    real_fsync = os.fsync
    calls = []

    def fsync_fails_after_backup(fd: int) -> None:
        calls.append(fd)
        if len(calls) > 1:
            _fail()
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync_fails_after_backup)
    with pytest.raises(StateError, match=r"the previous state \(version 2, not migrated\) is "
                                         "intact"):
        store.read_state()
    assert paths.state_path().read_bytes() == raw


def test_a_failed_backup_changes_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = write_state(v1_doc())
    monkeypatch.setattr(os, "link", _fail)
    with pytest.raises(StateError, match=r"cannot write backup .*state.json.v1.backup .*the "
                                         "state file is unchanged"):
        store.read_state()
    assert paths.state_path().read_bytes() == raw and not store.backups()
    assert not list(paths.state_path().parent.glob(".cilo-tmp-*"))


def test_a_real_write_error_from_the_kernel(tmp_path: Path) -> None:
    """RLIMIT_FSIZE makes the kernel refuse the write (EFBIG), as a full disk would."""
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    before = paths.state_path().read_bytes()
    code = (
        "import resource, signal\n"
        "from compose_cilo.state import store as state\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({len(before)}, {len(before)}))\n"
        "with state.mutate() as st:\n"
        "    st.environments('local')['shop/dev']['profiles'] = ['x' * 1000]\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode != 0
    assert "File too large); the previous state is intact" in proc.stderr
    assert paths.state_path().read_bytes() == before


def test_temp_files_of_a_killed_writer_are_ignored_then_cleaned() -> None:
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    junk = paths.state_path().parent / ".cilo-tmp-state.json.k1ll3d"
    junk.write_text('{"version": 2, "hos')
    assert "shop/dev" in store.read_state().environments("local")
    with store.mutate():
        pass
    assert not junk.exists()


def test_a_lock_held_by_a_killed_process_never_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    code = ("import sys, time\nfrom compose_cilo.state import store as state\n"
            "with state.locked():\n    print('held', flush=True)\n    time.sleep(60)\n")
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        monkeypatch.setenv("CILO_LOCK_TIMEOUT", "0")
        with pytest.raises(StateError, match="still held"):
            with store.locked():
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait()
        with store.locked():  # timeout 0: the dead holder's flock is gone
            pass
    finally:
        holder.kill()
        holder.wait()


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "1e"])
def test_bad_lock_timeouts_are_refused(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CILO_LOCK_TIMEOUT", value)
    with pytest.raises(CiloError, match=f'CILO_LOCK_TIMEOUT="{value}" is not a number of '
                                        r"seconds \(0 or more"):
        store.lock_timeout()


def test_deeply_nested_json_is_a_clear_error() -> None:
    raw = write_state(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(StateError, match="is not valid JSON"):
        store.read_state()
    assert paths.state_path().read_bytes() == raw


def test_a_state_path_that_is_a_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CILO_STATE_PATH", str(tmp_path))
    with pytest.raises(StateError, match=f"cannot read state file {tmp_path} "):
        store.read_state()


# --- permissions -----------------------------------------------------------------------------


def test_private_files_have_no_problems() -> None:
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    assert store.permission_problems() == []


def test_files_others_can_read_are_reported() -> None:
    with store.mutate() as st:
        st.environments("local")["shop/dev"] = current_record()
    path = paths.state_path()
    path.chmod(0o644)
    paths.cilo_home().chmod(0o755)
    paths.lock_path().chmod(0o620)
    problems = store.permission_problems()
    assert problems == [
        f"cilo home {paths.cilo_home()} is readable by other users (mode 0755); "
        f"run: chmod 700 {paths.cilo_home()}",
        f"state file {path} is readable by other users (mode 0644); run: chmod 600 {path}",
        f"state lock {paths.lock_path()} is writable by other users (mode 0620); "
        f"run: chmod 600 {paths.lock_path()}",
    ]
    with store.mutate():  # a write tightens the files; a folder it did not create stays
        pass
    assert store.permission_problems() == problems[:1]


def test_a_moved_state_folder_is_checked_too(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    monkeypatch.setenv("CILO_STATE_PATH", str(folder / "s.json"))
    (folder / "s.json").write_text("{}")
    (folder / "s.json").chmod(0o600)
    assert store.permission_problems() == [
        f"state folder {folder} is readable by other users (mode 0755); run: chmod 700 {folder}"
    ]


# --- summary and the CLI ---------------------------------------------------------------------


def test_describe_reports_the_file_as_it_is() -> None:
    assert store.describe()["exists"] is False
    write_state(v1_doc())
    s = store.describe()
    assert (s["version"], s["current_version"], s["environments"], s["projects"], s["services"]) \
        == (1, store.STATE_VERSION, 2, 2, 2)
    assert json.loads(paths.state_path().read_text())["version"] == 1  # not migrated by show
    raw = write_state(v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24")))
    s = store.describe()
    assert (s["version"], s["current_version"], s["environments"], s["projects"], s["services"]) \
        == (2, store.STATE_VERSION, 2, 2, 4)
    assert paths.state_path().read_bytes() == raw and not store.backups()


def test_cli_state_show_and_migrate(capsys: pytest.CaptureFixture[str]) -> None:
    write_state(v1_doc())
    assert app.run(["state", "show"]) == 0
    out = capsys.readouterr().out
    latest = store.STATE_VERSION
    assert f"version       1 (older: the next command migrates it to {latest}" in out
    assert "environments  2" in out
    assert app.run(["state", "migrate", "--to", str(latest)]) == 0
    assert f"from version 1 to {latest}; the original is in" in capsys.readouterr().out
    assert app.run(["state", "show", "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["version"] == latest and shown["backups"] == [
        str(store.backup_path(paths.state_path(), 1))]
    assert app.run(["state", "show"]) == 0
    assert f"version       {latest}\n" in capsys.readouterr().out  # current: no "older"
    assert app.run(["state", "migrate", "--to", "1"]) == 0
    out = capsys.readouterr().out
    assert "version 1 cannot hold:" in out and f"state migrate --to {latest}" in out
    for m in migrations.MIGRATIONS:  # every step down says what it loses
        assert m.down_drops in out


@pytest.mark.parametrize(("args", "code", "message"), [
    (["state", "migrate", "--to", str(NEWER)], 2, f"state version {NEWER} does not exist"),
    (["state", "migrate", "--to", "0"], 2, "state version 0 does not exist"),
    (["state", "migrate"], 2, "Missing option '--to'"),
])
def test_cli_state_migrate_usage_errors(args: list[str], code: int, message: str,
                                        capsys: pytest.CaptureFixture[str]) -> None:
    assert app.run(args) == code
    assert message in capsys.readouterr().err
    assert not paths.state_path().exists()


def test_cli_refuses_a_newer_file(capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_state(b'{"version": 99}')
    assert app.run(["state", "migrate", "--to", "1"]) == 1
    assert "version 99, newer than this cilo" in capsys.readouterr().err
    assert paths.state_path().read_bytes() == raw


BAD_FILES = {
    "newer": (b'{"version": 99, "hosts": {}}', "has version 99, newer than this cilo"),
    "truncated": (json.dumps(current_doc(current_record()), indent=2).encode()[:300],
                  "is not valid JSON"),
    "schema-invalid": (json.dumps(current_doc(current_record(subnet="nope"))).encode(),
                       "is invalid: hosts/local/environments/shop/dev/subnet: 'nope'"),
    "schema-invalid-v2": (json.dumps(v2_doc({**v2_record(), "subnet": "nope"})).encode(),
                          "(version 2) is invalid: hosts/local/environments/shop/dev/subnet: "
                          "'nope'"),
    "networks-invalid": (json.dumps(current_doc(current_record(
        networks={"front": {"name": "cilo_shop_dev_front", "subnet": "nope"}}))).encode(),
        "is invalid: hosts/local/environments/shop/dev/networks/front/subnet: 'nope'"),
}
COMMANDS = [
    ["list", "--all"], ["list", "--all", "--json"],
    ["--project", "shop", "list"],
    ["--project", "shop", "status", "dev"], ["--project", "shop", "path", "dev"],
    ["--project", "shop", "create", "dev"], ["--project", "shop", "up", "dev"],
    ["--project", "shop", "down", "dev"], ["--project", "shop", "destroy", "--force", "dev"],
    ["--project", "shop", "destroy", "--all", "--force"], ["--project", "shop", "logs", "dev"],
    ["--project", "shop", "run", "dev", "true"], ["path", "shop/dev"],
    ["state", "show"],
    *(["state", "migrate", "--to", str(v)]
      for v in range(migrations.OLDEST, migrations.LATEST + 1)),
]


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
@pytest.mark.parametrize("args", COMMANDS, ids=" ".join)
def test_any_command_refuses_a_bad_file_and_leaves_it(
    kind: str, args: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    content, message = BAD_FILES[kind]
    raw = write_state(content)
    engine = FakeEngine()
    assert app.run(args, engine_factory=lambda: engine) == 1
    assert engine.calls == []  # refused on the state file before asking the engine anything
    err = capsys.readouterr().err
    assert f"state file {paths.state_path()} " in err and message in err, err
    assert paths.state_path().read_bytes() == raw and not store.backups()


def test_list_all_migrates_a_v1_file_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_state(v1_doc())
    assert app.run(["list", "--all", "--json"], engine_factory=FakeEngine) == 0
    listed = json.loads(capsys.readouterr().out)
    assert sorted(f"{e['project']}/{e['name']}" for e in listed) == ["blog/qa", "shop/dev"]
    assert json.loads(paths.state_path().read_text())["version"] == store.STATE_VERSION
    assert store.backup_path(paths.state_path(), 1).read_bytes() == raw


def test_cli_state_migrate_to_2_says_what_is_dropped(capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_state(current_doc(current_record(networks=FRONT)))
    assert app.run(["state", "migrate", "--to", "2"]) == 0
    out = capsys.readouterr().out
    backup = store.backup_path(paths.state_path(), store.STATE_VERSION)
    assert f"from version {store.STATE_VERSION} to 2; the original is in {backup}" in out
    assert ("version 2 cannot hold: the subnets of environments' networks besides their own"
            in out)
    assert "hosts other than local" not in out  # that is what version 1 cannot hold
    assert f"state migrate --to {store.STATE_VERSION}" in out
    assert backup.read_bytes() == raw
    doc = json.loads(paths.state_path().read_text())
    assert doc["version"] == 2 and "networks" not in doc["hosts"]["local"]["environments"]["shop/dev"]
    assert app.run(["state", "show"]) == 0
    assert f"version       2 (older: the next command migrates it to {store.STATE_VERSION}" in \
        capsys.readouterr().out


def test_list_all_migrates_a_v2_file_end_to_end(capsys: pytest.CaptureFixture[str]) -> None:
    raw = write_state(v2_doc(v2_record(), v2_record("blog", "qa", "10.224.7.0/24")))
    assert app.run(["list", "--all", "--json"], engine_factory=FakeEngine) == 0
    captured = capsys.readouterr()
    listed = json.loads(captured.out)
    assert sorted(f"{e['project']}/{e['name']}" for e in listed) == ["blog/qa", "shop/dev"]
    assert f"from version 2 to {store.STATE_VERSION}" in captured.err
    doc = json.loads(paths.state_path().read_text())
    assert doc["version"] == store.STATE_VERSION
    assert all(r["networks"] == {} for r in doc["hosts"]["local"]["environments"].values())
    assert store.backups() == [paths.state_path().with_name("state.json.v2.backup")]
    assert store.backups()[0].read_bytes() == raw


# --- version 3 <-> version 4 --------------------------------------------------------------


def test_v3_to_v4_keeps_everything_and_v4_to_v3_drops_reach_and_http_ports() -> None:
    v3 = {**current_doc(current_record(networks=FRONT)), "version": 3}
    store.validate(v3, Path("/s.json"), 3)
    up = migrations.migrate(v3, 4, Path("/s.json"), check())
    assert up == {**v3, "version": 4}
    store.validate(up, Path("/s.json"), 4)
    richer = copy.deepcopy(up)
    richer["hosts"]["local"]["reach"] = {"mode": "router", "address": "127.0.0.1", "reason": "reach is set to router"}
    richer["hosts"]["local"]["environments"]["shop/dev"]["services"]["web"]["http_port"] = 8080
    store.validate(richer, Path("/s.json"), 4)
    down = migrations.migrate(richer, 3, Path("/s.json"), check())
    store.validate(down, Path("/s.json"), 3)
    assert down == v3
    assert migrations.MIGRATIONS[2].version == 4 and "HTTP ports" in migrations.MIGRATIONS[2].down_drops


# --- version 4 <-> version 5 --------------------------------------------------------------


def test_v4_to_v5_keeps_everything_and_v5_to_v4_drops_published_ports() -> None:
    v4 = {**current_doc(current_record(networks=FRONT)), "version": 4}
    store.validate(v4, Path("/s.json"), 4)
    up = migrations.migrate(v4, 5, Path("/s.json"), check())
    assert up == {**v4, "version": 5}
    store.validate(up, Path("/s.json"), 5)
    richer = copy.deepcopy(up)
    rec = richer["hosts"]["local"]["environments"]["shop/dev"]
    rec["publish"] = True
    port = {"target": 5432, "protocol": "tcp", "host": "127.0.0.1", "port": 49154}
    rec["services"]["web"]["published"] = [port]
    rec["services"]["web"]["replicas"] = [{"container": "c1", "ip": None, "status": "running", "published": [port]}]
    store.validate(richer, Path("/s.json"), 5)
    with pytest.raises(StateError, match="published"):  # version 4 cannot hold them
        store.validate(richer, Path("/s.json"), 4)
    down = migrations.migrate(richer, 4, Path("/s.json"), check())
    store.validate(down, Path("/s.json"), 4)
    web = down["hosts"]["local"]["environments"]["shop/dev"]["services"]["web"]
    assert "published" not in web and "published" not in web["replicas"][0]
    assert "publish" not in down["hosts"]["local"]["environments"]["shop/dev"]
    assert migrations.MIGRATIONS[3].version == 5 and "publish" in migrations.MIGRATIONS[3].down_drops


# --- version 5 <-> version 6 --------------------------------------------------------------


def test_v5_to_v6_names_the_local_host_and_v6_to_v5_gives_it_back() -> None:
    v5 = {**current_doc(current_record(networks=FRONT)), "version": 5}
    v5["hosts"]["local"]["reach"] = {"mode": "direct", "address": "127.0.0.1", "reason": "auto"}
    store.validate(v5, Path("/s.json"), 5)
    up = migrations.migrate(v5, 6, Path("/s.json"), check())
    store.validate(up, Path("/s.json"), 6)
    assert up["hosts"] == {"local": v5["hosts"]["local"]}  # unclaimed: no endpoint, named by its key
    claimed = copy.deepcopy(up)  # what hosts.register makes of it on this machine's engine
    entry = claimed["hosts"].pop("local")
    claimed["hosts"]["ABCD:EFGH"] = {**entry, "id": "ABCD:EFGH", "endpoint": "unix:///var/run/docker.sock",
                                     "local": True}
    claimed["hosts"]["ABCD:EFGH"]["environments"]["shop/dev"]["remote_workspace"] = "/src/shop"
    claimed["hosts"]["R:1"] = {"id": "R:1", "provider": "docker", "name": "remote", "environments": {}}
    store.validate(claimed, Path("/s.json"), 6)
    down = migrations.migrate(claimed, 5, Path("/s.json"), check())
    store.validate(down, Path("/s.json"), 5)
    assert down == v5  # the engine's ID, endpoint and the remote folder go; an empty engine too
    assert migrations.MIGRATIONS[-1].version == 6 and "endpoint" in migrations.MIGRATIONS[-1].down_drops


def test_v5_to_v6_drops_hosts_without_environments() -> None:
    v5 = {**current_doc(), "version": 5}
    assert migrations.migrate(v5, 6, Path("/s.json"), check()) == store.empty_state()
