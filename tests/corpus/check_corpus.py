#!/usr/bin/env python3
"""Check the compose test corpus: every entry of corpus.json must pass
`docker compose <args> --profile '*' config --format json` from its folder.

Stdlib only. Usage: python3 tests/corpus/check_corpus.py [SLUG...]
Prints slug / ok / services / networks / volumes; exit status 1 if any entry fails.
"""
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def check(entry):
    folder = os.path.join(HERE, entry["dir"])
    env = dict(os.environ)
    # a caller's COMPOSE_* settings must not leak into the corpus projects
    for key in list(env):
        if key.startswith("COMPOSE_"):
            del env[key]
    env.update(entry.get("env") or {})
    cmd = ["docker", "compose", *entry.get("args", []), "--profile", "*", "config", "--format", "json"]
    try:
        proc = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc), None
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if "level=warning" not in ln]
        return False, (lines[-1] if lines else f"exit {proc.returncode}"), None
    try:
        cfg = json.loads(proc.stdout)
    except ValueError as exc:
        return False, f"invalid JSON from compose config: {exc}", None
    return True, "", cfg


def main(argv):
    with open(os.path.join(HERE, "corpus.json")) as fh:
        entries = json.load(fh)
    if argv:
        entries = [e for e in entries if e["slug"] in argv]
    width = max([len(e["slug"]) for e in entries] + [4])
    print(f"{'slug':<{width}}  ok    services  networks  volumes")
    failed = 0
    for entry in entries:
        ok, err, cfg = check(entry)
        if ok:
            n = {key: len(cfg.get(key) or {}) for key in ("services", "networks", "volumes")}
            print(f"{entry['slug']:<{width}}  ok    {n['services']:>8}  {n['networks']:>8}  {n['volumes']:>7}")
        else:
            failed += 1
            print(f"{entry['slug']:<{width}}  FAIL  {err}")
    print(f"\n{len(entries) - failed}/{len(entries)} ok")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
