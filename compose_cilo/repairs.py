"""doctor's repairs that rebuild what state or the engine lost: a copy's missing networks
(recreated with their recorded subnets) and the record of a copy state lost (adopted
back from the engine's labels)."""

from __future__ import annotations

from pathlib import Path

from . import ownership
from .binding import ctx_host
from .envrecord import (
    home_id,
    host_routes,
    new_record,
    refresh,
    register_host,
    service_records,
    update_record,
    user_target,
)
from .errors import CiloError
from .lifecycle import service_addresses, write_override
from .model import env_key, record_key
from .network import copynets
from .project import ComposeTarget, model_from_config
from .queries import Context, Record, get_env
from .reach import router
from .reconcile import Adoption
from .state import store


def repair_network(ctx: Context, ref: str) -> Record:
    """Recreate the environment's missing networks with their recorded subnets (doctor --fix)."""
    record = get_env(ctx, ref)
    model = model_from_config(ctx.engine.compose_config(user_target(record)))
    fixed = copynets.ensure(ctx.engine, ctx_host(ctx), record, model, home_id(), lambda: host_routes(ctx))
    if fixed == record:
        return record
    return update_record(ctx_host(ctx), record_key(record),
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
        host = register_host(ctx, st.doc)
        if key in st.environments(host):
            raise CiloError(f"environment {key} is in state again; nothing to adopt")
        ownership.ensure_home_id(st.doc)
        record["services"] = service_records(model, service_addresses(record, model), {})
        st.environments(host)[key] = record
    write_override(record, model, service_addresses(record, model), router.publish_address(ctx, record),
                   router.ca_mount(ctx, home_id()))
    return refresh(ctx, record, "running" if found.running else "stopped")
