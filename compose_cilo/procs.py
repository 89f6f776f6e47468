"""Running a child process attached to the terminal: `exec`, `compose`, `logs` and `run`.

The CLI only translates arguments; starting a process is core work, kept here so the
command layer never imports subprocess.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Mapping, Sequence

from .errors import CiloError


def run_attached(argv: Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: str | None = None) -> int:
    """Run argv with this process's stdin, stdout and stderr; its exit status.

    cilo's own output is flushed first so it never lands after the child's. ^C goes to
    the child too (same process group); cilo then exits 130 as a shell would.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        return subprocess.call(list(argv), env=env, cwd=cwd)
    except FileNotFoundError:
        raise CiloError(f"command {argv[0]} not found; check the command name and PATH") from None
    except KeyboardInterrupt:
        return 130
