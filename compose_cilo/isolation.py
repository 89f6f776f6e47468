"""What a copy cannot isolate, said once per service at `up` (pure: model in, findings out).

The override removes every collision it can (ports, names, subnets, addresses, volume
names, host-bound volume options). What remains shared is what the user's compose file
asks of the host or of things outside the project: the host's network or process
namespaces, host devices, host folders, the docker socket, external volumes and
networks, containers outside the project. `up` warns about each; `--strict` refuses.
Notes are changes a copy makes that the user may not expect (not refused by --strict).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .model import CONTAINER_REF, PARENT_DRIVERS, Mount, ProjectModel, ServiceModel, container_names
from .override import host_bound_volume

DOCKER_SOCKETS = ("/var/run/docker.sock", "/run/docker.sock")


class Finding(NamedTuple):
    service: str  # "" for a top-level network or volume
    shared: str  # what stays shared, or what changes (a note)
    fix: str
    note: bool = False  # True: said, but not refused by --strict


def _namespaces(svc: ServiceModel, names: dict[str, str]) -> list[Finding]:
    out = []
    for field in ("network_mode", "ipc", "pid", "uts"):
        value = getattr(svc, field) or ""
        if value == "host":
            what = "network (its ports are not isolated between copies)" if field == "network_mode" \
                else f"{field} namespace"
            out.append(Finding(svc.name, f"{field}: host shares the host's {what}",
                               f"remove {field}: host from the service"))
        elif value.startswith(CONTAINER_REF) and value.removeprefix(CONTAINER_REF) not in names:
            out.append(Finding(svc.name, f"{field}: {value} joins a container outside the project",
                               "refer to a service of the project (service:NAME) instead"))
    for item in svc.volumes_from:
        ref = item.removeprefix(CONTAINER_REF).partition(":")[0]
        if item.startswith(CONTAINER_REF) and ref not in names:
            out.append(Finding(svc.name, f"volumes_from: {item} mounts the volumes of a container "
                               "outside the project", "refer to a service of the project instead"))
    for link in svc.external_links:
        out.append(Finding(svc.name, f"external_links: {link} reaches a container outside the project",
                           "use a service of the project instead"))
    return out


def _shown_path(source: str, project_dir: str) -> str:
    try:
        return "./" + str(Path(source).relative_to(project_dir))
    except ValueError:
        return source


def _mount(svc: ServiceModel, m: Mount, model: ProjectModel, project_dir: str,
           copy: bool) -> Finding | None:
    if m.type == "volume" and m.source in model.volumes and model.volumes[m.source].external:
        return Finding(svc.name, f"external volume {model.volumes[m.source].name} is your stack's "
                       "own data", "declare the volume without external: true for a volume per copy")
    if m.type != "bind" or not m.source:
        return None
    if m.source in DOCKER_SOCKETS or m.source.endswith("/docker.sock"):
        return Finding(svc.name, f"{m.source} gives it every container on the engine, your own "
                       "stack's included", "remove the docker socket mount from the service")
    if m.read_only:
        return None
    inside = Path(m.source) == Path(project_dir) or Path(project_dir) in Path(m.source).parents
    if inside and copy:
        return None  # the workspace copy has its own
    if inside:
        return Finding(svc.name, f"bind mount {_shown_path(m.source, project_dir)} is read and "
                       "written in your own project folder",
                       "use --copy to give the copy a copy of the folder of its own")
    return Finding(svc.name, f"bind mount {m.source} is a host folder outside the project",
                   "mount a named volume instead, or mount it read-only")


def _service(svc: ServiceModel, model: ProjectModel, names: dict[str, str], project_dir: str,
             copy: bool) -> list[Finding]:
    out = _namespaces(svc, names)
    for m in svc.mounts:
        if (found := _mount(svc, m, model, project_dir, copy)) is not None:
            out.append(found)
    for device in svc.devices:
        out.append(Finding(svc.name, f"device {device.partition(':')[0]} is the host's",
                           "remove devices: from the service"))
    for key in sorted(svc.networks):
        net = model.networks.get(key)
        if net and net.external:
            out.append(Finding(svc.name, f"external network {net.name} is shared with your stack: "
                               "its other members reach the copy by service name",
                               "declare the network without external: true for a network per copy"))
    return out


def _top_level(model: ProjectModel) -> list[Finding]:
    out = []
    for vol in model.volumes.values():
        if not vol.external and host_bound_volume(vol.driver, vol.driver_opts):
            where = vol.driver_opts.get("device") or vol.driver_opts.get("o") or "a host path"
            out.append(Finding("", f"volume {vol.key} points at {where}: each copy gets an empty "
                               "volume of its own instead", "nothing to do", note=True))
    for net in model.networks.values():
        if not net.external and (net.driver or "") in PARENT_DRIVERS and "parent" in net.driver_opts:
            out.append(Finding("", f"network {net.key} ({net.driver} on {net.driver_opts['parent']}): "
                               "each copy's is on a private dummy interface, not on your LAN",
                               "nothing to do", note=True))
    return out


def findings(model: ProjectModel, project_dir: str, copy: bool) -> list[Finding]:
    names = container_names(model)
    out = _top_level(model)
    for svc in model.services.values():
        out += _service(svc, model, names, project_dir, copy)
    return out


def messages(found: list[Finding]) -> list[str]:
    """One line per service (and one per top-level note), each naming what and the fix."""
    by_service: dict[str, list[Finding]] = {}
    lines = []
    for f in found:
        if f.service:
            by_service.setdefault(f.service, []).append(f)
        else:
            lines.append(f"note: {f.shared}")
    for service, items in sorted(by_service.items()):
        parts = "; ".join(f"{f.shared} (fix: {f.fix})" for f in items)
        lines.append(f"warning: service {service} shares what a copy cannot isolate: {parts}")
    return lines


def refusal(project: str, found: list[Finding]) -> str | None:
    """--strict: the error for a project whose copies would share something, or None."""
    shared = [f for f in found if not f.note]
    if not shared:
        return None
    what = "; ".join(f"service {f.service}: {f.shared}" for f in shared)
    return (f"--strict: copies of project {project} would share what cannot be isolated: {what}; "
            "fix the compose file as each warning says, or run without --strict (nothing was created)")
