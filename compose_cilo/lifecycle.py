"""The environment lifecycle: create, up, down, adopt (destroying is in teardown.py).

Each step is: resolve (no lock) -> decide and record (inside the state lock, fast) ->
engine work (outside the lock, slow) -> record the result (inside the lock).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from . import hosts, isolation, override, ownership, paths, remote
from .binding import ctx_host
from .copymode import prepare_workspace
from .dns import labels
from .envrecord import (
    env_target,
    home_id,
    host_routes,
    known_home_id,
    live_view,
    new_record,
    now,
    refresh,
    register_host,
    run_layer_path,
    service_records,
    sync_dns,
    update_record,
    user_target,
)
from .errors import CiloError, DestroyedMeanwhile
from .fsutil import atomic_write, remove_with_empty_parents, turn
from .model import (
    LABEL_DOTENV_DIR,
    LABEL_ENV_FILES,
    LABEL_HTTP_PORT,
    LABEL_PROFILES,
    LABEL_PROJECT_DIR,
    env_key,
    record_key,
)
from .names import label_path
from .network import copynets, envnet
from .project import ComposeTarget, ProjectModel, chooses_files_or_profiles, model_from_config
from .queries import Context, Record, current_project, get_env, locate, resolve_project, split_ref
from .reach import router
from .state import store
from .state.document import host_name
from .teardown import forget_failed_create, owned_names


def _reserve(
    ctx: Context, target: ComposeTarget, model: ProjectModel, env: str, copy: bool
) -> tuple[Record, bool]:
    """Record the environment with free subnets (its own network's and one for each of
    its other networks) and its services, in one locked write.

    Returns (record, created): an existing record is returned as it is.
    """
    key = env_key(model.name, env)
    external = envnet.engine_taken(ctx.engine, host_routes(ctx))
    with store.mutate() as st:
        host = register_host(ctx, st.doc)
        envs = st.environments(host)
        if key in envs:
            return dict(envs[key]), False
        ownership.ensure_home_id(st.doc)
        others = [h for h, _ in st.find(key)]
        folder = f"{env}@{host_name(st.doc, host)}" if others else env
        record = new_record(target, model.name, env, envnet.allocate(st, host, key, external, []), copy, folder)
        copynets.reserve(st, host, record, model, external)
        record["services"] = service_records(model, service_addresses(record, model), {})
        envs[key] = record
        return dict(record), True


def _reserve_networks(ctx: Context, record: Record, model: ProjectModel) -> Record:
    """An existing environment whose project gained or lost networks: record their subnets."""
    if not copynets.needs_reserve(record, model):
        return record
    external = envnet.engine_taken(ctx.engine, host_routes(ctx))
    with store.mutate() as st:
        current = st.environments(ctx_host(ctx)).get(record_key(record))
        if current is None:
            raise DestroyedMeanwhile(record_key(record))
        copynets.reserve(st, ctx_host(ctx), current, model, external)
        current["updated_at"] = now()
        return dict(current)


def service_addresses(record: Record, model: ProjectModel) -> dict[str, str]:
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


def _prepare(ctx: Context, ref: str, copy: bool, strict: bool = False, publish: bool | None = None
             ) -> tuple[Record, ProjectModel, bool]:
    """Create the environment if needed and (re)write its override; no containers yet.

    `ref` is ENV (of the project in the working folder) or PROJECT/ENV (an existing one).
    A new environment costs one locked write; if anything after it fails, the record,
    the networks and the folder are removed again.
    """
    named, rest = hosts.split_qualified(ref)
    project, env = split_ref(rest, ctx.project)
    created = False
    if project:
        record = get_env(ctx, ref, check_options=False)
        profiles = _new_profiles(ctx, record, copy)
        wanted = record if profiles is None else {**record, "profiles": profiles}
        model = model_from_config(ctx.engine.compose_config(user_target(wanted)))
        _check_isolation(ctx, model, record["project_dir"], record["copy"], strict, say=False)
        remote.check_files(hosts.here(ctx.engine.opts).endpoint, record_key(record), env,
                           [record["project_dir"], record["workspace"]], model)
        if profiles is not None:  # recorded once compose has accepted them
            ctx.say(f"environment {record_key(record)} now runs with profiles {', '.join(profiles)}")
            record = update_record(ctx_host(ctx), record_key(record), lambda r: r.update(profiles=profiles))
    else:
        target, model = resolve_project(ctx)
        for svc in model.services.values():  # refuse bad labels before anything is created
            labels.parse_service_labels(svc.name, svc.labels)
            labels.parse_http_port(svc.name, svc.labels.get(LABEL_HTTP_PORT), [], [])
        found = locate(ctx, f"{named}:{model.name}/{env}" if named else env_key(model.name, env))
        known = found[1] if found else None
        remote.check_files(hosts.here(ctx.engine.opts).endpoint, env_key(model.name, env), env,
                           [target.project_dir, *([known["workspace"]] if known else [])], model)
        _check_isolation(ctx, model, target.project_dir, known["copy"] if known else copy,
                         strict, say=known is None)
        if known is None:
            record, created = _reserve(ctx, target, model, env, copy)
        else:
            record = known
        _check_same_project(record, target)
        if not created:
            record = _apply_options(ctx, record, target, copy)
    try:
        if publish is not None and record.get("publish") != publish:
            record = update_record(ctx_host(ctx), record_key(record), lambda r: r.update(publish=publish))
        record = _reserve_networks(ctx, record, model)
        record = copynets.ensure(ctx.engine, ctx_host(ctx), record, model, home_id(), lambda: host_routes(ctx))
        if record["copy"]:
            model = prepare_workspace(ctx, record)
        addresses = service_addresses(record, model)
        write_override(record, model, addresses, router.publish_address(ctx, record),
                       router.ca_mount(ctx, home_id()))
    except BaseException:
        if created:
            forget_failed_create(ctx, record)
        raise
    current = store.read_state().environments(ctx_host(ctx)).get(record_key(record))
    if current and (current["subnet"], current["networks"], current["services"]) == (
            record["subnet"], record["networks"], service_records(model, addresses, current["services"])):
        return current, model, created  # nothing to record: no write

    def record_services(r: Record) -> None:
        r["subnet"] = record["subnet"]
        r["networks"] = record["networks"]
        r["services"] = service_records(model, addresses, r["services"])

    return update_record(ctx_host(ctx), env_key(record["project"], env), record_services), model, created


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
    _refuse_copy_change(record, copy)
    explicit = chooses_files_or_profiles(ctx.compose)
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

    return update_record(ctx_host(ctx), key, change)


def _new_profiles(ctx: Context, record: Record, copy: bool) -> list[str] | None:
    """PROJECT/ENV from anywhere: the new profiles to apply, if any (None: unchanged);
    files and env files are changed only in the project folder."""
    from .queries import option_changes

    _refuse_copy_change(record, copy)
    changes = option_changes(ctx, record)
    if any(not c.startswith("--profile") for c in changes):
        raise CiloError(
            f"environment {record_key(record)}: -f and --env-file of an existing "
            f"environment are changed in its project folder: cd {record['project_dir']} and run "
            f"docker cilo ... up {record['name']}")
    return list(ctx.compose.profiles) if changes else None


def _check_isolation(ctx: Context, model: ProjectModel, project_dir: str, copy: bool,
                     strict: bool, say: bool) -> None:
    """What a copy shares with the user's stack: said once per service when the
    environment is created (not on every later `up`); --strict refuses it every time."""
    found = isolation.findings(model, project_dir, copy)
    if strict and (refusal := isolation.refusal(model.name, found)):
        raise CiloError(refusal)
    for line in isolation.messages(found) if say else ():
        ctx.say(line)


def write_override(record: Record, model: ProjectModel, addresses: dict[str, str],
                   publish: str | None = None, ca_volume: str | None = None) -> None:
    """The copy's override (and its run layer); `publish`: where its declared ports are
    published (router.publish_address), or None; `ca_volume`: the router's CA volume."""
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
    text = override.render(override.build_override(model, ident, addresses, meta, publish, ca_volume), ident)
    path = Path(record["override"])
    try:
        paths.ensure_private_dir(path.parent)
        atomic_write(path, text, 0o600)
        atomic_write(run_layer_path(record), override.render(override.run_layer(model, addresses), ident), 0o600)
    except FileNotFoundError:  # a destroy of the same environment removed its folder meanwhile
        raise DestroyedMeanwhile(record_key(record)) from None


