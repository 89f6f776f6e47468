"""Destroying environments: only what carries the environment's labels and this home's
id is removed, and the state entry goes once the engine objects are gone."""

from __future__ import annotations

from . import ownership, paths, settings
from .binding import ctx_host
from .envrecord import env_folder, known_home_id, sync_dns
from .errors import CiloError
from .fsutil import remove_tree, remove_with_empty_parents
from .model import LABEL_HOME, record_key
from .queries import Context, Record, current_project, get_env, selector
from .state import store
from .state.document import host_name


def forget_failed_create(ctx: Context, record: Record, made_home: bool = False) -> None:
    """Undo a create that failed half-way: nothing of it may be left, down to its lock
    and, when that create made the home's id (`made_home`), the id if nothing carries it."""
    home = known_home_id()
    try:
        ctx.engine.remove_networks(owned_names(ctx, record, "networks", home))
    finally:
        remove_with_empty_parents(env_folder(record), paths.cilo_home())
        remove_with_empty_parents(paths.env_lock(record["project"], record["name"]), paths.cilo_home())
        unused = made_home and home is not None and not any(
            find({LABEL_HOME: home}) for find in (ctx.engine.containers, ctx.engine.networks, ctx.engine.volumes))
        with store.mutate() as st:
            st.environments(ctx_host(ctx)).pop(record_key(record), None)
            if ctx.hosts_before is not None and ctx.host:
                from . import hosts

                hosts.unregister(st.doc, ctx.host, ctx.hosts_before)
            if unused and st.doc.get("home_id") == home:
                st.doc.pop("home_id", None)


def destroy(ctx: Context, ref: str) -> None:
    record = get_env(ctx, ref)
    _destroy_record(ctx, record)
    sync_dns(ctx)


def destroy_all_plan(ctx: Context, every_project: bool) -> list[tuple[str, str]]:
    """(host, PROJECT/ENV) of the environments `destroy --all` (this project's) or
    `--all-projects` would remove, on every engine (only --host's, when given).

    The project is found strictly, as for any command: a compose option that names a
    missing file is an error here, never a reason to take every project instead.
    """
    from .binding import chosen_host

    st = store.read_state()
    project = None
    if not every_project:
        project = current_project(ctx, st=st)
        if not project:
            raise CiloError("destroy --all needs a project: run it in the project's folder or "
                            "give --project NAME; --all-projects destroys every project's")
    only = chosen_host(ctx, st.doc, None) if ctx.host_option else None
    return [(h, key) for h, key, r in st.all_environments()
            if (project is None or r["project"] == project) and (only is None or h == only)]


def destroy_keys(ctx: Context, keys: list[tuple[str, str]]) -> list[str]:
    """Destroy each (host, PROJECT/ENV) through its engine; the names of those destroyed
    (HOST:PROJECT/ENV for another engine's)."""
    from .binding import current_host, on_host

    st = store.read_state()
    done, contexts = [], {}
    for host, key in keys:
        record = st.environments(host).get(key)
        if record is None:
            continue
        if host not in contexts:
            contexts[host] = on_host(ctx, host, st.doc)
        _destroy_record(contexts[host], record)
        done.append(key if host == current_host(ctx) else f"{host_name(st.doc, host)}:{key}")
    for each in contexts.values() or [ctx]:
        sync_dns(each)
    return done


def plan_names(ctx: Context, keys: list[tuple[str, str]]) -> list[str]:
    """How a plan's environments are named to people: HOST:PROJECT/ENV off this engine."""
    from .binding import current_host

    doc, here = store.read_state().doc, current_host(ctx)
    return [key if host == here else f"{host_name(doc, host)}:{key}" for host, key in keys]


def destroy_all(ctx: Context, every_project: bool) -> list[str]:
    return destroy_keys(ctx, destroy_all_plan(ctx, every_project))


def _destroy_record(ctx: Context, record: Record) -> None:
    """Containers, networks, volumes, workspace, state entry: nothing of it is left.

    Only what carries the environment's cilo labels is removed: never by name (a name
    can be the user's), and never through `compose down --volumes`, which removes the
    volumes a compose file names whoever created them. Containers go first, with their
    anonymous volumes.
    """
    from .reach import router

    key = record_key(record)
    ctx.say(f"destroying environment {key}")
    home = known_home_id()
    router.leave(ctx, record, home)  # its routes go first, then the router leaves its network
    containers = ownership.owned(ctx.engine.containers(selector(record)), home, record)
    images = sorted({c.image for c in containers if c.image})
    ctx.engine.remove_containers([c.id for c in containers])
    ctx.engine.remove_volumes(owned_names(ctx, record, "volumes", home))
    ctx.engine.remove_networks(owned_names(ctx, record, "networks", home))
    # the engine objects are gone: forget the environment now, so that a folder that
    # cannot be removed never makes a retry fail on what is already done
    with store.mutate() as st:
        st.environments(ctx_host(ctx)).pop(key, None)
    _remove_remote_workspace(ctx, record, home)
    _remove_env_dir(ctx, record, images)


def _remove_remote_workspace(ctx: Context, record: Record, home: str | None) -> None:
    """The workspace `up` copied to an ssh:// engine's machine (only what cilo made there)."""
    from . import hosts, sync

    folder = record.get("remote_workspace")
    target = sync.target_of(hosts.here(ctx.engine.opts).endpoint)
    if not folder or target is None or home is None:
        return
    try:
        if sync.remove(target, folder, home):
            ctx.say(f"removed the workspace {folder} from {target.shown}")
    except CiloError as e:
        ctx.say(f"warning: the workspace {folder} on {target.shown} stays: {e}; remove it there with: "
                f"rm -rf {folder}")


def owned_names(ctx: Context, record: Record, kind: str, home: str | None) -> list[str]:
    """The environment's containers (ids), volumes or networks (names) of this home only."""
    found = getattr(ctx.engine, kind)(selector(record))
    mine = ownership.owned(found, home, record)
    return [o.id if kind == "containers" else o.name for o in mine]


def _remove_env_dir(ctx: Context, record: Record, images: list[str]) -> None:
    """The environment's folder; files its containers wrote as another user go through
    the engine (a short-lived container mounting only that folder); what still cannot be
    removed is said, with the command that removes it."""
    folder = env_folder(record)
    try:
        remove_tree(folder)
        return
    except PermissionError as e:
        first = e
    image = settings.current().helper_image or next(iter(images), None)
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
