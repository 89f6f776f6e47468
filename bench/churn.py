"""Issue 14's target: 500 requests to one copy through cilo's router while 10 other
copies are created and destroyed, with 0 failures.

In router mode (CILO_REACH=router, the sandbox's own free loopback ports) the sandbox's
project gets a copy `alpha` whose web page (busybox httpd, `/index.html`) says `alpha`. Then, at the same time:

- one thread sends exactly REQUESTS GETs for web.alpha.test to the router on
  127.0.0.1 (a new connection each, REQUEST_TIMEOUT each, a pause between them chosen
  so that the requests span the churn), and checks every answer is 200 `alpha`;
- WORKERS threads run `docker cilo up cN` then `docker cilo destroy cN --force` for
  N = 1..CHURN_COPIES; every command must succeed. Each of them reconfigures the router.

Every failure is counted (non-200, wrong body, timeout, connection error, not sent in
time) and the first few are kept with the churn commands running at that moment. The
router's reloads are counted from its own log (Caddy's `load complete`). Only loopback
is ever contacted. Everything is bounded in count and time. At the end, even after a
failure, the copies are destroyed, and the router of the sandbox's home (label
cilo.router=true, cilo.home=<its id>) and its volumes are removed if still there.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from hyper import Stats
from report import Row, secs, verdict
from sandbox import BenchError, Sandbox, free_port, last_line

if TYPE_CHECKING:
    from measures import Plan

ROUTER_IMAGE = "cilo-test/caddy"
CADDY_BINARIES = (Path(__file__).resolve().parent.parent / ".venv" / "share" / "caddy" / "caddy",
                  Path(sys.prefix) / "share" / "caddy" / "caddy")  # unpacked by ./install.sh --dev
TARGET = "alpha"
BODY = "alpha"
REQUESTS = 500
CHURN_COPIES = 10
WORKERS = 2  # churn copies handled at the same time
REQUEST_TIMEOUT = 3.0  # seconds, per socket operation of one request
PAUSE_RANGE = (0.010, 0.100)  # seconds between requests: at least, at most
REQUEST_LIMIT = 150.0  # seconds for all the requests; the rest count as failures
COMMAND_TIMEOUT = 120.0  # seconds for one churn command
CHURN_LIMIT = 240.0  # seconds for the whole churn; later commands are not started
READY_LIMIT = 20.0  # seconds for alpha to answer through the router after `up`
KEPT_REASONS = 5


@dataclass(frozen=True)
class Answer:
    """One request: when it started (time.time()), how long it took, what went wrong."""

    start: float
    seconds: float
    problem: str | None  # None: 200 with the right body


@dataclass(frozen=True)
class Command:
    """One churn command and its outcome."""

    verb: str
    env: str
    start: float
    end: float
    code: int
    message: str

    @property
    def label(self) -> str:
        return f"{self.verb} {self.env}"


# ---------------------------------------------------------------- set-up

def ensure_router_image() -> None:
    """Build cilo's test router image (Debian's caddy binary, its libraries) when missing,
    as the tests' `router_image` fixture does; there is no registry."""
    if subprocess.run(["docker", "image", "inspect", ROUTER_IMAGE], capture_output=True).returncode == 0:
        return
    caddy = next((p for p in CADDY_BINARIES if p.is_file()), None)
    if caddy is None:
        raise BenchError(f"image {ROUTER_IMAGE} is missing and Debian's caddy binary is not in "
                         f"{CADDY_BINARIES[0]} to build it; run ./install.sh --dev")
    print(f"bench: building {ROUTER_IMAGE} from {caddy}", flush=True)
    ldd = subprocess.run(["ldd", str(caddy)], capture_output=True, text=True).stdout
    libs = [line.split("=>")[-1].split("(")[0].strip() for line in ldd.splitlines()]
    with tempfile.TemporaryDirectory() as tmp:
        ctx = Path(tmp)
        shutil.copy(caddy, ctx / "caddy")
        copies = []
        for n, lib in enumerate(p for p in libs if p.startswith("/")):
            shutil.copy(lib, ctx / f"lib{n}")
            copies.append(f"COPY lib{n} {lib}\n")
        (ctx / "Caddyfile").write_text("{\n\tadmin localhost:2019\n}\n")
        (ctx / "Dockerfile").write_text(
            "FROM scratch\nCOPY caddy /usr/bin/caddy\n" + "".join(copies)
            + "COPY Caddyfile /etc/caddy/Caddyfile\nENV HOME=/data XDG_DATA_HOME=/data XDG_CONFIG_HOME=/config\n"
            'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]\n')
        proc = subprocess.run(["docker", "build", "-q", "-t", ROUTER_IMAGE, tmp], capture_output=True,
                              text=True, env={**os.environ, "DOCKER_BUILDKIT": "0"})
    if proc.returncode != 0:
        raise BenchError(f"building {ROUTER_IMAGE} failed: {last_line(proc.stderr)}")


