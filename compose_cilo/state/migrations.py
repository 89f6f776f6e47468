"""Versioned state migrations: a table of steps, each with `up` and `down`, applied in order.

Version 1 is the Phase 1 plan's flat file (a file without "version" is version 1):

    {"version": 1, "subnet_counter": 3,
     "environments": {"shop/dev": {"name", "project", "subnet", "status", "created_at",
                                   "source", "services": {"web": {"ip", "container"}}}}}

Version 2 nests environments under hosts and records much more about each one
(schemas/state.v2.schema.json). Converters are pure functions on plain dicts; `up`
derives what v1 never recorded deterministically, `down` keeps what v1 can hold. The
state store does the file work: lock, backup, validation, atomic write.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

from ..errors import StateError, UsageError
from .document import LOCAL_HOST
from .steps import (
    Unconvertible,
    v2_to_v3,
    v3_to_v2,
    v3_to_v4,
    v4_to_v3,
    v4_to_v5,
    v5_to_v4,
    v5_to_v6,
    v6_to_v5,
)

# Every command reads the state, few migrate it: the converters import what they need
# (names, paths, compose file discovery, ingress rules) only when they run.

Doc = dict[str, Any]
Check = Callable[[Doc, int], None]

# v1 wrote docker's own words for an environment; v2 has five. Anything else is "stopped":
# the record exists, nothing says it runs, and `up` starts it.
STATUS_V1_TO_V2 = {
    "creating": "creating",
    "created": "created",
    "running": "running",
    "up": "running",
    "restarting": "running",
    "stopped": "stopped",
    "exited": "stopped",
    "paused": "stopped",
    "down": "stopped",
    "error": "error",
    "failed": "error",
    "dead": "error",
}


class Migration(NamedTuple):
    """From `version - 1` to `version` (up) and back (down)."""

    version: int
    up: Callable[[Doc], Doc]
    down: Callable[[Doc], Doc]
    down_drops: str  # what `down` cannot keep, for the user


# --- version 1 <-> version 2 --------------------------------------------------------------


def default_compose_files(source: str) -> list[str]:
    """The files compose would load in `source`: the first default file and its override.

    v1 never recorded them; without any file there, `docker-compose.yml` is what the
    Phase 1 plan ran.
    """
    from ..project import DEFAULT_FILES, OVERRIDE_FILES

    folder = Path(source)
    found = next((folder / n for n in DEFAULT_FILES if (folder / n).is_file()), None)
    if found is None:
        return [str(folder / "docker-compose.yml")]
    override = next((folder / n for n in OVERRIDE_FILES if (folder / n).is_file()), None)
    return [str(found)] + ([str(override)] if override else [])


def _service_up(svc: Doc, ingress: bool) -> Doc:
    container = svc.get("container") or None
    return {
        "ip": svc.get("ip") or None,
        "container": container,
        "status": "unknown" if container else "not created",  # the next refresh says which
        "ingress": ingress,
        "hostnames": [],
        "replicas": [],
    }


def _environment_up(key: str, rec: Doc) -> Doc:
    from .. import paths
    from ..dns.labels import pick_ingress
    from ..model import env_key
    from ..names import compose_project_name

    project, name, source = rec["project"], rec["name"], rec["source"]
    if key != env_key(project, name):
        raise Unconvertible(
            f"environments/{key}", f'holds project "{project}" and name "{name}", which '
            f'make the key "{env_key(project, name)}"; rename the key or fix the record'
        )
    compose = compose_project_name(project, name)
    ingress = pick_ingress({n: False for n in rec["services"]})
    return {
        "name": name,
        "project": project,
        "compose_project": compose,
        "status": STATUS_V1_TO_V2.get(str(rec["status"]).lower(), "stopped"),
        "subnet": rec["subnet"],
        "network": compose,
        "project_dir": source,
        "compose_files": default_compose_files(source),
        "env_files": [],
        "profiles": [],
        "workspace": source,
        "copy": False,
        "override": str(paths.env_dir(project, name) / "override.yml"),
        "created_at": rec["created_at"],
        "updated_at": rec["created_at"],
        "services": {n: _service_up(s, n == ingress) for n, s in sorted(rec["services"].items())},
    }


def v1_to_v2(doc: Doc) -> Doc:
    envs = doc.get("environments") or {}
    return {
        "version": 2,
        "hosts": {
            LOCAL_HOST: {
                "id": LOCAL_HOST,
                "provider": "docker",
                "environments": {k: _environment_up(k, r) for k, r in sorted(envs.items())},
            }
        },
    }


def _service_down(svc: Doc) -> Doc:
    out: Doc = {"ip": svc["ip"] or ""}  # the plan's Go struct wrote "" for no address
    if svc["container"]:
        out["container"] = svc["container"]
    return out


def _environment_down(rec: Doc) -> Doc:
    return {
        "name": rec["name"],
        "project": rec["project"],
        "subnet": rec["subnet"],
        "status": rec["status"],
        "created_at": rec["created_at"],
        "source": rec["project_dir"],
        "services": {n: _service_down(s) for n, s in sorted(rec["services"].items())},
    }


def subnet_counter(subnets: list[str]) -> int:
    """v1 allocated 10.224.<counter+1>.0/24: the highest third octet in use is equivalent."""
    return max((int(s.split(".")[2]) for s in subnets), default=0)


def v2_to_v1(doc: Doc) -> Doc:
    hosts = doc["hosts"]
    for host_id, host in sorted(hosts.items()):
        if host_id != LOCAL_HOST and host["environments"]:
            raise Unconvertible(
                f"hosts/{host_id}", "version 1 holds only the local host's environments; "
                "destroy this host's environments first"
            )
    envs = hosts.get(LOCAL_HOST, {}).get("environments", {})
    return {
        "version": 1,
        "environments": {k: _environment_down(r) for k, r in sorted(envs.items())},
        "subnet_counter": subnet_counter([r["subnet"] for r in envs.values()]),
    }


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        2, v1_to_v2, v2_to_v1,
        down_drops="hosts other than local, compose files, env files, profiles, --copy "
        "workspaces, service status, ingress, hostnames and replicas",
    ),
    Migration(
        3, v2_to_v3, v3_to_v2,
        down_drops="the subnets of environments' networks besides their own (the networks "
        "stay on the engine until the environment is destroyed), the working folder whose "
        ".env compose reads first, and the home id (a version-2 cilo does not check it)",
    ),
    Migration(
        4, v3_to_v4, v4_to_v3,
        down_drops="how each host reaches its copies and the services' HTTP ports (the next "
        "up of a version-4 cilo records them again)",
    ),
    Migration(
        5, v4_to_v5, v5_to_v4,
        down_drops="whether copies publish their ports and the host ports published (the "
        "containers keep them until their next up; a version-4 cilo's up removes them)",
    ),
    Migration(
        6, v5_to_v6, v6_to_v5,
        down_drops="engines other than this machine's (refused while they have environments), "
        "each engine's name, endpoint, context and ID (this machine's engine becomes `local` "
        "again), and the remote folders of ssh workspaces (they stay on those machines)",
    ),
)
OLDEST = MIGRATIONS[0].version - 1
LATEST = MIGRATIONS[-1].version


# --- versions and the chain -----------------------------------------------------------


def version_of(doc: Doc, path: Path) -> int:
    """The document's version (no "version" means 1); a clear error for anything else."""
    version = doc.get("version", 1)
    if isinstance(version, bool) or not isinstance(version, int):
        raise StateError(
            f'state file {path} has "version": {_shown(version)}, which is not a version '
            "number; restore the file from a backup or move it away"
        )
    if version > LATEST:
        raise StateError(
            f"state file {path} has version {version}, newer than this cilo understands "
            f"(versions {OLDEST}-{LATEST}); upgrade compose-cilo, or move the file away "
            "(it was not changed)"
        )
    if version < OLDEST:
        raise StateError(
            f"state file {path} has version {version}, which no cilo ever wrote; restore the "
            "file from a backup or move it away"
        )
    return version


