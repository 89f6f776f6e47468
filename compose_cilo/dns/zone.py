"""Which DNS names an environment gets, and the addresses behind them. Pure: no I/O.

For environment ENV of project P (P as a DNS label) and suffix S, a service SVC gets:

    SVC.P.ENV.S        always (the qualified name)
    SVC.ENV.S          the short name, unless another project's ENV claims it too
    P.ENV.S, *.P.ENV.S the ingress service (the apex, and a wildcard below it)
    H.ENV.S, H.P.ENV.S each H in its `cilo.hostnames` label

Several claims on one name are settled by rank, then refused when still tied:

    0  SVC.P.ENV.S, P.ENV.S      (qualified service names and the apex)
    1  H.P.ENV.S                 (qualified hostnames)
    2  SVC.ENV.S                 (short service names)
    3  H.ENV.S                   (short hostnames)

So exact service names beat hostnames, and a short name two projects both want is
served by neither (`names_for_env` then offers the qualified one first). P.ENV.S and
everything below it belong to that environment alone: another environment's claim
there is dropped. Ambiguity is computed over every environment in the state, whatever
its status, so a name does not change owner because some other environment stopped.
Only running environments are served.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import CiloError
from ..model import LABEL_HOSTNAMES as HOSTNAMES_LABEL
from ..names import project_dns_label
from ..state.document import StateLike, document_of
from .labels import MAX_NAME, check_suffix, hostname_problem, is_dns_name, pick_ingress, service_label
from .labels import shown as _shown
from .placement import environments, placed, served_hosts, zone_key

RANK_QUALIFIED, RANK_HOSTNAME_QUALIFIED, RANK_SHORT, RANK_HOSTNAME_SHORT = 0, 1, 2, 3

IPs = tuple[str, ...]


# ---------------------------------------------------------------- records


@dataclass(frozen=True)
class EnvRecords:
    """What one running environment serves."""

    key: str
    project: str
    env: str
    names: dict[str, IPs]  # exact name -> addresses, both sorted
    wildcards: dict[str, IPs]  # domain -> addresses; answers the domain and all below it


@dataclass(frozen=True)
class DnsRecords:
    suffix: str
    envs: dict[str, EnvRecords]  # by env key, sorted; only environments with something served
    notes: tuple[str, ...]  # names not served and why, for status

    @property
    def exact(self) -> dict[str, IPs]:
        return {n: ips for e in self.envs.values() for n, ips in e.names.items()}

    @property
    def wildcards(self) -> dict[str, IPs]:
        return {d: ips for e in self.envs.values() for d, ips in e.wildcards.items()}

    def answer(self, name: str) -> IPs | None:
        """The A answer dnsmasq should give: exact names first, else the longest wildcard."""
        name = name.lower().rstrip(".")
        exact = self.exact
        if name in exact:
            return exact[name]
        wild = self.wildcards
        labels = name.split(".")
        for i in range(len(labels)):
            domain = ".".join(labels[i:])
            if domain in wild:
                return wild[domain]
        return None


@dataclass(frozen=True)
class _Claim:
    name: str
    rank: int
    key: str
    service: str


@dataclass
class _Plan:
    owners: dict[str, tuple[str, str]]  # name -> (env key, service)
    namespaces: dict[str, list[str]]  # P.ENV.S -> env keys
    ingress: dict[str, str]  # env key -> ingress service
    notes: list[str]


def _split_key(key: str) -> tuple[str, str]:
    project, _, env = key.partition("/")
    return project, env


def _claims(key: str, record: Mapping[str, Any], suffix: str, plan: _Plan) -> list[_Claim]:
    project, env = _split_key(key)
    p = project_dns_label(project)
    services = record.get("services") or {}
    ingress = pick_ingress({s: bool(v.get("ingress")) for s, v in services.items()})
    if ingress:
        plan.ingress[key] = ingress
    out: list[_Claim] = []
    for service, svc in sorted(services.items()):
        label = service_label(service)
        if label is None:
            plan.notes.append(
                f'{key}: service "{_shown(service)}" has no DNS name (not a DNS label once '
                f"lowercased with '_' as '-'); rename it or give it a {HOSTNAMES_LABEL} label"
            )
        else:
            out.append(_Claim(f"{label}.{p}.{env}.{suffix}", RANK_QUALIFIED, key, service))
            out.append(_Claim(f"{label}.{env}.{suffix}", RANK_SHORT, key, service))
        if service == ingress:
            out.append(_Claim(f"{p}.{env}.{suffix}", RANK_QUALIFIED, key, service))
        for h in _state_hostnames(key, service, svc):
            out.append(_Claim(f"{h}.{p}.{env}.{suffix}", RANK_HOSTNAME_QUALIFIED, key, service))
            out.append(_Claim(f"{h}.{env}.{suffix}", RANK_HOSTNAME_SHORT, key, service))
    return out


def _state_hostnames(key: str, service: str, svc: Mapping[str, Any]) -> list[str]:
    """Hostnames from the state are checked again: the state is a file anyone can edit."""
    out = []
    for h in svc.get("hostnames") or []:
        problem = hostname_problem(h) if isinstance(h, str) else "is not a string"
        if problem is None and h != h.lower():
            problem = "has uppercase letters"
        if problem:
            raise CiloError(
                f'{key}: service "{_shown(service)}" has hostname "{_shown(str(h))}" '
                f"({HOSTNAMES_LABEL}) that {problem}; fix the label and run docker cilo up again"
            )
        out.append(h)
    return out


def _namespace_of(name: str, namespaces: Mapping[str, list[str]]) -> list[str] | None:
    labels = name.split(".")
    for i in range(len(labels)):
        owners = namespaces.get(".".join(labels[i:]))
        if owners is not None:
            return owners
    return None


def _plan(state_doc: StateLike, suffix: str) -> _Plan:
    check_suffix(suffix)
    envs = environments(state_doc)
    plan = _Plan(owners={}, namespaces={}, ingress={}, notes=[])
    for key in envs:
        project, env = _split_key(key)
        plan.namespaces.setdefault(f"{project_dns_label(project)}.{env}.{suffix}", []).append(key)
    by_name: dict[str, list[_Claim]] = {}
    for key, record in envs.items():
        for claim in _claims(key, record, suffix, plan):
            by_name.setdefault(claim.name, []).append(claim)
    for name, claims in sorted(by_name.items()):
        _settle(name, claims, plan)
    return plan


def _settle(name: str, claims: list[_Claim], plan: _Plan) -> None:
    if len(name) > MAX_NAME:
        plan.notes.append(f"{name[:40]}...: longer than {MAX_NAME} characters, not served")
        return
    ns_owners = _namespace_of(name, plan.namespaces)
    if ns_owners is not None:
        outsiders = sorted({c.key for c in claims if c.key not in ns_owners})
        claims = [c for c in claims if c.key in ns_owners]
        for key in outsiders:
            plan.notes.append(f"{name}: not served for {key} (it lies in {ns_owners[0]}'s names)")
        if not claims:
            return
    best = min(c.rank for c in claims)
    targets = sorted({(c.key, c.service) for c in claims if c.rank == best})
    if len(targets) == 1:
        plan.owners[name] = targets[0]
        return
    who = ", ".join(f"{k} {s}" for k, s in targets)
    plan.notes.append(f"{name}: not served, claimed by {who}; use the qualified names")


def _addresses(key: str, service: str, svc: Mapping[str, Any], subnet: Any) -> IPs:
    replicas = svc.get("replicas") or []
    raw = [r.get("ip") for r in replicas if r.get("ip")]
    if not replicas and svc.get("ip") and svc.get("status") == "running":
        raw = [svc["ip"]]
    out = set()
    for ip in raw:
        try:
            addr = ipaddress.IPv4Address(ip)
        except (ValueError, TypeError):
            addr = None
        if addr is None or not any(addr in net for net in subnet):
            raise CiloError(
                f'{key}: service "{_shown(service)}" has address "{_shown(str(ip))}", not an '
                f"IPv4 address in the environment's subnet{'s' * (len(subnet) > 1)} "
                f"{', '.join(map(str, subnet))}; run docker cilo up "
                f"{key} again (or docker cilo doctor)"
            )
        out.add(addr)
    return tuple(str(a) for a in sorted(out))


def _subnet(key: str, record: Mapping[str, Any]) -> list[ipaddress.IPv4Network]:
    """The environment's subnets: its own network's, then its other networks'."""
    raw = [record.get("subnet"), *(n.get("subnet") for n in (record.get("networks") or {}).values())]
    try:
        return [ipaddress.IPv4Network(s) for s in raw]
    except (ValueError, TypeError, AttributeError):
        raise CiloError(
            f'{key}: subnet "{_shown(str(record.get("subnet")))}" is not an IPv4 network; '
            "run docker cilo doctor"
        ) from None


