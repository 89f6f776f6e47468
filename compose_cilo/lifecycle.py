"""The environment lifecycle: create, up, down, destroy.

Each step is: resolve (no lock) -> decide and record (inside the state lock, fast) ->
engine work (outside the lock, slow) -> record the result (inside the lock).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .network import copynets, envnet
from .dns import zone
from . import isolation, override, ownership, paths, workspace
from .state import store
from .engine.client import ContainerInfo
from .errors import CiloError
from .fsutil import atomic_write, ensure_copy, remove_tree, turn
from .model import (LABEL_DOTENV_DIR, LABEL_ENV_FILES, LABEL_PROFILES, LABEL_PROJECT_DIR, env_key,
                    namespace_root, record_key)
from .names import compose_project_name, label_path
from .reconcile import Adoption
from .project import ComposeTarget, ProjectModel, model_from_config
from .queries import Context, Record, current_project, get_env, resolve_project, selector, split_ref

def now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# --- targets ----------------------------------------------------------------------------


def _in_workspace(path: str, record: Record) -> str:
    if not record["copy"]:
        return path
    try:
        rel = Path(path).relative_to(record["project_dir"])
    except ValueError:
        return path  # a file outside the project folder is used where it is
    return str(Path(record["workspace"]) / rel)


def shared_layer_path(record: Record) -> Path:
    """With --copy: cilo's layer that keeps paths outside the project folder where they are."""
    return Path(record["override"]).with_name(workspace.LAYER_NAME)


def _layers(record: Record) -> tuple[str, ...]:
    layer = shared_layer_path(record)
    return (str(layer),) if record["copy"] and layer.is_file() else ()


def user_target(record: Record) -> ComposeTarget:
    """The project as the user wrote it (in the workspace copy with --copy), named as theirs."""
    dotenv_dir = record.get("dotenv_dir")
    return ComposeTarget(
        files=(*(_in_workspace(f, record) for f in record["compose_files"]), *_layers(record)),
        project_dir=record["workspace"],
        env_files=tuple(_in_workspace(f, record) for f in record["env_files"]),
        profiles=tuple(record["profiles"]),
        project_name=record["project"],
        dotenv_dir=_in_workspace(dotenv_dir, record) if dotenv_dir else None,
    )


def env_target(record: Record) -> ComposeTarget:
    """The copy: the user's files, then the generated override, under its own project name."""
    base = user_target(record)
    return base._replace(
        files=(*base.files, record["override"]), project_name=record["compose_project"]
    )


# --- records ------------------------------------------------------------------------------


def new_record(target: ComposeTarget, project: str, env: str, subnet: str, copy: bool) -> Record:
    edir = paths.env_dir(project, env)
    stamp = now()
    record: Record = {
        "name": env,
        "project": project,
        "compose_project": compose_project_name(project, env),
        "status": "created",
        "subnet": subnet,
        "network": compose_project_name(project, env),
        "project_dir": target.project_dir,
        "compose_files": list(target.files),
        "env_files": list(target.env_files),
        "profiles": list(target.profiles),
        "workspace": str(edir / "workspace") if copy else target.project_dir,
        "copy": copy,
        "override": str(edir / "override.yml"),
        "created_at": stamp,
        "updated_at": stamp,
        "services": {},
        "networks": {},
    }
    if target.dotenv_dir:  # optional: records without it read only the project folder's .env
        record["dotenv_dir"] = target.dotenv_dir
    return record


def service_records(model: ProjectModel, addresses: dict[str, str], old: Record) -> Record:
    out: Record = {}
    ingress_flags: dict[str, bool] = {}
    for name, svc in model.services.items():
        explicit, hostnames = zone.parse_service_labels(name, svc.labels)
        ingress_flags[name] = explicit
        prev = old.get(name, {})
        out[name] = {
            "ip": addresses.get(name),
            "container": prev.get("container"),
            "status": prev.get("status", "not created"),
            "ingress": False,
            "hostnames": hostnames,
            "replicas": prev.get("replicas", []),
        }
        if (root := namespace_root(model, name)) != name:
            out[name]["shares"] = root  # network_mode: service: (or container:) of a service
    ingress = zone.pick_ingress(ingress_flags)
    if ingress:
        out[ingress]["ingress"] = True
    return out


