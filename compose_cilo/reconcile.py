"""Reconciliation as plan, then apply: desired state vs what the engine reports.

`plan()` is pure: it takes the state document and one snapshot of the engine (every
container, network and volume carrying `cilo=true`, one batched query per kind) and
returns findings, each a check result with the actions that would fix it. doctor prints
the findings; `doctor --fix` hands the actions to lifecycle code to apply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple, TypeVar

from . import ownership
from .engine.api import ContainerInfo, NetworkInfo, VolumeInfo
from .model import (
    COMPOSE_FILES_LABEL,
    COMPOSE_NETWORK_LABEL,
    COMPOSE_PROJECT_LABEL,
    COMPOSE_WORKDIR_LABEL,
    LABEL_DOTENV_DIR,
    LABEL_ENV,
    LABEL_ENV_FILES,
    LABEL_HOME,
    LABEL_NETWORK,
    LABEL_PROFILES,
    LABEL_PROJECT,
    LABEL_PROJECT_DIR,
    EnvKey,
    env_key,
)
from .names import path_from_label

Status = Literal["ok", "warn", "fail"]
T = TypeVar("T", ContainerInfo, NetworkInfo, VolumeInfo)


class Adoption(NamedTuple):
    """What the labels of a lost environment's objects say: enough to rebuild its record."""

    project: str
    env: str
    compose_project: str
    working_dir: str  # where compose ran: the project folder, or the copy's workspace
    project_dir: str
    files: tuple[str, ...]  # the user's compose files (the override left out)
    override: str
    profiles: tuple[str, ...]
    env_files: tuple[str, ...]
    dotenv_dir: str | None
    network: str
    subnet: str
    networks: tuple[tuple[str, str, str], ...]  # (compose key, docker name, subnet) of the others
    foreign_home: str | None  # the home id, when adopted from another home on the user's word
    running: bool


@dataclass(frozen=True)
class Action:
    kind: str  # up, stop, network, record, adopt, remove_container, remove_network, remove_volume, router
    subject: str  # an environment key, or the object to remove
    destructive: bool = False
    adoption: Adoption | None = None  # for kind "adopt"


@dataclass(frozen=True)
class Check:
    id: str
    status: Status
    subject: str
    message: str
    fix: str = ""
    actions: tuple[Action, ...] = ()
    host: str = ""  # the engine's short name, for checks of one engine ("" for cilo's own)

    def as_json(self) -> dict[str, str]:
        return {"id": self.id, "status": self.status, "subject": self.subject,
                "message": self.message, "fix": self.fix, **({"host": self.host} if self.host else {})}


@dataclass(frozen=True)
class Observed:
    """One snapshot of the engine and the file system, taken before planning."""

    containers: list[ContainerInfo] = field(default_factory=list)
    networks: list[NetworkInfo] = field(default_factory=list)
    volumes: list[VolumeInfo] = field(default_factory=list)
    missing_workspaces: frozenset[str] = frozenset()  # env keys whose workspace is gone
    overlaps: dict[str, list[str]] = field(default_factory=dict)


def _key(labels: dict[str, str]) -> EnvKey | None:
    project, env = labels.get(LABEL_PROJECT), labels.get(LABEL_ENV)
    return env_key(project, env) if project and env else None


def _env_checks(key: str, record: dict[str, Any], obs: Observed) -> list[Check]:
    containers = [c for c in obs.containers if _key(c.labels) == key]
    present = {n.name for n in obs.networks}
    wanted = [record["network"], *(n["name"] for _, n in sorted(record.get("networks", {}).items()))]
    missing = [n for n in wanted if n not in present]
    out: list[Check] = []
    up = Action("up", key)
    if missing and record["status"] in ("running", "created", "stopped"):
        action = up if record["status"] == "running" else Action("network", key)
        what = f"network {missing[0]}" if len(missing) == 1 else f"networks {', '.join(missing)}"
        out.append(Check("env.drift", "fail", key, f"{what} of {key} is missing",
                         "docker cilo doctor --fix recreates it", (action,)))
    if key in obs.missing_workspaces:
        out.append(Check("env.drift", "fail", key, f"workspace {record['workspace']} of {key} is missing",
                         f"restore the folder, or remove the environment: docker cilo destroy {key} --force"))
    if record["status"] == "running":
        out += _running_checks(key, record, containers, up)
    elif record["status"] in ("stopped", "created"):
        running = sorted(c.name for c in containers if c.state == "running")
        if running:
            out.append(Check("env.drift", "warn", key,
                             f"{key} is recorded {record['status']} but {', '.join(running)} run",
                             "docker cilo doctor --fix stops them", (Action("stop", key),)))
    return out