def records(state_doc: StateLike, suffix: str) -> DnsRecords:
    """Every name served and its addresses. CiloError for anything unclean in the state."""
    plan = _plan(state_doc, suffix)
    served = served_hosts(document_of(state_doc))
    envs = {k: r for k, (h, r) in placed(state_doc).items() if h in served}
    by_env: dict[str, dict[str, IPs]] = {}
    problems: list[str] = []
    addresses: dict[tuple[str, str], IPs] = {}
    for key, record in envs.items():
        if record.get("status") != "running":
            continue
        try:
            subnet = _subnet(key, record)
            for service, svc in sorted((record.get("services") or {}).items()):
                addresses[(key, service)] = _addresses(key, service, svc, subnet)
        except CiloError as e:
            problems.append(str(e))
    if problems:
        raise CiloError("; ".join(problems))
    for name, (key, service) in plan.owners.items():
        ips = addresses.get((key, service))
        if ips:
            by_env.setdefault(key, {})[name] = ips
    out: dict[str, EnvRecords] = {}
    for key in envs:
        project, env = _split_key(key)
        names = dict(sorted(by_env.get(key, {}).items()))
        wildcards = _wildcard(key, plan, addresses, suffix)
        if names or wildcards:
            out[key] = EnvRecords(key, project, env, names, wildcards)
    result = DnsRecords(suffix=suffix, envs=out, notes=tuple(plan.notes))
    validate(result)
    return result