def router_env(box: Sandbox, http_port: int, https_port: int) -> dict[str, str]:
    """The sandbox's private environment in router mode, on the given loopback ports."""
    return {**box.env, "CILO_REACH": "router", "CILO_ROUTER_IMAGE": ROUTER_IMAGE,
            "CILO_ROUTER_HTTP_PORT": str(http_port), "CILO_ROUTER_HTTPS_PORT": str(https_port)}


def cilo(box: Sandbox, env: dict[str, str], *args: str, timeout: float = COMMAND_TIMEOUT
         ) -> subprocess.CompletedProcess[str]:
    """`docker cilo ARGS` in the sandbox's project folder with `env`; never raises on exit codes."""
    return subprocess.run(["docker", "cilo", *args], cwd=box.project, env=env, text=True,
                          capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)


def checked(proc: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    if proc.returncode != 0:
        raise BenchError(f"`{' '.join(proc.args)}` failed (exit {proc.returncode}): "
                         f"{last_line(proc.stderr or proc.stdout)}")
    return proc


def home_id(box: Sandbox) -> str:
    """The sandbox's cilo home id, which the router's `cilo.home` label carries."""
    return str(json.loads((box.home / "state.json").read_text())["home_id"])


def router_filter(home: str) -> list[str]:
    """docker's filter for the router's objects of this home (and of no other)."""
    return ["--filter", "label=cilo.router=true", "--filter", f"label=cilo.home={home}"]


def routers(home: str) -> list[str]:
    """Ids of the router containers of this home (there should be at most one)."""
    return subprocess.run(["docker", "ps", "-aq", *router_filter(home)],
                          capture_output=True, text=True).stdout.split()


# ---------------------------------------------------------------- requests

def get(port: int, host: str) -> tuple[int, str]:
    """GET / with `Host: host` from 127.0.0.1:port on a new connection: (status, body)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT)
    try:
        conn.request("GET", "/", headers={"Host": host, "Connection": "close"})
        resp = conn.getresponse()
        return resp.status, resp.read(4096).decode(errors="replace")
    finally:
        conn.close()


def ask(port: int, host: str) -> Answer:
    """One checked request: 200 with body BODY, or what went wrong instead."""
    start, t0 = time.time(), time.perf_counter()
    try:
        status, body = get(port, host)
        problem = None if status == 200 and body.strip() == BODY else f"HTTP {status} {body.strip()[:80]!r}"
    except TimeoutError:
        problem = f"timeout ({REQUEST_TIMEOUT:.0f} s)"
    except (OSError, http.client.HTTPException) as e:
        problem = f"{type(e).__name__}: {e}"
    return Answer(start, time.perf_counter() - t0, problem)


def wait_ready(port: int, host: str) -> float:
    """Seconds until `host` answers 200 BODY through the router (bounded by READY_LIMIT)."""
    t0 = time.perf_counter()
    last = ask(port, host)
    while last.problem and time.perf_counter() - t0 < READY_LIMIT:
        time.sleep(0.1)
        last = ask(port, host)
    if last.problem:
        raise BenchError(f"{host} does not answer {BODY!r} through the router on 127.0.0.1:{port} "
                         f"{READY_LIMIT:.0f} s after up: {last.problem}")
    return time.perf_counter() - t0


class Pacer:
    """Spreads the requests over the churn. After each request the pause is the churn's
    expected remaining time over the requests left, within PAUSE_RANGE: estimated from
    the churn commands finished so far (before the first one, from `first_guess`
    seconds for the whole churn), and 0 once the churn is over."""

    def __init__(self, commands: int, first_guess: float) -> None:
        self.commands = commands
        self.first_guess = first_guess
        self.start = time.perf_counter()
        self.finished = 0
        self.pauses: list[float] = []
        self._lock = threading.Lock()

    def begin(self) -> None:
        self.start = time.perf_counter()

    def command_done(self) -> None:
        with self._lock:
            self.finished += 1

    def pause(self, requests_left: int, latency: float) -> float:
        elapsed = time.perf_counter() - self.start
        with self._lock:
            done = self.finished
        if done >= self.commands:
            remaining = 0.0
        elif done == 0:
            remaining = max(0.0, self.first_guess - elapsed)
        else:
            remaining = elapsed / done * (self.commands - done)
        low, high = PAUSE_RANGE
        chosen = min(high, max(low, remaining / max(1, requests_left) - latency))
        self.pauses.append(chosen)
        return chosen


def send_requests(port: int, host: str, pacer: Pacer, stop: threading.Event, out: list[Answer]) -> None:
    """REQUESTS checked requests, paced by `pacer`, into `out`; unsent ones (time limit,
    stop) are recorded as failures so that `out` always ends with REQUESTS entries."""
    deadline = time.perf_counter() + REQUEST_LIMIT
    for n in range(REQUESTS):
        if stop.is_set() or time.perf_counter() > deadline:
            out.append(Answer(time.time(), 0.0, f"not sent: {REQUEST_LIMIT:.0f} s limit or stopped"))
            continue
        out.append(ask(port, host))
        if n < REQUESTS - 1:
            time.sleep(pacer.pause(REQUESTS - 1 - n, out[-1].seconds))


# ---------------------------------------------------------------- churn

def run_command(box: Sandbox, env: dict[str, str], verb: str, name: str) -> Command:
    start = time.time()
    args = ("up", name) if verb == "up" else ("destroy", name, "--force")
    try:
        proc = cilo(box, env, *args)
        code, message = proc.returncode, re.sub(r"\b[0-9a-f]{64}\b", "<id>", last_line(proc.stderr or proc.stdout))
    except subprocess.TimeoutExpired:
        code, message = -1, f"timed out after {COMMAND_TIMEOUT:.0f} s"
    return Command(verb, name, start, time.time(), code, message)


def churn_one(box: Sandbox, env: dict[str, str], name: str, deadline: float, stop: threading.Event,
              pacer: Pacer) -> list[Command]:
    """up NAME, then destroy NAME (the destroy even when the up failed: nothing is left)."""
    if stop.is_set() or time.time() > deadline:
        pacer.command_done()
        pacer.command_done()
        return [Command("up", name, time.time(), time.time(), -1, "not started: churn time limit or stopped")]
    done = []
    for verb in ("up", "destroy"):
        done.append(run_command(box, env, verb, name))
        pacer.command_done()
    return done


def churn(box: Sandbox, env: dict[str, str], names: list[str], stop: threading.Event, pacer: Pacer
          ) -> list[Command]:
    """Each name up then destroyed, WORKERS names at a time; the commands in start order."""
    deadline = time.time() + CHURN_LIMIT
    try:
        with ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="churn") as pool:
            done = list(pool.map(lambda n: churn_one(box, env, n, deadline, stop, pacer), names))
    except BaseException:
        stop.set()  # ^C or an error: start no further command, send no further request
        raise
    return sorted((c for cmds in done for c in cmds), key=lambda c: c.start)


def reloads(router: str, start: float, end: float) -> tuple[int, int]:
    """(configurations loaded, reloads that changed nothing) by the router in [start, end],
    from Caddy's JSON log (`load complete`, `config is unchanged`)."""
    proc = subprocess.run(["docker", "logs", router], capture_output=True, text=True)
    loaded = unchanged = 0
    for line in (proc.stdout + proc.stderr).splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if not isinstance(entry, dict) or not start <= float(entry.get("ts", 0)) <= end:
            continue
        loaded += entry.get("msg") == "load complete"
        unchanged += entry.get("msg") == "config is unchanged"
    return loaded, unchanged


# ---------------------------------------------------------------- report

def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) of a non-empty list, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def pause_range(pauses: list[float]) -> str:
    if not pauses:
        return "-"
    return (f"{min(pauses) * 1000:.0f}-{max(pauses) * 1000:.0f} ms "
            f"(median {statistics.median(pauses) * 1000:.0f} ms)")