def check_target(to: int) -> int:
    if not OLDEST <= to <= LATEST:
        raise UsageError(
            f"state version {to} does not exist; this cilo knows versions {OLDEST}-{LATEST}"
        )
    return to


def steps(start: int, to: int) -> list[tuple[int, Callable[[Doc], Doc]]]:
    """(version reached, converter) for each step from `start` to `to`, in order."""
    by_version = {m.version: m for m in MIGRATIONS}
    if to >= start:
        return [(v, by_version[v].up) for v in range(start + 1, to + 1)]
    return [(v - 1, by_version[v].down) for v in range(start, to, -1)]


def dropped(start: int, to: int) -> list[str]:
    """What migrating down from `start` to `to` loses, one entry per step."""
    return [m.down_drops for m in MIGRATIONS if to < m.version <= start]


def migrate(doc: Doc, to: int, path: Path, check: Check) -> Doc:
    """`doc` converted to version `to`; `check(doc, version)` validates before and after
    every step (it raises StateError naming the file and the field)."""
    start = version_of(doc, path)
    check(doc, start)
    out = copy.deepcopy(doc)
    reached = start
    for version, convert in steps(start, check_target(to)):
        try:
            out = convert(out)
        except Unconvertible as e:
            raise StateError(
                f"state file {path} cannot be migrated from version {reached} to {version}: "
                f"{e.field}: {e.problem} (the file was not changed)"
            ) from None
        check(out, version)
        reached = version
    return out


def _shown(value: Any) -> str:
    import json

    text = json.dumps(value)
    return text if len(text) <= 40 else text[:40] + "..."