def apply_containers(record: Record, containers: list[ContainerInfo]) -> None:
    """Record the real containers and their addresses on the environment network.

    A service with `network_mode: service:X` (recorded as `shares: X`) lives in X's
    network namespace, so it answers on X's address.
    """
    by_service: dict[str, list[ContainerInfo]] = {}
    for c in containers:
        by_service.setdefault(c.service, []).append(c)
    services = record["services"]
    networks = [record["network"], *(n["name"] for _, n in sorted(record["networks"].items()))]
    for name, svc in services.items():
        found = by_service.get(name, [])
        svc["replicas"] = [
            {"container": c.name, "ip": _address(c, networks), "status": c.state} for c in found
        ]
        svc["container"] = found[0].name if found else None
        states = {c.state for c in found}
        svc["status"] = "not created" if not found else states.pop() if len(states) == 1 else "mixed"
        if found and (ip := _address(found[0], networks)):
            svc["ip"] = ip
    for name, svc in services.items():
        parent = svc.get("shares")
        if parent in services:
            services[name]["ip"] = services[parent]["ip"]
            for replica in services[name]["replicas"]:
                replica["ip"] = services[parent]["ip"]


def _address(c: ContainerInfo, networks: list[str]) -> str | None:
    """A container's address on the environment's own network, else on its first other."""
    return next((c.addresses[n] for n in networks if c.addresses.get(n)), None)


def _update(key: str, change: Callable[[Record], None]) -> Record:
    with store.mutate() as st:
        record = st.environments().get(key)
        if record is None:
            raise CiloError(f"environment {key} vanished from state while cilo worked on it")
        change(record)
        record["updated_at"] = now()
        return dict(record)


# --- commands -------------------------------------------------------------------------------


def _reserve(
    ctx: Context, target: ComposeTarget, model: ProjectModel, env: str, copy: bool
) -> tuple[Record, bool]:
    """Record the environment with free subnets (its own network's and one for each of
    its other networks) and its services, in one locked write.

    Returns (record, created): an existing record is returned as it is.
    """
    key = env_key(model.name, env)
    external = envnet.engine_taken(ctx.engine, ctx.routes())
    with store.mutate() as st:
        envs = st.environments()
        if key in envs:
            return dict(envs[key]), False
        ownership.ensure_home_id(st.doc)
        record = new_record(target, model.name, env, envnet.allocate(st, key, external, []), copy)
        copynets.reserve(st, record, model, external)
        record["services"] = service_records(model, _addresses(record, model), {})
        envs[key] = record
        return dict(record), True


def _reserve_networks(ctx: Context, record: Record, model: ProjectModel) -> Record:
    """An existing environment whose project gained or lost networks: record their subnets."""
    if not copynets.needs_reserve(record, model):
        return record
    external = envnet.engine_taken(ctx.engine, ctx.routes())
    with store.mutate() as st:
        current = st.environments()[record_key(record)]
        copynets.reserve(st, current, model, external)
        current["updated_at"] = now()
        return dict(current)


def _addresses(record: Record, model: ProjectModel) -> dict[str, str]:
    previous = {n: s.get("ip") for n, s in record["services"].items()}
    return override.assign_addresses(
        record["subnet"], override.fixed_address_services(model), previous
    )


def _check_same_project(record: Record, target: ComposeTarget) -> None:
    if record["project_dir"] != target.project_dir:
        raise CiloError(
            f"environment {record_key(record)} belongs to the project in "
            f"{record['project_dir']}, not {target.project_dir}; pick another environment "
            "name or another project name (-p)"
        )