def _wildcard(key: str, plan: _Plan, addresses: Mapping[tuple[str, str], IPs], suffix: str) -> dict[str, IPs]:
    service = plan.ingress.get(key)
    ips = addresses.get((key, service)) if service else None
    if not ips:
        return {}
    project, env = _split_key(key)
    domain = f"{project_dns_label(project)}.{env}.{suffix}"
    if plan.namespaces.get(domain) != [key]:
        plan.notes.append(f"*.{domain}: not served, {' and '.join(plan.namespaces[domain])} share it")
        return {}
    return {domain: ips}


def validate(recs: DnsRecords) -> None:
    """The last check before anything is rendered: clean names and addresses, and no name
    (or wildcard domain) reaching into another environment."""
    problems: list[str] = []
    owner: dict[str, str] = {}
    for key, env in recs.envs.items():
        for name, ips in [*env.names.items(), *env.wildcards.items()]:
            if not is_dns_name(name) or not name.endswith("." + recs.suffix):
                problems.append(f'{key}: "{_shown(name)}" is not a DNS name under {recs.suffix}')
            if owner.setdefault(name, key) != key:
                problems.append(f"{name} points at both {owner[name]} and {key}")
            for ip in ips:
                if not _is_ipv4(ip):
                    problems.append(f'{key}: "{_shown(str(ip))}" is not an IPv4 address')
    for domain, key in [(d, k) for k, e in recs.envs.items() for d in e.wildcards]:
        for name, other in owner.items():
            if other != key and name.endswith("." + domain):
                problems.append(f"{name} of {other} lies under *.{domain} of {key}")
    if problems:
        raise CiloError("DNS records refused: " + "; ".join(problems))


def _is_ipv4(ip: object) -> bool:
    try:
        return isinstance(ip, str) and str(ipaddress.IPv4Address(ip)) == ip
    except ValueError:
        return False


def owners(state_doc: StateLike, suffix: str) -> dict[str, tuple[str, str]]:
    """Which (environment key, service) each name belongs to, a wildcard as "*.DOMAIN":
    what the router routes, for the names `records` serves."""
    plan = _plan(state_doc, suffix)
    out = dict(plan.owners)
    for key, service in plan.ingress.items():
        project, env = _split_key(key)
        domain = f"{project_dns_label(project)}.{env}.{suffix}"
        if plan.namespaces.get(domain) == [key]:
            out[f"*.{domain}"] = (key, service)
    return out


def answered_at(recs: DnsRecords, address: str | Mapping[str, str | None]) -> DnsRecords:
    """The same names, each answering a router's address instead of its containers': one
    address for all, or per zone key (None: that environment's own addresses)."""
    def at(key: str) -> str | None:
        return address if isinstance(address, str) else address.get(key)

    envs = {k: e if (a := at(k)) is None else
            EnvRecords(e.key, e.project, e.env, {n: (a,) for n in e.names}, {d: (a,) for d in e.wildcards})
            for k, e in recs.envs.items()}
    return DnsRecords(suffix=recs.suffix, envs=envs, notes=recs.notes)


# ---------------------------------------------------------------- names for people


def names_for_env(state_doc: StateLike, key: str, suffix: str, host: str | None = None) -> dict[str, list[str]]:
    """Each service's names, the one to use first (short if served, else qualified), of
    environment `key` (a zone key; with `host`: PROJECT/ENV of that host).

    Independent of whether the environment runs, so `status` can show its URLs.
    """
    if host is not None:
        key = zone_key(state_doc, host, key) or key
    plan = _plan(state_doc, suffix)
    record = environments(state_doc).get(key)
    if record is None:
        return {}
    owned: dict[str, list[tuple[int, str]]] = {}
    order = {RANK_SHORT: 0, RANK_QUALIFIED: 1, RANK_HOSTNAME_SHORT: 2, RANK_HOSTNAME_QUALIFIED: 3}
    for claim in _claims(key, record, suffix, _Plan({}, plan.namespaces, {}, [])):
        if plan.owners.get(claim.name) == (key, claim.service):
            owned.setdefault(claim.service, []).append((order[claim.rank], claim.name))
    out: dict[str, list[str]] = {}
    for service in sorted(record.get("services") or {}):
        names = [n for _, n in sorted(owned.get(service, []), key=lambda t: t[0])]
        out[service] = list(dict.fromkeys(names))
    return out


def all_names(recs: DnsRecords) -> Iterable[tuple[str, IPs]]:
    """Served names for display: exact names, then wildcards as *.domain."""
    yield from sorted(recs.exact.items())
    yield from ((f"*.{d}", ips) for d, ips in sorted(recs.wildcards.items()))
