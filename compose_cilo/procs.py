"""Running a child process attached to the terminal: compose's commands against a copy,
and `with`'s host command.

The CLI only translates arguments; starting a process is core work, kept here so the
command layer never imports subprocess.

While the child runs, cilo behaves as a shell does for its foreground job: a ^C or ^\\
from the terminal reaches the child itself (same process group) and cilo waits for it
to finish, so compose's attached `up` stops its containers gracefully; a SIGTERM or
SIGHUP sent to cilo is passed on to the child. The exit status is the child's, 128+N
when signal N ended it.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager

from .errors import CiloError

WATCH_SECONDS = 1.0  # how often `every` runs while the child does


def run_attached(argv: Sequence[str], env: Mapping[str, str] | None = None,
                 cwd: str | None = None, every: Callable[[], None] | None = None) -> int:
    """Run argv with this process's stdin, stdout and stderr; its exit status.

    cilo's own output is flushed first so it never lands after the child's. `every`, if
    given, runs about once a second while the child does (cilo recording a copy that an
    attached `up` is starting).
    """
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        child = subprocess.Popen(list(argv), env=env, cwd=cwd)
    except FileNotFoundError:
        raise CiloError(f"command {argv[0]} not found; check the command name and PATH") from None
    except ValueError:  # a NUL byte: no process can take it as an argument
        raise CiloError("an argument or variable holds a NUL byte, which no command can take; remove it") from None
    with _foreground(child):
        while True:
            try:
                code = child.wait(timeout=WATCH_SECONDS if every else None)
                break
            except subprocess.TimeoutExpired:
                if every:
                    every()
    return 128 - code if code < 0 else code


@contextmanager
def _foreground(child: subprocess.Popen[bytes]) -> Iterator[None]:
    """While `child` runs: terminal signals are the child's alone, SIGTERM and SIGHUP are
    passed on to it. (A handler, not SIG_IGN: the child must not inherit an ignore.)"""
    def wait_for_child(signum: int, frame: object) -> None:
        pass

    def pass_on(signum: int, frame: object) -> None:
        child.send_signal(signum)

    handlers = {signal.SIGINT: wait_for_child, signal.SIGQUIT: wait_for_child,
                signal.SIGTERM: pass_on, signal.SIGHUP: pass_on}
    saved = {}
    try:
        for signum, handler in handlers.items():
            try:
                saved[signum] = signal.signal(signum, handler)
            except ValueError:  # not the main thread: leave signals as they are
                break
        yield
    finally:
        for signum, old in saved.items():
            signal.signal(signum, old)
