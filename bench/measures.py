"""The benchmarks of issue 7. Each takes the sandbox and the run plan and returns rows.

Targets (medians of the same run): `list` <= 1.0x `docker compose ls`; `up` + `destroy`
<= 1.05x compose's own `up -d` + `down`; 100 concurrent creates under 10 s; a name
resolves on the first query after `up` returns. The others are reported, not judged.
Issue 14's `churn` (churn.py): 500 requests through cilo's router while 10 other copies
are created and destroyed, 0 failures.
"""

from __future__ import annotations

import json
import resource
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass

import churn
import dnsprobe
import hyper
from hyper import Stats
from report import Row, secs, verdict
from sandbox import CALL_TIMEOUT, BenchError, Sandbox, last_line

LIST_ENVS = 20
CONCURRENT = 100
CREATES_TARGET = 10.0  # seconds
LIST_TARGET = 1.0
CYCLE_TARGET = 1.05


@dataclass(frozen=True)
class Plan:
    """How many runs each kind of measurement gets (--quick: fewer)."""

    fast_runs: int  # sub-second commands
    fast_warmup: int
    fast_rounds: int  # hyperfine invocations the runs are split into, order alternating
    cycle_runs: int  # up + destroy cycles, alternating with compose's cycle one by one
    resolve_reps: int
    dns_seconds: float
    dns_outstanding: int = 20


FULL = Plan(fast_runs=30, fast_warmup=3, fast_rounds=6, cycle_runs=10, resolve_reps=10,
            dns_seconds=3.0)
QUICK = Plan(fast_runs=8, fast_warmup=1, fast_rounds=2, cycle_runs=4, resolve_reps=3,
             dns_seconds=3.0)


def version(box: Sandbox, plan: Plan) -> list[Row]:
    cmds = [("docker cilo --version", "docker cilo --version"),
            ("docker compose version", "docker compose version")]
    cilo, compose = hyper.compare(box, cmds, runs=plan.fast_runs, warmup=plan.fast_warmup,
                                  rounds=plan.fast_rounds)
    return [Row("version", "`docker cilo --version` vs `docker compose version`",
                secs(cilo.median), secs(compose.median), cilo.median / compose.median,
                raw=[cilo, compose], commands=[f"`{c}`" for _, c in cmds])]


def list_envs(box: Sandbox, plan: Plan) -> list[Row]:
    creates = []
    for i in range(1, LIST_ENVS + 1):  # create starts nothing: network + state entry only
        start = time.perf_counter()
        box.cilo("create", box.name(f"e{i}"))
        creates.append(time.perf_counter() - start)
    one = Stats.of("docker cilo create (one at a time)", "docker cilo create eN",
                   creates, "python wall clock")
    shown = json.loads(box.cilo("list", "--json").stdout)
    if len(shown) != LIST_ENVS:
        raise BenchError(f"docker cilo list --json shows {len(shown)} environments, expected {LIST_ENVS}")
    cmds = [("docker cilo list", "docker cilo list"), ("docker compose ls", "docker compose ls")]
    cilo, compose = hyper.compare(box, cmds, runs=plan.fast_runs, warmup=plan.fast_warmup,
                                  rounds=plan.fast_rounds)
    ratio = cilo.median / compose.median
    return [Row("list", f"`docker cilo list` ({LIST_ENVS} environments) vs `docker compose ls`",
                secs(cilo.median), secs(compose.median), ratio, f"<= {LIST_TARGET:.2f}x",
                verdict(ratio <= LIST_TARGET), raw=[cilo, compose],
                commands=[f"`docker cilo list` in the project folder, {LIST_ENVS} environments "
                          "created (`docker cilo create eN-<id>`, not started)",
                          "`docker compose ls` (running compose projects of the whole engine)"]),
            Row("list", f"`docker cilo create`, one at a time ({LIST_ENVS} of them, for `list`)",
                secs(one.median), note=f"min {secs(one.low)}, max {secs(one.high)}", raw=[one],
                commands=["`docker cilo create eN-<id>` in the project folder, timed in Python "
                          "(includes the process start)"])]


