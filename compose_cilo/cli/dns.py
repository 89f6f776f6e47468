"""`docker cilo dns ...` and `docker cilo init`: parse, call one function, print."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import typer

if TYPE_CHECKING:  # dnsmasq is imported by the commands that use it (start-up speed)
    from ..dns import dnsmasq

dns_app = typer.Typer(
    name="dns",
    help="cilo's DNS server (dnsmasq on 127.0.0.1) that answers *.<env>.test names.",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)


def format_status(st: dnsmasq.DnsStatus) -> str:
    state = f"running (pid {st.pid})" if st.running else "not running"
    lines = [
        f"dns:        {state} on 127.0.0.1:{st.port}, suffix .{st.suffix}"
        + ("" if st.current or not st.running else " (config out of date: docker cilo dns restart)"),
        f"config:     {st.config}",
        f"upstreams:  {', '.join(st.upstreams) or 'none (no-resolv): names outside .' + st.suffix + ' are refused'}"
        f" [{st.upstream_source}]",
        f"system:     {'routed' if st.system_route['routed'] else 'not routed'}: {st.system_route['detail']}",
        f"wildcards:  {len(st.responders)} responder(s)"
        + "".join(f"; {k} pid {v['pid']} port {v['port']}" for k, v in st.responders.items()),
        f"names:      {len(st.names)}",
    ]
    width = max((len(n) for n in st.names), default=0)
    lines += [f"  {n:{width}}  {' '.join(ips)}" for n, ips in st.names.items()]
    lines += [f"note: {n}" for n in st.notes]
    return "\n".join(lines)


def format_sync(result: dnsmasq.SyncResult) -> str:
    lines = [("dns: " if result.served else "warning: ") + result.message]
    if result.restarted:
        lines.append(f"dnsmasq restarted (gap {result.restart_gap_ms} ms)")
    elif result.started:
        lines.append(f"dnsmasq started (pid {result.pid})")
    if result.responders_started:
        lines.append(f"wildcard responders started for {', '.join(result.responders_started)}")
    return "\n".join(lines)


@dns_app.command("status")
def status_cmd(as_json: bool = typer.Option(False, "--json", help="Print a JSON object.")) -> None:
    """Is cilo's dnsmasq running, what does it serve, does the system route to it?"""
    from ..dns import dnsmasq

    st = dnsmasq.status()
    print(json.dumps(st.to_json(), indent=2) if as_json else format_status(st))


@dns_app.command("render")
def render_cmd() -> None:
    """Print the files cilo would write now: configs, hosts files (writes nothing)."""
    from ..dns import dnsmasq

    files = dnsmasq.render_files()
    print("\n".join(f"# ==> {path}\n{text}" for path, text in files.items()), end="")


@dns_app.command("start")
def start_cmd() -> None:
    """Write the files from the state and start dnsmasq if it is not running."""
    from ..dns import dnsmasq

    print(format_sync(dnsmasq.start()))


@dns_app.command("stop")
def stop_cmd() -> None:
    """Stop cilo's dnsmasq (names stop resolving until the next up or dns start)."""
    from ..dns import dnsmasq

    print("dnsmasq stopped" if dnsmasq.stop() else "dnsmasq was not running")


@dns_app.command("restart")
def restart_cmd() -> None:
    """Re-render from the state and restart dnsmasq."""
    from ..dns import dnsmasq

    result = dnsmasq.restart()
    print(format_sync(result))
    if not result.served:
        raise typer.Exit(1)


def init_command(print_only: bool, uninstall: bool) -> int:
    """`docker cilo init [--print] [--uninstall]`: route *.<suffix> to cilo's dnsmasq."""
    from .. import config
    from ..dns import resolver

    plan = resolver.plan_init(config.dns_suffix(), config.dns_port(), uninstall=uninstall)
    if print_only:
        print(resolver.describe(plan, with_content=True))
        return 0
    print(resolver.describe(plan, with_content=False))
    resolver.check_plan(plan)
    if not plan.effective:
        print("nothing to change" if uninstall else "already set up: nothing to change")
        return 0
    if not resolver.is_fake_root(plan.root) and _needs_sudo():
        print("root rights are needed for the files and commands above only; asking sudo")
    result = resolver.apply_plan(plan)
    for line in result.done:
        print(line)
    for cmd in result.skipped:
        print(f"not run (CILO_ROOT is a fake root): {cmd}")
    return 0


def _needs_sudo() -> bool:
    return os.geteuid() != 0
