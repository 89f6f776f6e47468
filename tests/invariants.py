"""The isolation invariants of a copy, checked on what compose itself makes of it.

`render_copy` asks compose for the user's project (`docker compose config`, no engine
needed), builds cilo's override for an environment exactly as `up` does, and asks
compose for the merged project. `violations` lists every way the merged copy would
collide with, or reach into, the user's stack or another copy. Used by the isolation
case tests and the corpus test.
"""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
from pathlib import Path
from typing import Any, NamedTuple

from compose_cilo import override
from compose_cilo.engine.api import NetworkSpec
from compose_cilo.model import ProjectModel, container_names, model_from_config, namespace_root
from compose_cilo.network import envnet

META = {"cilo.project_dir": "/src/project", "cilo.profiles": "", "cilo.env_files": ""}


class Copy(NamedTuple):
    env: str
    user: dict[str, Any]  # the user's project, as compose resolves it
    merged: dict[str, Any]  # the copy: the user's files plus cilo's override
    model: ProjectModel
    specs: dict[str, NetworkSpec]  # compose key -> the network cilo creates for it
    override_text: str
    subnets: list[str]


def compose_json(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    proc = subprocess.run(["docker", "compose", *args, "--profile", "*", "config", "--format", "json"],
                          cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})})
    if proc.returncode != 0:
        raise AssertionError(f"docker compose {' '.join(args)} config in {cwd}: {proc.stderr.strip()}")
    return json.loads(proc.stdout)


def user_files(user: dict[str, Any], cwd: Path, args: list[str]) -> list[str]:
    """The -f options the user's project loads: given ones, else compose's own choice."""
    if "-f" in args or "--file" in args:
        return []
    from compose_cilo.project import ComposeOptions, resolve_target

    target = resolve_target(ComposeOptions(), cwd)
    return [a for f in target.files for a in ("-f", f)]


def render_copy(cwd: Path, args: list[str], env: str, index: int, tmp: Path,
                environ: dict[str, str] | None = None) -> Copy:
    """What `docker cilo up ENV` would run, without an engine: subnets from a fixed pool."""
    user = compose_json(args, cwd, environ)
    model = model_from_config(user)
    network = f"cilo_{model.name}_{env}"
    nets = override.copy_networks(model)
    subnets = [f"10.{200 + index}.{i}.0/24" for i in range(1 + len(nets))]
    ident = override.EnvIdentity(model.name, env, network, subnets[0])
    addresses = override.assign_addresses(subnets[0], override.fixed_address_services(model), {})
    text = override.render(override.build_override(model, ident, addresses, META), ident)
    path = tmp / f"override-{env}.yml"
    path.write_text(text)
    env_key = override.env_network_key(model)
    default = model.networks.get(env_key)
    specs = {env_key: envnet.network_spec(network, subnets[0], env_key, model.name, env,
                                          None if default is None or default.external else default)}
    for net, subnet in zip(nets, subnets[1:], strict=True):
        name = override.network_name(network, net.key, model)
        specs[net.key] = envnet.network_spec(name, subnet, net.key, model.name, env, net)
    merged_args = [*args, *user_files(user, cwd, args), "-f", str(path), "-p", network]
    merged = compose_json(merged_args, cwd, environ)
    return Copy(env, user, merged, model, specs, text, subnets)


def _service_violations(name: str, svc: dict[str, Any], c: Copy) -> list[str]:
    out = []
    user_svc = c.user["services"][name]
    if svc.get("ports"):
        out.append(f"service {name} publishes {svc['ports']}")
    if svc.get("container_name"):
        out.append(f"service {name} keeps container_name {svc['container_name']}")
    names = container_names(c.model)
    for field in ("network_mode", "ipc", "pid"):
        value = svc.get(field) or ""
        if value.startswith("container:") and value.removeprefix("container:") in names:
            out.append(f"service {name} {field} still points at the user's {value}")
    for ref in svc.get("volumes_from") or []:
        if ref.startswith("container:") and ref.removeprefix("container:").split(":")[0] in names:
            out.append(f"service {name} volumes_from the user's {ref}")
    before = set(user_svc.get("networks") or {})
    after = set(svc.get("networks") or {})
    if not before <= after:
        out.append(f"service {name} left networks {sorted(before - after)}")
    extra = after - before - {override.FALLBACK_NETWORK_KEY}
    if extra:
        out.append(f"service {name} joined networks {sorted(extra)} it was not on")
    env_key = override.env_network_key(c.model)
    for key, cfg in (svc.get("networks") or {}).items():
        cfg = cfg or {}
        if cfg.get("ipv6_address") or cfg.get("link_local_ips"):
            out.append(f"service {name} keeps a fixed IPv6/link-local address on {key}")
        ip = cfg.get("ipv4_address")
        if ip and (key != env_key or ipaddress.IPv4Address(ip) not in ipaddress.IPv4Network(c.subnets[0])):
            out.append(f"service {name} keeps fixed address {ip} on {key}")
    labels = svc.get("labels") or {}
    if any(k == "caddy" or k.startswith(("caddy.", "caddy_")) for k in labels):
        out.append(f"service {name} keeps caddy-docker-proxy labels")
    if any(k.startswith("traefik.") for k in labels) and labels.get("traefik.enable") != "false":
        out.append(f"service {name} is still enabled for traefik")
    if any(k in (svc.get("environment") or {}) for k in override.PROXY_ENV):
        out.append(f"service {name} keeps nginx-proxy's VIRTUAL_HOST")
    return out