def up_destroy(box: Sandbox, plan: Plan) -> list[Row]:
    # $$ is the pid of hyperfine's `sh -c`: a new environment name for every run.
    cilo_cmd = f'n=u$$-{box.uid}; docker cilo up "$n" && docker cilo destroy "$n"'
    compose_cmd = ("docker compose up -d --remove-orphans && "
                   "docker compose down -v --remove-orphans -t 10")
    cmds = [("docker cilo up + destroy", cilo_cmd), ("docker compose up -d + down", compose_cmd)]
    cilo, compose = hyper.compare(box, cmds, runs=plan.cycle_runs, warmup=1,
                                  rounds=plan.cycle_runs)
    ratio = cilo.median / compose.median
    return [Row("up", "cold `up` + `destroy`, 3 services, vs `docker compose up -d` + `down`",
                secs(cilo.median), secs(compose.median), ratio, f"<= {CYCLE_TARGET:.2f}x",
                verdict(ratio <= CYCLE_TARGET), raw=[cilo, compose],
                commands=[f"`{cilo_cmd}` (a new environment each run; cilo's destroy runs "
                          "`compose down` with volumes, --remove-orphans, timeout 10 s)",
                          f"`{compose_cmd}`",
                          "both in the temp project folder; every service has `init: true`, so "
                          "stop is immediate for both; one warm-up run of each first (it also "
                          "starts cilo's dnsmasq, which later runs find running), then the two "
                          "cycles alternate run by run"])]