@contextmanager
def _env_turn(ctx: Context, ref: str) -> Iterator[None]:
    """One create/up of an environment at a time (per cilo home).

    Two `up X` of a new environment would otherwise race on its network and containers.
    The project is found first (from state, else compose), so bad input fails before any
    lock file is made; a create that failed leaves none either (bad input changes nothing).
    """
    project, env = split_ref(hosts.split_qualified(ref)[1], ctx.project)
    project = project or current_project(ctx) or ""
    lock = paths.env_lock(project, env)
    try:
        with turn(lock, f"creating or starting environment {env_key(project, env)}"):
            yield
    finally:
        if not store.read_state().find(env_key(project, env)):
            remove_with_empty_parents(lock, paths.cilo_home())


def create(ctx: Context, ref: str, copy: bool = False, strict: bool = False,
           publish: bool | None = None) -> Record:
    return prepare(ctx, ref, copy=copy, strict=strict, publish=publish)[0]


def prepare(ctx: Context, ref: str, *, copy: bool = False, strict: bool = False,
            recreate: bool = False, publish: bool | None = None) -> tuple[Record, bool]:
    """(the environment, whether this call made it): made if needed, with its networks and
    override, everything compose needs to run the copy, and no container yet. `recreate`
    first removes its containers and networks and moves it to the lowest free subnets;
    `publish` (True/False) is recorded: whether its declared ports get host ports."""
    with _env_turn(ctx, ref):
        if recreate:
            _reallocate_for_recreate(ctx, ref)
        record, _, created = _prepare(ctx, ref, copy, strict, publish)
        record = _push_workspace(ctx, record)
    return record, created