def _alias_violations(c: Copy) -> list[str]:
    out = []
    for name, svc in c.user["services"].items():
        cname = svc.get("container_name")
        if not cname:
            continue
        root = namespace_root(c.model, name)
        for key, cfg in (c.merged["services"][root].get("networks") or {}).items():
            net = c.model.networks.get(key)
            if net is not None and net.external:
                continue
            if cname not in ((cfg or {}).get("aliases") or []):
                out.append(f"container name {cname} of {name} is no alias on {key} of {root}")
    return out


def _network_violations(c: Copy) -> list[str]:
    out = []
    for key, net in (c.merged.get("networks") or {}).items():
        user = c.model.networks.get(key)
        if user is not None and user.external:
            if net.get("name") != user.name or not net.get("external"):
                out.append(f"external network {key} changed to {net}")
            continue
        if not net.get("external") or not str(net.get("name", "")).startswith(f"cilo_{c.model.name}_{c.env}"):
            out.append(f"network {key} is not cilo's own ({net})")
        spec = c.specs.get(key)
        if spec is None:
            out.append(f"network {key} has no network cilo creates")
            continue
        if "com.docker.network.bridge.name" in spec.options:
            out.append(f"network {key} keeps bridge name {spec.options['com.docker.network.bridge.name']}")
        if "parent" in spec.options:
            out.append(f"network {key} keeps parent {spec.options['parent']}")
        if spec.subnet not in c.subnets:
            out.append(f"network {key} is not on cilo's subnet ({spec.subnet})")
        if user is not None and (spec.internal != user.internal
                                 or bool(spec.ipv6_subnet) != user.enable_ipv6):
            out.append(f"network {key} lost its flags (internal/enable_ipv6)")
    return out


def _volume_violations(c: Copy) -> list[str]:
    out = []
    for key, vol in (c.merged.get("volumes") or {}).items():
        user = c.model.volumes.get(key)
        if user is not None and user.external:
            continue
        if vol.get("name") != f"cilo_{c.model.name}_{c.env}_{key}":
            out.append(f"volume {key} is named {vol.get('name')}")
        if override.host_bound_volume(vol.get("driver"), vol.get("driver_opts") or {}):
            out.append(f"volume {key} keeps host options {vol.get('driver_opts')}")
    return out


def violations(c: Copy) -> list[str]:
    out = []
    for name, svc in sorted(c.merged["services"].items()):
        out += _service_violations(name, svc, c)
    return out + _alias_violations(c) + _network_violations(c) + _volume_violations(c)


def global_names(c: Copy) -> set[str]:
    """Names on the engine (and host) that the copy would ask for, externals apart."""
    names: set[str] = set()
    for vol in (c.merged.get("volumes") or {}).values():
        if not vol.get("external"):
            names.add(f"volume:{vol['name']}")
            opts = vol.get("driver_opts") or {}
            if (device := opts.get("device")) and opts.get("type") != "tmpfs":
                names.add(f"device:{device}")
    for spec in c.specs.values():
        names.add(f"network:{spec.name}")
        names.add(f"subnet:{spec.subnet}")
        if bridge := spec.options.get("com.docker.network.bridge.name"):
            names.add(f"bridge:{bridge}")
    for name, svc in c.merged["services"].items():
        names.add(f"container:{c.merged['name']}-{name}-1")
        if svc.get("container_name"):
            names.add(f"container:{svc['container_name']}")
    return names


def user_global_names(user: dict[str, Any]) -> set[str]:
    names: set[str] = set()
    for vol in (user.get("volumes") or {}).values():
        if not vol.get("external"):
            names.add(f"volume:{vol['name']}")
    for net in (user.get("networks") or {}).values():
        if not net.get("external"):
            names.add(f"network:{net['name']}")
            if bridge := (net.get("driver_opts") or {}).get("com.docker.network.bridge.name"):
                names.add(f"bridge:{bridge}")
    for name, svc in user["services"].items():
        names.add(f"container:{svc.get('container_name') or user['name'] + '-' + name + '-1'}")
    return names
