"""compose-cilo's benchmark suite (issue 7): `bench/run [--quick] [--only NAME]`.

Measures cilo beside the tool it wraps, in the same run, in a private sandbox (its own
CILO_HOME, DNS port and project), prints a table with ratios and targets, and writes
bench/RESULTS.md. Benchmarks are not tests: a missed target is reported, not failed;
the exit status is 1 only when a benchmark could not run.
"""

from __future__ import annotations

import argparse
import datetime
import shlex
import signal
import subprocess
import sys
from pathlib import Path

import measures
import report
from report import Row
from sandbox import BenchError, Sandbox, preflight

HERE = Path(__file__).resolve().parent
DEFAULT_OUTPUT = HERE / "RESULTS.md"


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="bench/run", description=__doc__.split("\n\n")[1],
        epilog="benchmarks: " + "; ".join(f"{k}: {v}" for k, v in measures.TITLES.items()))
    p.add_argument("--quick", action="store_true", help="fewer runs (a few minutes instead of ~10)")
    p.add_argument("--only", action="append", metavar="NAME", default=[],
                   help="run only these benchmarks (repeatable or comma-separated): "
                        + ", ".join(measures.BENCHES))
    p.add_argument("--output", type=Path, default=None,
                   help=f"results file (default {DEFAULT_OUTPUT.relative_to(HERE.parent)}; "
                        "with --only, nothing is written unless --output is given)")
    p.add_argument("--no-write", action="store_true", help="print the table only")
    args = p.parse_args(argv)
    args.only = [n.strip() for item in args.only for n in item.split(",") if n.strip()]
    unknown = sorted(set(args.only) - set(measures.BENCHES))
    if unknown:
        p.error(f"unknown benchmark {', '.join(unknown)}; choose from {', '.join(measures.BENCHES)}")
    return args


def run_all(names: list[str], plan: measures.Plan) -> list[Row]:
    rows: list[Row] = []
    with Sandbox() as box:
        print(f"bench: sandbox {box.root} (CILO_HOME {box.home}, DNS port {box.dns_port}, "
              f"project {box.project_name})", flush=True)
        for name in names:
            print(f"\n== {name}: {measures.TITLES[name]}", flush=True)
            try:
                rows += measures.BENCHES[name](box, plan)
            except (BenchError, OSError, ValueError, KeyError,
                    subprocess.TimeoutExpired) as e:
                print(f"bench: {name} failed: {e}", flush=True)
                rows.append(Row(name, measures.TITLES[name], verdict="ERROR", note=str(e)))
            finally:
                # every benchmark starts from an empty project (not timed)
                box.cilo("destroy", "--all", "--force", check=False)
    return rows


def main(argv: list[str]) -> int:
    args = parse(argv)
    names = [n for n in measures.BENCHES if not args.only or n in args.only]
    plan = measures.QUICK if args.quick else measures.FULL
    started = datetime.datetime.now().astimezone()
    try:
        preflight()
        mach = report.machine()
        rows = run_all(names, plan)
        mach.append(("load average (1, 5, 15 min) at end", report.load_average()))
    except BenchError as e:
        print(f"bench: {e}", file=sys.stderr)
        return 1
    print()
    report.print_table(rows)
    output = args.output or (None if args.only else DEFAULT_OUTPUT)
    if output and not args.no_write:
        invocation = shlex.join(["bench/run", *argv])
        mode = "quick: fewer runs" if args.quick else "full"
        report.write(output, lambda analysis: report.render(
            rows, mach, invocation=invocation, mode=mode, started=started, analysis=analysis))
        print(f"\nbench: wrote {output}")
    return 1 if any(r.verdict == "ERROR" for r in rows) else 0


def _terminated(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the sandbox's cleanup


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _terminated)
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("bench: interrupted (the sandbox was cleaned up)", file=sys.stderr)
        sys.exit(130)