def _push_workspace(ctx: Context, record: Record) -> Record:
    """On an ssh:// engine: the workspace, copied to the same path on its machine (each
    time: bind mounts there see what is here now); recorded for destroy."""
    from . import sync

    target = sync.target_of(hosts.here(ctx.engine.opts).endpoint)
    if target is None:
        return record
    how = sync.push(target, record["workspace"], home_id())
    if how == "same folder":
        return record
    ctx.say(f"copied the workspace {record['workspace']} to {target.shown} ({how})")
    if record.get("remote_workspace") == record["workspace"]:
        return record
    return update_record(ctx_host(ctx), record_key(record), lambda r: r.update(remote_workspace=r["workspace"]))


def up(ctx: Context, ref: str, *, build: bool = False, recreate: bool = False,
       copy: bool = False, strict: bool = False) -> Record:
    with _env_turn(ctx, ref):
        if recreate:
            _reallocate_for_recreate(ctx, ref)
        record, _, _ = _prepare(ctx, ref, copy, strict)
        record = _push_workspace(ctx, record)
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
    ctx.engine.remove_networks(owned_names(ctx, record, "networks", known_home_id()))
    key = record_key(record)
    external = envnet.engine_taken(ctx.engine, host_routes(ctx), own_network=record["network"])
    with store.mutate() as st:
        rec = st.environments(ctx_host(ctx))[key]
        fresh = envnet.allocate_many(st, ctx_host(ctx), key, external, 1 + len(rec["networks"]), [])
        rec["subnet"] = fresh[0]
        for (_, net), subnet in zip(sorted(rec["networks"].items()), fresh[1:], strict=True):
            net["subnet"] = subnet
        for svc in rec["services"].values():
            svc["ip"] = None


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


def stop(ctx: Context, ref: str) -> Record:
    """Stop the environment's containers (doctor's repair of a copy state says is stopped)."""
    record = get_env(ctx, ref)
    ctx.engine.compose_stop(env_target(record))
    record = refresh(ctx, record, "stopped")
    sync_dns(ctx)
    return record