def _prepare(ctx: Context, ref: str, copy: bool, strict: bool = False
             ) -> tuple[Record, ProjectModel]:
    """Create the environment if needed and (re)write its override; no containers yet.

    `ref` is ENV (of the project in the working folder) or PROJECT/ENV (an existing one).
    A new environment costs one locked write; if anything after it fails, the record,
    the networks and the folder are removed again.
    """
    project, env = split_ref(ref, ctx.project)
    created = False
    if project:
        record = _apply_profiles(ctx, get_env(ctx, env_key(project, env), check_options=False), copy)
        model = model_from_config(ctx.engine.compose_config(user_target(record)))
        _check_isolation(ctx, model, record["project_dir"], record["copy"], strict, say=False)
    else:
        target, model = resolve_project(ctx)
        for svc in model.services.values():  # refuse bad labels before anything is created
            zone.parse_service_labels(svc.name, svc.labels)
        record = store.read_state().environments().get(env_key(model.name, env))
        _check_isolation(ctx, model, target.project_dir, record["copy"] if record else copy,
                         strict, say=record is None)
        if record is None:
            record, created = _reserve(ctx, target, model, env, copy)
        _check_same_project(record, target)
        if not created:
            record = _apply_options(ctx, record, target, copy)
    try:
        record = _reserve_networks(ctx, record, model)
        record = copynets.ensure(ctx.engine, record, model, home_id(), ctx.routes)
        if record["copy"]:
            model = _prepare_workspace(ctx, record)
        addresses = _addresses(record, model)
        write_override(record, model, addresses)
    except BaseException:
        if created:
            _forget_failed_create(ctx, record)
        raise
    if created and record["services"] == service_records(model, addresses, record["services"]):
        return record, model

    def record_services(r: Record) -> None:
        r["subnet"] = record["subnet"]
        r["networks"] = record["networks"]
        r["services"] = service_records(model, addresses, r["services"])

    return _update(env_key(record["project"], env), record_services), model


def _refuse_copy_change(record: Record, copy: bool) -> None:
    if copy and not record["copy"]:
        key = record_key(record)
        raise CiloError(
            f"environment {key} runs from your project folder; --copy takes effect when an "
            f"environment is created: destroy it first (docker cilo destroy {record['name']}) or "
            "use a new environment name")


def _apply_options(ctx: Context, record: Record, target: ComposeTarget, copy: bool) -> Record:
    """`up`/`create` of an existing environment with other compose options: apply and
    record them (never ignore them)."""
    import os

    _refuse_copy_change(record, copy)
    explicit = any((ctx.compose.files, ctx.compose.env_files, ctx.compose.profiles,
                    os.environ.get("COMPOSE_PROFILES"), os.environ.get("COMPOSE_FILE")))
    wanted = {"compose_files": list(target.files), "env_files": list(target.env_files),
              "profiles": list(target.profiles)}
    if not explicit or all(record[k] == v for k, v in wanted.items()):
        return record
    key = record_key(record)
    ctx.say(f"environment {key} now runs with files {', '.join(wanted['compose_files'])}, "
            f"env files {', '.join(wanted['env_files']) or 'none'}, profiles "
            f"{', '.join(wanted['profiles']) or 'none'}")

    def change(r: Record) -> None:
        r.update(wanted)
        r.pop("dotenv_dir", None)
        if target.dotenv_dir:
            r["dotenv_dir"] = target.dotenv_dir

    return _update(key, change)


def _apply_profiles(ctx: Context, record: Record, copy: bool) -> Record:
    """PROJECT/ENV from anywhere: new profiles are applied; files only in the project folder."""
    from .queries import option_changes

    _refuse_copy_change(record, copy)
    changes = option_changes(ctx, record)
    if any(not c.startswith("--profile") for c in changes):
        raise CiloError(
            f"environment {record_key(record)}: -f and --env-file of an existing "
            f"environment are changed in its project folder: cd {record['project_dir']} and run "
            f"docker cilo ... up {record['name']}")
    if not changes:
        return record
    profiles = list(ctx.compose.profiles)
    ctx.say(f"environment {record_key(record)} now runs with profiles {', '.join(profiles)}")
    return _update(record_key(record), lambda r: r.update(profiles=profiles))


def _check_isolation(ctx: Context, model: ProjectModel, project_dir: str, copy: bool,
                     strict: bool, say: bool) -> None:
    """What a copy shares with the user's stack: said once per service when the
    environment is created (not on every later `up`); --strict refuses it every time."""
    found = isolation.findings(model, project_dir, copy)
    if strict and (refusal := isolation.refusal(model.name, found)):
        raise CiloError(refusal)
    for line in isolation.messages(found) if say else ():
        ctx.say(line)


def _prepare_workspace(ctx: Context, record: Record) -> ProjectModel:
    """--copy: the workspace (made once), its shared layer (rewritten each time), the model."""
    made = ensure_copy(Path(record["project_dir"]), Path(record["workspace"]))
    if made:
        ctx.say(f"copied {record['project_dir']} to {record['workspace']}")
    shared = write_shared_layer(ctx, record)
    if made and shared:
        ctx.say(f"outside {record['project_dir']}, the copy uses your project's own files (shared, "
                f"not copied): {', '.join(shared)}")
    return model_from_config(ctx.engine.compose_config(user_target(record)))