def running_at(when: float, commands: list[Command]) -> str:
    active = [c.label for c in commands if c.start <= when <= c.end]
    return ", ".join(active) or "no churn command"


def failure_notes(answers: list[Answer], commands: list[Command], t0: float) -> list[str]:
    """The first KEPT_REASONS failures: when (from the churn's start), what, during what."""
    return [f"t={a.start - t0:+.2f} s: {a.problem} (during {running_at(a.start, commands)})"
            for a in answers if a.problem][:KEPT_REASONS]


def churn_bench(box: Sandbox, plan: Plan) -> list[Row]:
    """The benchmark: see the module's docstring. `plan` does not change it (--quick too)."""
    ensure_router_image()
    http_port, https_port = free_port(), free_port()
    env = router_env(box, http_port, https_port)
    host = f"web.{TARGET}.test"
    names = [f"c{i}" for i in range(1, CHURN_COPIES + 1)]
    stop = threading.Event()
    try:
        t_up = time.perf_counter()
        checked(cilo(box, env, "up", TARGET))
        up_seconds = time.perf_counter() - t_up
        checked(cilo(box, env, "exec", TARGET, "-T", "web", "sh", "-c", f"echo {BODY} > /index.html"))
        ready = wait_ready(http_port, host)
        found = routers(home_id(box))
        if len(found) != 1:
            raise BenchError(f"expected one router container for this home, found {len(found)}")
        # first guess of the churn's length: each command about as long as alpha's up
        pacer = Pacer(2 * CHURN_COPIES, 2 * CHURN_COPIES * up_seconds / WORKERS)
        print(f"bench: {host} answers through the router on 127.0.0.1:{http_port}; "
              f"{REQUESTS} requests while {CHURN_COPIES} copies churn, {WORKERS} at a time", flush=True)

        answers: list[Answer] = []
        sender = threading.Thread(target=send_requests, args=(http_port, host, pacer, stop, answers),
                                  name="requests", daemon=True)
        t0 = time.time()
        pacer.begin()
        sender.start()
        commands = churn(box, env, names, stop, pacer)
        t_churn = time.time()
        sender.join(REQUEST_LIMIT + REQUEST_TIMEOUT * 3)
        if sender.is_alive():
            raise BenchError("the request loop did not finish within its time limit")
        t_requests = answers[-1].start + answers[-1].seconds
        loaded, unchanged = reloads(found[0], t0, t_churn)
        alive = routers(home_id(box))
    finally:
        stop.set()
        clean_up(box, env)
    return rows(answers, commands, t0=t0, churn_end=t_churn, requests_end=t_requests, pauses=pacer.pauses,
                ready=ready, loaded=loaded, unchanged=unchanged, same_router=alive == found)


