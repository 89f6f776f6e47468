"""How environments are shown: JSON objects and plain tables (pure functions)."""

from __future__ import annotations

import json
from typing import Any

from ..model import record_key

Record = dict[str, Any]


def env_json(
    record: Record, urls: dict[str, list[str]] | None = None, overlaps: list[str] | None = None,
    host: str | None = None,
) -> dict[str, Any]:
    """The public JSON shape of an environment (stable keys; more may be added)."""
    urls = urls or {}
    return {
        **({"host": host} if host is not None else {}),
        "project": record["project"],
        "name": record["name"],
        "status": record["status"],
        "subnet": record["subnet"],
        "network": record["network"],
        "workspace": record["workspace"],
        "copy": record["copy"],
        "compose_project": record["compose_project"],
        "project_dir": record["project_dir"],
        "compose_files": record["compose_files"],
        "profiles": record["profiles"],
        "created_at": record["created_at"],
        "updated_at": record["updated_at"],
        "subnet_overlaps": overlaps or [],
        "services": {
            name: {
                "ip": svc["ip"],
                "container": svc["container"],
                "status": svc["status"],
                "replicas": svc["replicas"],
                "urls": urls.get(name, []),
                "ports": svc.get("published", []),  # published on the engine host (--publish)
            }
            for name, svc in sorted(record["services"].items())
        },
    }


def table(rows: list[list[str]], headers: list[str]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in [headers, *rows]]
    return "\n".join(lines)


def env_list(listed: list[Any], drift: dict[str, list[str]] | None = None, with_host: bool = False) -> str:
    """The table of `list`: (host, record, reachable) rows; a HOST column `with_host`; the
    status of a copy whose engine did not answer is marked `?` (as last recorded)."""
    if not listed:
        return "no environments"
    drift = drift or {}
    rows = []
    for host, r, reachable in listed:
        running = sum(1 for s in r["services"].values() if s["status"] == "running")
        key = record_key(r)
        note = f"  ! overlaps {', '.join(drift[key])}" if drift.get(key) else ""
        status = r["status"] if reachable is not False else f"{r['status']}?"  # as last recorded
        rows.append([*([host] if with_host else []), r["project"], r["name"], status, r["subnet"],
                     f"{running}/{len(r['services'])}", r["workspace"] + note])
    return table(rows, [*(["HOST"] if with_host else []), "PROJECT", "ENV", "STATUS", "SUBNET", "RUNNING",
                        "WORKSPACE"])


def overlap_warning(record: Record, overlaps: list[str]) -> str:
    return (
        f"warning: subnet {record['subnet']} of {record_key(record)} now "
        f"overlaps {', '.join(overlaps)}; move it with: docker cilo up {record['name']} --recreate"
    )


def env_status(
    record: Record, urls: dict[str, list[str]] | None = None, overlaps: list[str] | None = None,
    reach: str | None = None,
) -> str:
    urls = urls or {}
    head = (
        f"environment {record_key(record)}: {record['status']}, "
        f"subnet {record['subnet']} (network {record['network']})\n"
        + (f"reach {reach}\n" if reach else "")
        + f"workspace {record['workspace']}"
    )
    if overlaps:
        head += "\n" + overlap_warning(record, overlaps)
    from ..reach import ports

    rows = []
    shows_ports = bool(ports.published(record))
    for name, svc in sorted(record["services"].items()):
        ips = [r["ip"] for r in svc["replicas"] if r["ip"]] or ([svc["ip"]] if svc["ip"] else [])
        if svc["status"] == "not created":
            ips = []
        rows.append([name, svc["status"], ",".join(ips) or "-", *([ports.summary(svc)] if shows_ports else []),
                     " ".join(urls.get(name, [])) or "-"])
    if not rows:
        return head
    return head + "\n\n" + table(rows, ["SERVICE", "STATUS", "ADDRESS", *(["PORTS"] if shows_ports else []), "URL"])


def list_text(listed: list[Any], overlaps: dict[str, list[str]], as_json: bool, every: bool = False,
              elsewhere: int = 0) -> str:
    """What `list` prints: a JSON array or the table (queries.Listed rows); a table of
    the current engine's says how many more other engines hold."""
    if as_json:
        import json

        return json.dumps(
            [{**env_json(r, overlaps=overlaps.get(record_key(r)), host=h),
              **({"host_reachable": reachable} if reachable is not None else {})} for h, r, reachable in listed],
            indent=2,
        )
    more = (f"\n({elsewhere} more on other engines: docker cilo list --all)" if elsewhere and not every else "")
    return env_list(listed, overlaps, with_host=every) + more


def print_json(data: Any) -> None:
    """What every --json prints: the object, indented, keys in their given order."""
    print(json.dumps(data, indent=2, sort_keys=False))
