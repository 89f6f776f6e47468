"""A stand-in for the `docker compose` process in unit tests: FakeEngine.compose_argv
points here, so a compose command cilo runs in a unit test never reaches a real engine.

It appends its arguments (one JSON list a line) to the file FAKE_COMPOSE_LOG names, if
set, and exits with FAKE_COMPOSE_EXIT (default 0).
"""

import json
import os
import sys

if log := os.environ.get("FAKE_COMPOSE_LOG"):
    with open(log, "a") as f:
        f.write(json.dumps(sys.argv[1:]) + "\n")
sys.exit(int(os.environ.get("FAKE_COMPOSE_EXIT", "0")))