def clean_up(box: Sandbox, env: dict[str, str]) -> None:
    """Destroy this benchmark's copies; the router goes with the last of them. A router of
    this home still there after that is removed, and said so; then the router's volumes
    (its CA, kept across routers by design), which carry the router's labels."""
    cilo(box, env, "destroy", "--all", "--force", timeout=COMMAND_TIMEOUT * 2)
    try:
        home = home_id(box)
    except (OSError, ValueError, KeyError):
        return  # no state: no copy was ever made, so no router either
    left = routers(home)
    if left:
        print(f"bench: cilo's router {' '.join(left)} was left after destroy --all; removing it", flush=True)
        subprocess.run(["docker", "rm", "-f", *left], capture_output=True)
    volumes = subprocess.run(["docker", "volume", "ls", "-q", *router_filter(home)],
                             capture_output=True, text=True).stdout.split()
    if volumes:
        subprocess.run(["docker", "volume", "rm", *volumes], capture_output=True)


def rows(answers: list[Answer], commands: list[Command], *, t0: float, churn_end: float,
         requests_end: float, pauses: list[float], ready: float, loaded: int, unchanged: int,
         same_router: bool) -> list[Row]:
    failures = [a for a in answers if a.problem]
    failed_cmds = [c for c in commands if c.code != 0]
    ok = not failures and not failed_cmds and len(commands) == 2 * CHURN_COPIES
    latencies = [a.seconds for a in answers if not a.problem] or [0.0]
    during = sum(1 for a in answers if t0 <= a.start <= churn_end)
    p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
    notes = [f"{len(answers) - len(failures)}/{len(answers)} answered 200 {BODY!r}",
             f"{during} of them sent while the churn ran; requests over {requests_end - t0:.1f} s "
             f"(churn {churn_end - t0:.1f} s), paused {pause_range(pauses)} apart",
             f"churn commands: {len(commands) - len(failed_cmds)}/{len(commands)} succeeded"]
    notes += [f"{c.label} failed (exit {c.code}) at t={c.start - t0:+.2f} s: {c.message[:240]}"
              for c in failed_cmds[:KEPT_REASONS]]
    notes += failure_notes(answers, commands, t0)
    if not same_router:
        notes.append("the router container changed during the churn (it was recreated)")
    ups = [c.end - c.start for c in commands if c.verb == "up" and c.code == 0]
    destroys = [c.end - c.start for c in commands if c.verb == "destroy" and c.code == 0]
    raw = [Stats.of(f"GET web.{TARGET}.test through the router, during churn", "", latencies, "python wall clock")]
    raw += [Stats.of(f"docker cilo {verb} cN (router mode, {WORKERS} at a time)", "", times, "python wall clock")
            for verb, times in (("up", ups), ("destroy", destroys)) if times]
    what = (f"{REQUESTS} GETs to one copy through cilo's router while {CHURN_COPIES} other copies "
            "are created and destroyed (failures)")
    commands_text = [
        f"router mode (`CILO_REACH=router`, `CILO_ROUTER_IMAGE={ROUTER_IMAGE}`, free loopback HTTP/HTTPS "
        f"ports); `docker cilo up {TARGET}`, `docker cilo exec {TARGET} -T web sh -c 'echo {BODY} > "
        f"/index.html'`, then waited until it answers through the router ({ready:.2f} s)",
        f"one thread: {REQUESTS} x python http.client GET / with `Host: web.{TARGET}.test` to "
        f"127.0.0.1:<router HTTP port>, a new connection each, {REQUEST_TIMEOUT:.0f} s timeout, "
        f"paused so that they span the churn (its expected remaining time over the requests left, "
        f"within {PAUSE_RANGE[0] * 1000:.0f}-{PAUSE_RANGE[1] * 1000:.0f} ms); each must be 200 with body `{BODY}`",
        f"at the same time, {WORKERS} threads: `docker cilo up cN` then `docker cilo destroy cN --force`, "
        f"N = 1..{CHURN_COPIES}; router reloads counted from its log (Caddy's `load complete` in the "
        "churn window)",
    ]
    value = f"{len(failures)} of {len(answers)}"
    if failed_cmds:
        value += f"; {len(failed_cmds)} of {len(commands)} churn commands failed"
    return [
        Row("churn", what, value, "-", None, "0 failures", verdict(ok),
            "; ".join(notes), raw=raw, commands=commands_text),
        Row("churn", "request latency through the router during that churn (p50)", ms(p50),
            note=f"p99 {ms(p99)}, max {ms(max(latencies))}, over {len(latencies)} answered requests"),
        Row("churn", f"that churn: {CHURN_COPIES} copies up + destroy, {WORKERS} at a time (wall)",
            secs(churn_end - t0),
            note=f"router reloads meanwhile: {loaded - unchanged} with a new configuration "
                 f"(+{unchanged} unchanged); up median {secs(statistics.median(ups)) if ups else '-'}, "
                 f"destroy median {secs(statistics.median(destroys)) if destroys else '-'}"),
    ]