def _as_user(record: Record) -> ComposeTarget:
    """The copy's files with paths resolved as in the user's folder (without the layer)."""
    target = user_target(record)
    files = tuple(_in_workspace(f, record) for f in record["compose_files"])
    return target._replace(files=files, project_dir=record["project_dir"])


def _outside_inputs(record: Record) -> list[str]:
    """Compose and env files outside the project folder: read where they are."""
    dotenv = [str(Path(d) / ".env") for d in [record.get("dotenv_dir")] if d]
    return [f for f in [*record["compose_files"], *record["env_files"], *dotenv]
            if Path(f).is_file() and workspace.is_outside(f, record["project_dir"])]


def write_shared_layer(ctx: Context, record: Record) -> list[str]:
    """Write the copy's shared layer; the outside paths it shares with the user's project."""
    target = _as_user(record)
    config = ctx.engine.compose_config(target)
    raw = ctx.engine.compose_config(target, interpolate=False)
    layer = workspace.shared_layer(config, raw, record["project_dir"])
    path = shared_layer_path(record)
    paths.ensure_private_dir(path.parent)
    atomic_write(path, workspace.render_layer(layer), 0o600)
    return sorted({*_outside_inputs(record), *workspace.shared_paths(layer, record["project_dir"])})


def home_id() -> str:
    """This cilo home's id, made on first use (environments of a state from before home
    ids get it on their next `up`: what they make from then on is labelled)."""
    found = ownership.home_id(store.read_state().doc)
    if found:
        return found
    with store.mutate() as st:
        return ownership.ensure_home_id(st.doc)


def known_home_id() -> str | None:
    """This home's id if it has one (read-only: a home without one made nothing labelled)."""
    return ownership.home_id(store.read_state().doc)


def write_override(record: Record, model: ProjectModel, addresses: dict[str, str]) -> None:
    ident = override.EnvIdentity(
        record["project"], record["name"], record["network"], record["subnet"],
        ownership.record_home(record, home_id()),
    )
    meta = {
        LABEL_PROJECT_DIR: label_path(record["project_dir"]),
        LABEL_PROFILES: ",".join(record["profiles"]),
        LABEL_ENV_FILES: ",".join(map(label_path, record["env_files"])),
        **({LABEL_DOTENV_DIR: label_path(record["dotenv_dir"])} if record.get("dotenv_dir") else {}),
    }
    text = override.render(override.build_override(model, ident, addresses, meta), ident)
    path = Path(record["override"])
    paths.ensure_private_dir(path.parent)
    atomic_write(path, text, 0o600)


def _forget_failed_create(ctx: Context, record: Record) -> None:
    """Undo a create that failed half-way: nothing of it may be left."""
    try:
        ctx.engine.remove_networks(_owned_names(ctx, record, "networks", known_home_id()))
    finally:
        remove_tree(paths.env_dir(record["project"], record["name"]))
        with store.mutate() as st:
            st.environments().pop(record_key(record), None)


@contextmanager
def _env_turn(ctx: Context, ref: str) -> Iterator[None]:
    """One create/up of an environment at a time (per cilo home).

    Two `up X` of a new environment would otherwise race on its network and containers.
    The project is found first (from state, else compose), so bad input fails before any
    lock file is made; a create that failed leaves none either (bad input changes nothing).
    """
    project, env = split_ref(ref, ctx.project)
    project = project or current_project(ctx) or ""
    lock = paths.cilo_home() / "locks" / project / f"{env}.lock"
    try:
        with turn(lock, f"creating or starting environment {project}/{env}"):
            yield
    finally:
        if env_key(project, env) not in store.read_state().environments():
            _remove_lock(lock)


def _remove_lock(lock: Path) -> None:
    lock.unlink(missing_ok=True)
    for folder in (lock.parent, lock.parent.parent):
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: other environments' locks


def create(ctx: Context, ref: str, copy: bool = False, strict: bool = False) -> Record:
    with _env_turn(ctx, ref):
        record, _ = _prepare(ctx, ref, copy, strict)
    return record


