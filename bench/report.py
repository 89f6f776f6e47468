"""Results: rows with verdicts, the printed table, the machine, and bench/RESULTS.md.

RESULTS.md is rewritten on every run except its "## Analysis" section, which people
write: it is always the last section, and everything from that header to the end of
the file is carried over as is.
"""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from hyper import Stats

ANALYSIS = "## Analysis"
ANALYSIS_PLACEHOLDER = "(to be written)"


@dataclass
class Row:
    """One line of the results table."""

    bench: str  # the --only name
    what: str
    value: str = "-"
    baseline: str = "-"
    ratio: float | None = None
    target: str = "-"
    verdict: str = "info"  # PASS, MISS, info or ERROR
    note: str = ""
    raw: list[Stats] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def secs(s: float) -> str:
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def table(rows: list[Row]) -> list[list[str]]:
    head = ["benchmark", "cilo (median)", "baseline (median)", "ratio", "target", "result"]
    body = [[r.what, r.value, r.baseline, f"{r.ratio:.2f}x" if r.ratio is not None else "-",
             r.target, r.verdict] for r in rows]
    return [head, *body]


def print_table(rows: list[Row]) -> None:
    cells = table(rows)
    widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]
    for n, line in enumerate(cells):
        print("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if n == 0:
            print("  ".join("-" * w for w in widths))
    for r in rows:
        if r.note:
            print(f"  {r.what}: {r.note}")


def markdown_table(head: list[str], body: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(c.replace("|", "\\|") for c in line) + " |" for line in body]
    return "\n".join(lines)


# ---------------------------------------------------------------- machine

def _out(argv: list[str]) -> str:
    if not shutil.which(argv[0]):
        return "not installed"
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unknown ({e})"
    text = (proc.stdout or proc.stderr).strip()
    return text.splitlines()[0] if text else "unknown"


def _file_value(path: str, pattern: str) -> str:
    try:
        m = re.search(pattern, Path(path).read_text(), re.M)
    except OSError:
        return "unknown"
    return m.group(1).strip() if m else "unknown"


def machine() -> list[tuple[str, str]]:
    """What the numbers depend on: hardware, kernel, engine and tool versions."""
    mem_kb = _file_value("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    memory = f"{int(mem_kb) / 1024 / 1024:.1f} GiB" if mem_kb.isdigit() else mem_kb
    dnsmasq = shutil.which("dnsmasq") or "/usr/sbin/dnsmasq"
    root = Path(__file__).resolve().parent.parent
    commit = _out(["git", "-C", str(root), "rev-parse", "--short", "HEAD"])
    dirty = _out(["git", "-C", str(root), "status", "--porcelain", "--", "compose_cilo"])
    return [
        ("CPU", _file_value("/proc/cpuinfo", r"^model name\s*:\s*(.+)")),
        ("nproc", _out(["nproc"])),
        ("memory", memory),
        ("kernel", " ".join(platform.uname()[i] for i in (0, 2, 4))),
        ("OS", _file_value("/etc/os-release", r'^PRETTY_NAME="?([^"\n]+)')),
        ("load average (1, 5, 15 min) at start", load_average()),
        ("docker engine", _out(["docker", "version", "--format", "{{.Server.Version}} (API {{.Server.APIVersion}})"])),
        ("docker CLI", _out(["docker", "version", "--format", "{{.Client.Version}}"])),
        ("docker compose", _out(["docker", "compose", "version", "--short"])),
        ("docker cilo", _out(["docker", "cilo", "--version"])),
        ("compose-cilo checkout", commit + (" (compose_cilo/ has uncommitted changes)"
                                            if dirty not in ("", "unknown") else "")),
        ("python", f"{platform.python_version()} ({sys.executable})"),
        ("dnsmasq", _out([dnsmasq, "--version"]) if os.access(dnsmasq, os.X_OK) else "not installed"),
        ("hyperfine", _out(["hyperfine", "--version"])),
        ("dnsperf", _dnsperf_version()),
    ]


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def _dnsperf_version() -> str:
    if not shutil.which("dnsperf"):
        return "not installed (the python client measures DNS alone)"
    proc = subprocess.run(["dnsperf", "-h"], capture_output=True, text=True)
    m = re.search(r"Version\s+(\S+)", proc.stdout + proc.stderr)
    return f"dnsperf {m.group(1)}" if m else "installed"


# ---------------------------------------------------------------- RESULTS.md

def existing_analysis(path: Path) -> str:
    """The body of the "## Analysis" section of an earlier RESULTS.md (or the placeholder)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return ANALYSIS_PLACEHOLDER
    m = re.search(rf"^{re.escape(ANALYSIS)}[ \t]*$(.*)", text, re.M | re.S)
    body = m.group(1).strip("\n") if m else ""
    return body or ANALYSIS_PLACEHOLDER


def render(rows: list[Row], mach: list[tuple[str, str]], *, invocation: str, mode: str,
           started: datetime.datetime, analysis: str) -> str:
    raw = [s for r in rows for s in r.raw]
    parts = [
        "# compose-cilo benchmark results",
        "",
        f"Generated by `{invocation}` ({mode}) on {started:%Y-%m-%d %H:%M %Z}. "
        "Regenerate with `bench/run` (see bench/README.md). Everything except the "
        f"\"{ANALYSIS[3:]}\" section is rewritten on each run; that section is kept.",
        "",
        "## Machine",
        "",
        *[f"- {k}: {v}" for k, v in mach],
        "",
        "## Results",
        "",
        "Medians of the same run; ratio = cilo / baseline (lower is better for times). "
        "Each comparison is split into several hyperfine invocations, in alternating order "
        "(the up cycles alternate run by run), and the times pooled.",
        "",
        markdown_table(table(rows)[0], table(rows)[1:]),
        "",
        *[f"- {r.what}: {r.note}" for r in rows if r.note],
        "",
        "## Commands measured",
        "",
        *[f"- {r.what}:\n" + "\n".join(f"  - {c}" for c in r.commands) for r in rows if r.commands],
        "",
        "## Raw medians",
        "",
        "Seconds. hyperfine subtracts its own shell start-up and reports the CPU time of the "
        "command and its children; the rest are wall clock in Python.",
        "",
        markdown_table(["command", "tool", "runs", "median", "mean", "stddev", "min", "max",
                        "user CPU (mean)", "system CPU (mean)"],
                       [[f"`{s.name}`", s.source, str(s.runs), f"{s.median:.4f}", f"{s.mean:.4f}",
                         f"{s.stddev:.4f}", f"{s.low:.4f}", f"{s.high:.4f}", _opt(s.user),
                         _opt(s.system)] for s in raw]),
        "",
        ANALYSIS,
        "",
        analysis,
        "",
    ]
    return "\n".join(parts)


def _opt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4f}"


def write(path: Path, render_text: Callable[[str], str]) -> None:
    """Rewrite path, keeping its Analysis section; atomic so a crash never loses it."""
    text = render_text(existing_analysis(path))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