def _running_checks(key: str, record: dict[str, Any], containers: list[ContainerInfo],
                    up: Action) -> list[Check]:
    out: list[Check] = []
    for name, svc in sorted(record["services"].items()):
        if not svc["replicas"] and svc["status"] != "running":
            continue  # never started (inactive profile): nothing to drift from
        mine = [c for c in containers if c.service == name]
        if not mine:
            out.append(Check("env.drift", "fail", key, f"service {name} of {key} has no container",
                             "docker cilo doctor --fix starts it again", (up,)))
            continue
        stopped = [f"{c.name} ({c.state})" for c in mine if c.state != "running"]
        if stopped:
            out.append(Check("env.drift", "fail", key,
                             f"service {name} of {key} is not running: {', '.join(stopped)}",
                             "docker cilo doctor --fix starts it again", (up,)))
            continue
        now = sorted(a for c in mine if (a := c.addresses.get(record["network"])))
        was = sorted(r["ip"] for r in svc["replicas"] if r["ip"])
        if was and now and now != was:
            out.append(Check("env.drift", "warn", key,
                             f"service {name} of {key} has new addresses {', '.join(now)} "
                             f"(recorded {', '.join(was)})",
                             "docker cilo doctor --fix records them and updates DNS",
                             (Action("record", key),)))
    return out


def _adoption(key: str, containers: list[ContainerInfo], networks: list[NetworkInfo],
              foreign_home: str | None = None) -> Action | None:
    """An action that rebuilds the state record from labels, if they are enough."""
    labelled = [c for c in containers
                if c.labels.get(COMPOSE_WORKDIR_LABEL) and c.labels.get(COMPOSE_FILES_LABEL)]
    # cilo creates every network of a copy, labelled with its compose key; the
    # environment's own is the one named after the compose project (older cilo: the one
    # compose did not label)
    compose_project = labelled[0].labels.get(COMPOSE_PROJECT_LABEL, "") if labelled else ""
    ours = [n for n in networks if n.subnets and COMPOSE_NETWORK_LABEL not in n.labels]
    net = next((n for n in ours if n.name == compose_project), ours[0] if ours else None)
    if not labelled or net is None:
        return None
    others = tuple(sorted((n.labels[LABEL_NETWORK], n.name, n.subnets[0]) for n in ours
                          if n is not net and n.labels.get(LABEL_NETWORK)))
    labels = labelled[0].labels
    files = [f for f in labels[COMPOSE_FILES_LABEL].split(",") if f]
    workdir = labels[COMPOSE_WORKDIR_LABEL]
    return Action("adopt", key, adoption=Adoption(
        project=labels[LABEL_PROJECT],
        env=labels[LABEL_ENV],
        compose_project=compose_project,
        working_dir=workdir,
        project_dir=path_from_label(labels.get(LABEL_PROJECT_DIR) or workdir),
        files=tuple(files[:-1]) if len(files) > 1 else tuple(files),
        override=files[-1] if len(files) > 1 else "",
        profiles=tuple(p for p in labels.get(LABEL_PROFILES, "").split(",") if p),
        env_files=tuple(path_from_label(p) for p in labels.get(LABEL_ENV_FILES, "").split(",") if p),
        dotenv_dir=path_from_label(labels.get(LABEL_DOTENV_DIR, "")) or None,
        network=net.name,
        subnet=net.subnets[0],
        networks=others,
        foreign_home=foreign_home,
        running=any(x.state == "running" for x in containers),
    ))


def _foreign(home: str | None, obs: Observed, adopt: bool) -> list[Check]:
    """Resources of another cilo home on this engine: said, never removed; adopted only
    when the user asks for it (`--adopt-foreign`)."""
    groups: dict[tuple[EnvKey, str], tuple[list[ContainerInfo], list[NetworkInfo], list[VolumeInfo]]] = {}

    def group(labels: dict[str, str]) -> tuple[list[ContainerInfo], list[NetworkInfo], list[VolumeInfo]] | None:
        key = _key(labels)
        return groups.setdefault((key, labels[LABEL_HOME]), ([], [], [])) if key else None

    for c in ownership.foreign(obs.containers, home):
        if (g := group(c.labels)) is not None:
            g[0].append(c)
    for n in ownership.foreign(obs.networks, home):
        if (g := group(n.labels)) is not None:
            g[1].append(n)
    for v in ownership.foreign(obs.volumes, home):
        if (g := group(v.labels)) is not None:
            g[2].append(v)
    out: list[Check] = []
    for (key, owner), (containers, networks, volumes) in sorted(groups.items()):
        count = len(containers) + len(networks) + len(volumes)
        action = _adoption(key, containers, networks, owner) if adopt else None
        fix = ("docker cilo doctor --fix --adopt-foreign adopts it into this home "
               "(only if it is yours); otherwise use that home's CILO_HOME")
        out.append(Check("foreign.environment", "warn", key,
                         f"{key} belongs to another cilo home ({owner}): {count} resource(s), "
                         "left alone", fix, (action,) if action else ()))
    return out