def concurrent_creates(box: Sandbox, plan: Plan) -> list[Row]:
    names = [box.name(f"c{i}") for i in range(1, CONCURRENT + 1)]
    logs = box.root / "create-logs"
    logs.mkdir(exist_ok=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for name in names:
            with open(logs / f"{name}.log", "w") as log:
                procs.append(subprocess.Popen(["docker", "cilo", "create", name], cwd=box.project,
                                              env=box.env, stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL))
        codes = [p.wait(timeout=CALL_TIMEOUT) for p in procs]
    finally:
        for p in procs:  # only after an error or ^C: never leave our creates running
            if p.poll() is None:
                p.kill()
                p.wait()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

    failed = [(n, c) for n, c in zip(names, codes, strict=True) if c != 0]
    listed = {r["name"]: r["subnet"] for r in json.loads(box.cilo("list", "--all", "--json").stdout)
              if r["project"] == box.project_name and r["name"] in names}
    subnets = set(listed.values())
    notes = [f"{CONCURRENT - len(failed)}/{CONCURRENT} succeeded",
             f"{len(subnets)} distinct subnets among {len(listed)} listed",
             f"CPU (user+sys, all children) {cpu:.1f} s = {cpu / CONCURRENT * 1000:.0f} ms per create"]
    if failed:
        name, code = failed[0]
        first = last_line((logs / f"{name}.log").read_text())
        notes.append(f"first failure: {name} exit {code}: {first}")
    ok = not failed and len(subnets) == CONCURRENT and len(listed) == CONCURRENT
    box.cilo("destroy", "--all", "--force")  # not timed
    return [Row("creates", f"{CONCURRENT} concurrent `docker cilo create` (wall time)",
                secs(wall), "-", None, f"< {CREATES_TARGET:.0f} s, all distinct subnets",
                verdict(ok and wall < CREATES_TARGET), "; ".join(notes),
                raw=[Stats.of(f"{CONCURRENT} x docker cilo create (concurrent, wall)",
                              "docker cilo create cN", [wall], "python wall clock")],
                commands=[f"{CONCURRENT} processes `docker cilo create cN-<id>` started at once "
                          "(subprocess.Popen) in the project folder; wall time until the last "
                          "exits; then `docker cilo list --all --json` checks names and subnets"])]


def up_to_resolve(box: Sandbox, plan: Plan) -> list[Row]:
    waits, rtts, first_ok = [], [], 0
    problems = []
    for i in range(1, plan.resolve_reps + 1):
        env = box.name(f"r{i}")
        box.cilo("up", env)
        got = dnsprobe.time_to_resolve(box.dns_port, f"web.{env}.test")  # right after up returned
        want = json.loads(box.cilo("status", env, "--json").stdout)["services"]["web"]["ip"]
        waits.append(got.wait_ms)
        rtts.append(got.first_rtt_ms)
        if got.attempts == 1 and got.answer == [want]:
            first_ok += 1
        elif got.answer != [want]:
            problems.append(f"web.{env}.test answered {got.answer or 'nothing'}, expected {want}")
        box.cilo("destroy", env)
    reps = plan.resolve_reps
    note = (f"first query answered with web's address {first_ok}/{reps}; "
            f"first query round trip median {statistics.median(rtts):.2f} ms")
    if problems:
        note += "; " + problems[0]
    return [Row("resolve", "`up` returns -> `web.ENV.test` resolves (wait)",
                f"{statistics.median(waits):.1f} ms", "-", None, "0 ms (first query answers)",
                verdict(first_ok == reps), note,
                raw=[Stats.of("wait from up returning to web.ENV.test answering", "",
                              [w / 1000 for w in waits], "python UDP query")],
                commands=[f"`docker cilo up rN-<id>`, then at once an A query for web.rN-<id>.test "
                          f"to 127.0.0.1:<CILO_DNS_PORT> (python UDP, 0.5 s timeout, repeated until "
                          f"answered); {reps} times"])]


def dns_rate(box: Sandbox, plan: Plan) -> list[Row]:
    env = box.name("q")
    box.cilo("up", env)
    name = f"web.{env}.test"
    want = json.loads(box.cilo("status", env, "--json").stdout)["services"]["web"]["ip"]
    if dnsprobe.query_a(box.dns_port, name) != [want]:
        raise BenchError(f"{name} does not resolve to {want} on 127.0.0.1:{box.dns_port}")
    loads: list[Callable[..., dnsprobe.Load | None]] = [dnsprobe.python_load, dnsprobe.dnsperf_load]
    rows = []
    for load in loads:
        got = load(box.dns_port, name, plan.dns_seconds, plan.dns_outstanding)
        if got is None:
            continue
        rows.append(Row("dns", f"DNS answers per second, cilo's dnsmasq on loopback ({got.tool})",
                        f"{got.per_second:,.0f}/s", "-", None, "-", "info",
                        f"{got.answered:,} answered of {got.sent:,} sent in {got.seconds:.1f} s, "
                        f"{got.lost} lost, {got.unfinished} in flight at the end, "
                        f"{got.outstanding} outstanding",
                        commands=[f"{got.tool}: A queries for {name} to 127.0.0.1:<CILO_DNS_PORT>, "
                                  f"{got.outstanding} outstanding, {plan.dns_seconds:.0f} s; "
                                  "answers with an A record counted (no upstream: "
                                  "CILO_DNS_UPSTREAMS=\"\")"]))
    box.cilo("destroy", env)
    return rows


BENCHES: dict[str, Callable[[Sandbox, Plan], list[Row]]] = {
    "version": version,
    "list": list_envs,
    "up": up_destroy,
    "creates": concurrent_creates,
    "resolve": up_to_resolve,
    "dns": dns_rate,
    "churn": churn.churn_bench,  # last: it switches the sandbox's home to router mode
}
TITLES = {
    "version": "docker cilo --version vs docker compose version",
    "list": f"docker cilo list ({LIST_ENVS} environments) vs docker compose ls",
    "up": "cold up + destroy vs docker compose up -d + down",
    "creates": f"{CONCURRENT} concurrent creates",
    "resolve": "time from up returning to the name resolving",
    "dns": "DNS answers per second on loopback",
    "churn": f"{churn.REQUESTS} requests through cilo's router while {churn.CHURN_COPIES} copies churn",
}
