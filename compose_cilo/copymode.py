"""--copy: the environment runs from a copy of the project under the cilo home, with a
shared layer that keeps the paths outside the project folder where they are."""

from __future__ import annotations

from pathlib import Path

from . import paths, workspace
from .envrecord import in_workspace, shared_layer_path, user_target
from .fsutil import atomic_write, ensure_copy
from .project import ComposeTarget, ProjectModel, model_from_config
from .queries import Context, Record


def prepare_workspace(ctx: Context, record: Record) -> ProjectModel:
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
    files = tuple(in_workspace(f, record) for f in record["compose_files"])
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
