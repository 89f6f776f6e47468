"""hyperfine, run side by side: both commands in one invocation, medians from its JSON."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sandbox import BenchError, Sandbox, last_line


@dataclass(frozen=True)
class Stats:
    """One measured command, in seconds."""

    name: str
    command: str
    median: float
    mean: float
    stddev: float
    low: float
    high: float
    runs: int
    source: str = "hyperfine"
    user: float | None = None  # mean CPU seconds of the command and its children
    system: float | None = None

    @classmethod
    def of(cls, name: str, command: str, times: list[float], source: str,
           user: float | None = None, system: float | None = None) -> Stats:
        return cls(name, command, statistics.median(times), statistics.fmean(times),
                   statistics.stdev(times) if len(times) > 1 else 0.0,
                   min(times), max(times), len(times), source, user, system)


def compare(box: Sandbox, commands: list[tuple[str, str]], *, runs: int, warmup: int,
            rounds: int = 2) -> list[Stats]:
    """Time each (name, shell command) with hyperfine in the sandbox's project folder.

    hyperfine runs all of one command, then all of the next; on a busy machine a load
    change between the two would decide the ratio. So the runs are split into `rounds`
    invocations with the order reversed each time, and the times pooled. The warm-up
    runs happen in the first round only.
    """
    times: dict[str, list[float]] = {name: [] for name, _ in commands}
    cpu: dict[str, list[tuple[float, float, int]]] = {name: [] for name, _ in commands}
    per_round = max(1, -(-runs // rounds))
    for r in range(rounds):
        order = commands if r % 2 == 0 else commands[::-1]
        for result in _hyperfine(box, order, runs=per_round, warmup=warmup if r == 0 else 0):
            name = result["command"]
            times[name] += result["times"]
            cpu[name].append((result.get("user") or 0.0, result.get("system") or 0.0,
                              len(result["times"])))
    return [Stats.of(name, command, times[name], "hyperfine", *_cpu_means(cpu[name]))
            for name, command in commands]


def _cpu_means(parts: list[tuple[float, float, int]]) -> tuple[float, float]:
    n = sum(k for _, _, k in parts)
    return sum(u * k for u, _, k in parts) / n, sum(s * k for _, s, k in parts) / n


def _hyperfine(box: Sandbox, commands: list[tuple[str, str]], *, runs: int, warmup: int
               ) -> list[dict]:
    fd, out = tempfile.mkstemp(prefix="hyperfine-", suffix=".json")
    os.close(fd)
    argv = ["hyperfine", "--style", "basic", "--export-json", out,
            "--runs", str(runs), "--warmup", str(warmup)]
    for name, command in commands:
        argv += ["--command-name", name, command]
    try:
        proc = subprocess.run(argv, cwd=box.project, env=box.env, text=True,
                              stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        if proc.returncode != 0:
            raise BenchError(f"hyperfine failed (exit {proc.returncode}): "
                             f"{last_line(proc.stderr)}; {why_failed(box, commands)}")
        return json.loads(Path(out).read_text())["results"]
    finally:
        os.unlink(out)


def why_failed(box: Sandbox, commands: list[tuple[str, str]]) -> str:
    """hyperfine hides the commands' output: run each once more to show the error."""
    for name, command in commands:
        proc = box.run("sh", "-c", command, check=False)
        if proc.returncode != 0:
            return f"{name} exits {proc.returncode}: {last_line(proc.stderr or proc.stdout)}"
    return "each command succeeded when run once more"
