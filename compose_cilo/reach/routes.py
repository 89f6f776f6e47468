"""The router's configuration, rendered from state by pure functions (golden-tested like
DNS): every name DNS serves for a running copy becomes a Caddy site on HTTP and HTTPS
(certificates from Caddy's own local CA), proxied to the service's containers on its
HTTP port.

The names are exactly DNS's (dns/zone.py): `web.alpha.test`, `web.shop.alpha.test`,
the ingress `shop.alpha.test` and `*.shop.alpha.test`, each `cilo.hostnames` name.
"""

from __future__ import annotations

from typing import NamedTuple

from ..dns import zone
from ..state.document import StateLike, document_of

DEFAULT_HTTP_PORT = 80
ADMIN = "localhost:2019"  # inside the router's container only
HEADER = "# compose-cilo's router, rendered from state: do not edit (docker cilo doctor --fix renders it again)\n"


class Route(NamedTuple):
    """One site: the names it answers and the containers it proxies to."""

    key: str  # PROJECT/ENV
    service: str
    names: tuple[str, ...]
    upstreams: tuple[str, ...]  # "ADDRESS:PORT"


def routes(state_doc: StateLike, suffix: str, host: str | None) -> list[Route]:
    """The routes of every running copy of one engine (`host`), in a stable order; `key`
    is the copy's zone key (PROJECT/ENV, dns/zone.py)."""
    doc = document_of(state_doc)
    recs = zone.records(doc, suffix)
    owner = zone.owners(doc, suffix)
    envs = zone.environments(doc, host) if host is not None else {}
    names: dict[tuple[str, str], list[str]] = {}
    addresses: dict[tuple[str, str], tuple[str, ...]] = {}
    for env in recs.envs.values():
        served = [*env.names.items(), *((f"*.{d}", ips) for d, ips in env.wildcards.items())]
        for name, ips in served:
            target = owner.get(name)
            if target:
                names.setdefault(target, []).append(name)
                addresses[target] = ips
    out = []
    for (key, service), found in sorted(names.items()):
        if key not in envs:
            continue  # another engine's copy: its own router routes it
        port = envs[key]["services"].get(service, {}).get("http_port") or DEFAULT_HTTP_PORT
        out.append(Route(key, service, tuple(sorted(found)),
                         tuple(f"{ip}:{port}" for ip in addresses[(key, service)])))
    return out


def caddyfile(found: list[Route]) -> str:
    """The Caddyfile of these routes (deterministic: no timestamps, sorted)."""
    lines = [HEADER.rstrip("\n"), "{", f"\tadmin {ADMIN}", "\tlocal_certs", "\tskip_install_trust",
             "\tauto_https disable_redirects", "}"]
    for r in found:
        sites = ", ".join(f"{scheme}://{n}" for n in r.names for scheme in ("http", "https"))
        lines += ["", f"# {r.key} {r.service}", f"{sites} {{", f"\treverse_proxy {' '.join(r.upstreams)}", "}"]
    return "\n".join(lines) + "\n"