def refresh(ctx: Context, record: Record, status: str | None = None) -> Record:
    """Read the environment's containers from the engine and record them."""
    containers = ctx.engine.containers(selector(record))

    def change(r: Record) -> None:
        apply_containers(r, containers)
        if status:
            r["status"] = status

    return _update(record_key(record), change)


def up(ctx: Context, ref: str, *, build: bool = False, recreate: bool = False,
       copy: bool = False, strict: bool = False) -> Record:
    with _env_turn(ctx, ref):
        if recreate:
            _reallocate_for_recreate(ctx, ref)
        record, _ = _prepare(ctx, ref, copy, strict)
        ctx.engine.compose_up(env_target(record), build=build, recreate=recreate)
        record = refresh(ctx, record, "running")
    sync_dns(ctx)
    return record


def _reallocate_for_recreate(ctx: Context, ref: str) -> None:
    """`up --recreate`: containers and networks are rebuilt, on the lowest free subnets."""
    try:
        record = get_env(ctx, ref, check_options=False)  # up applies them next
    except CiloError:
        return  # nothing to recreate yet: up creates it
    ctx.engine.compose_down(env_target(record), volumes=False)
    ctx.engine.remove_networks(_owned_names(ctx, record, "networks", known_home_id()))
    key = record_key(record)
    external = envnet.engine_taken(ctx.engine, ctx.routes(), own_network=record["network"])
    with store.mutate() as st:
        rec = st.environments()[key]
        fresh = envnet.allocate_many(st, key, external, 1 + len(rec["networks"]), [])
        rec["subnet"] = fresh[0]
        for (_, net), subnet in zip(sorted(rec["networks"].items()), fresh[1:]):
            net["subnet"] = subnet
        for svc in rec["services"].values():
            svc["ip"] = None


def live_view(ctx: Context, record: Record) -> Record:
    """The record with the engine's current containers applied (nothing is written)."""
    import copy

    view = copy.deepcopy(record)
    apply_containers(view, ctx.engine.containers(selector(record)))
    return view


def ensure_running(ctx: Context, ref: str) -> Record:
    """For `run`: an environment that is running, created and started if needed."""
    try:
        record = live_view(ctx, get_env(ctx, ref))
    except CiloError:
        record = None
    if record and record["status"] == "running" and all(
        s["status"] == "running" for s in record["services"].values() if s["container"]
    ):
        return record
    return up(ctx, ref)


def repair_network(ctx: Context, ref: str) -> Record:
    """Recreate the environment's missing networks with their recorded subnets (doctor --fix)."""
    record = get_env(ctx, ref)
    model = model_from_config(ctx.engine.compose_config(user_target(record)))
    fixed = copynets.ensure(ctx.engine, record, model, home_id(), ctx.routes)
    if fixed == record:
        return record
    return _update(record_key(record),
                   lambda r: r.update(subnet=fixed["subnet"], networks=fixed["networks"]))


def adopt(ctx: Context, found: Adoption) -> Record:
    """Rebuild the state record of an environment that state lost, from engine labels.

    The containers carry cilo's labels and compose's own (working folder, config files);
    the network carries the subnet. The override is rewritten from the user's files.
    """
    key = env_key(found.project, found.env)
    project_dir, workdir = found.project_dir, found.working_dir
    target = ComposeTarget(files=found.files, project_dir=project_dir, env_files=found.env_files,
                           profiles=found.profiles, dotenv_dir=found.dotenv_dir)
    record = new_record(target, found.project, found.env, found.subnet, copy=workdir != project_dir)
    record["workspace"] = workdir
    record["network"] = found.network
    record["networks"] = {k: {"name": n, "subnet": s} for k, n, s in found.networks}
    if found.foreign_home:  # adopted from another home on the user's word: keeps its id
        record[ownership.FOREIGN_FIELD] = found.foreign_home
    if found.compose_project:
        record["compose_project"] = found.compose_project
    if record["copy"]:  # the files compose used live in the copy: record the user's paths
        record["compose_files"] = [
            str(Path(project_dir) / Path(f).relative_to(workdir)) if f.startswith(workdir + "/") else f
            for f in record["compose_files"]
        ]
    model = model_from_config(ctx.engine.compose_config(user_target(record)))
    with store.mutate() as st:
        if key in st.environments():
            raise CiloError(f"environment {key} is in state again; nothing to adopt")
        ownership.ensure_home_id(st.doc)
        record["services"] = service_records(model, _addresses(record, model), {})
        st.environments()[key] = record
    write_override(record, model, _addresses(record, model))
    return refresh(ctx, record, "running" if found.running else "stopped")