def _orphans(known: set[str], obs: Observed) -> list[Check]:
    groups: dict[str, tuple[list[ContainerInfo], list[NetworkInfo], list[VolumeInfo]]] = {}
    for c in obs.containers:
        if (k := _key(c.labels)) and k not in known:
            groups.setdefault(k, ([], [], []))[0].append(c)
    for n in obs.networks:
        if (k := _key(n.labels)) and k not in known:
            groups.setdefault(k, ([], [], []))[1].append(n)
    for v in obs.volumes:
        if (k := _key(v.labels)) and k not in known:
            groups.setdefault(k, ([], [], []))[2].append(v)
    out: list[Check] = []
    for key, (containers, networks, volumes) in sorted(groups.items()):
        adopt = _adoption(key, containers, networks)
        for kind, objs in (("container", containers), ("network", networks), ("volume", volumes)):
            if not objs:
                continue
            names = sorted(o.name for o in objs)
            if adopt:
                actions: tuple[Action, ...] = (adopt,)
                fix = f"docker cilo doctor --fix adopts {key} back into state"
            else:
                ident = {"container": lambda o: o.id, "network": lambda o: o.name,
                         "volume": lambda o: o.name}[kind]
                actions = tuple(Action(f"remove_{kind}", ident(o), destructive=True)
                                for o in sorted(objs, key=lambda o: o.name))
                fix = f"docker cilo doctor --fix removes them (labels are not enough to adopt {key})"
            out.append(Check(f"orphan.{kind}", "fail", key,
                             f"{len(objs)} {kind}(s) of {key}, unknown to state: {', '.join(names)}",
                             fix, actions))
    return out


def _mine(obs: Observed, home: str | None, record: dict[str, Any] | None = None) -> Observed:
    return Observed(ownership.owned(obs.containers, home, record),
                    ownership.owned(obs.networks, home, record),
                    ownership.owned(obs.volumes, home, record),
                    obs.missing_workspaces, obs.overlaps)


def plan(state_doc: dict[str, Any], obs: Observed, adopt_foreign: bool = False) -> list[Check]:
    """Every finding about environments, orphans and subnets (pure).

    Only resources of this cilo home (or of no home: made before home ids) are its own;
    another home's are reported as foreign, never changed.
    """
    checks: list[Check] = []
    known: set[str] = set()
    home = ownership.home_id(state_doc)
    for host in state_doc.get("hosts", {}).values():
        for key, record in sorted(host.get("environments", {}).items()):
            known.add(key)
            found = _env_checks(key, record, _mine(obs, home, record))
            checks += found or [Check("env.drift", "ok", key, f"{key} is {record['status']} as recorded")]
            for hit in obs.overlaps.get(key, []):
                checks.append(Check(
                    "subnet.overlap", "fail", key,
                    f"subnet {record['subnet']} of {key} overlaps {hit}",
                    f"move it to a free subnet: docker cilo --project {record['project']} up "
                    f"{record['name']} --recreate",
                ))
    adopted_homes = {r.get(ownership.FOREIGN_FIELD) for h in state_doc.get("hosts", {}).values()
                     for r in h.get("environments", {}).values()}
    def unadopted(objs: list[T]) -> list[T]:
        return [o for o in objs if o.labels.get(LABEL_HOME) not in adopted_homes]

    foreign_obs = Observed(unadopted(obs.containers), unadopted(obs.networks), unadopted(obs.volumes),
                           obs.missing_workspaces)
    checks += _foreign(home, foreign_obs, adopt_foreign)
    checks += _orphans(known, _mine(obs, home))
    if not any(c.id.startswith("orphan.") for c in checks):
        checks.append(Check("orphan.container", "ok", "engine", "no labelled resources unknown to state"))
    return checks


def workspace_missing(record: dict[str, Any]) -> bool:
    return not Path(record["workspace"]).is_dir()