def down(ctx: Context, ref: str) -> Record:
    record = get_env(ctx, ref)
    ctx.engine.compose_stop(env_target(record))
    record = refresh(ctx, record, "stopped")
    sync_dns(ctx)
    return record


def destroy(ctx: Context, ref: str) -> None:
    record = get_env(ctx, ref)
    _destroy_record(ctx, record)
    sync_dns(ctx)


def destroy_all_plan(ctx: Context, every_project: bool) -> list[str]:
    """The environments `destroy --all` (this project's) or `--all-projects` would remove.

    The project is found strictly, as for any command: a compose option that names a
    missing file is an error here, never a reason to take every project instead.
    """
    st = store.read_state()
    project = None
    if not every_project:
        project = current_project(ctx, st=st)
        if not project:
            raise CiloError("destroy --all needs a project: run it in the project's folder or "
                            "give --project NAME; --all-projects destroys every project's")
    return [key for _, key, r in st.all_environments() if project is None or r["project"] == project]


def destroy_keys(ctx: Context, keys: list[str]) -> list[str]:
    envs = {k: r for _, k, r in store.read_state().all_environments()}
    done = []
    for key in keys:
        if key in envs:
            _destroy_record(ctx, envs[key])
            done.append(key)
    sync_dns(ctx)
    return done


def destroy_all(ctx: Context, every_project: bool) -> list[str]:
    return destroy_keys(ctx, destroy_all_plan(ctx, every_project))


def _destroy_record(ctx: Context, record: Record) -> None:
    """Containers, networks, volumes, workspace, state entry: nothing of it is left.

    Only what carries the environment's cilo labels is removed: never by name (a name
    can be the user's), and never through `compose down --volumes`, which removes the
    volumes a compose file names whoever created them. Containers go first, with their
    anonymous volumes.
    """
    key = record_key(record)
    ctx.say(f"destroying environment {key}")
    home = known_home_id()
    containers = ownership.owned(ctx.engine.containers(selector(record)), home, record)
    images = sorted({c.image for c in containers if c.image})
    ctx.engine.remove_containers([c.id for c in containers])
    ctx.engine.remove_volumes(_owned_names(ctx, record, "volumes", home))
    ctx.engine.remove_networks(_owned_names(ctx, record, "networks", home))
    # the engine objects are gone: forget the environment now, so that a folder that
    # cannot be removed never makes a retry fail on what is already done
    with store.mutate() as st:
        st.environments().pop(key, None)
    _remove_env_dir(ctx, record, images)


def _owned_names(ctx: Context, record: Record, kind: str, home: str | None) -> list[str]:
    """The environment's containers (ids), volumes or networks (names) of this home only."""
    found = getattr(ctx.engine, kind)(selector(record))
    mine = ownership.owned(found, home, record)
    return [o.id if kind == "containers" else o.name for o in mine]


def _remove_env_dir(ctx: Context, record: Record, images: list[str]) -> None:
    """The environment's folder; files its containers wrote as another user go through
    the engine (a short-lived container mounting only that folder); what still cannot be
    removed is said, with the command that removes it."""
    folder = paths.env_dir(record["project"], record["name"])
    try:
        remove_tree(folder)
        return
    except PermissionError as e:
        first = e
    import os

    image = os.environ.get("CILO_HELPER_IMAGE") or next(iter(images), None)
    if image:
        try:
            ctx.engine.remove_folder(folder, image)
            remove_tree(folder)
            return
        except (CiloError, PermissionError):
            pass
    ctx.say(f"warning: {folder} could not be removed ({first.strerror}: {first.filename}); "
            f"everything else of {record_key(record)} is gone; remove it with: "
            f"sudo rm -rf {folder}")


def sync_dns(ctx: Context) -> None:
    """Re-render DNS from state; a missing dnsmasq is a warning, never a failure."""
    result = ctx.dns.sync(store.read_state().doc)
    if not result.served:
        ctx.say(f"warning: {result.message}")
