"""procs.run_attached: the one place the CLI's commands start a child process."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from compose_cilo import procs
from compose_cilo.errors import CiloError


def test_exit_status_env_and_folder_reach_the_child(tmp_path: Path) -> None:
    script = 'test "$PWD" = "$WANT" && exit "$CODE"'
    code = procs.run_attached(["sh", "-c", script], env={"WANT": str(tmp_path), "CODE": "3"},
                              cwd=str(tmp_path))
    assert code == 3


def test_a_missing_command_names_itself_and_path() -> None:
    with pytest.raises(CiloError, match="command no-such-cmd-xyz not found; check the command name and PATH"):
        procs.run_attached(["no-such-cmd-xyz"])


def test_a_nul_byte_is_a_clear_error_not_a_crash() -> None:
    with pytest.raises(CiloError, match="holds a NUL byte"):
        procs.run_attached(["echo", "a\x00b"])


def _signal_later(signum: int, delay: float = 0.3) -> None:
    threading.Timer(delay, os.kill, (os.getpid(), signum)).start()


def test_an_interrupt_is_the_childs_to_handle_and_cilo_waits_for_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the child traps SIGINT and finishes its work, as compose stops containers on ^C;
    # the SIGINT goes to cilo's pid only here, so the child gets it from the test itself
    done = tmp_path / "done"
    script = f'trap "sleep 0.2; echo ok > {done}; exit 7" INT; while :; do sleep 0.05; done'
    child_pid: list[int] = []
    real_popen = procs.subprocess.Popen

    def popen(*args: object, **kwargs: object) -> object:
        proc = real_popen(*args, **kwargs)  # type: ignore[call-overload]
        child_pid.append(proc.pid)
        return proc

    monkeypatch.setattr(procs.subprocess, "Popen", popen)

    def interrupt_both() -> None:
        time.sleep(0.3)
        os.kill(child_pid[0], signal.SIGINT)  # as the terminal would: the child...
        os.kill(os.getpid(), signal.SIGINT)  # ...and cilo
    threading.Thread(target=interrupt_both).start()
    code = procs.run_attached(["sh", "-c", script])
    assert code == 7  # cilo neither died of the ^C nor killed the child
    assert done.read_text() == "ok\n"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored


def test_sigterm_to_cilo_is_passed_on_and_a_signal_death_is_128_plus_n() -> None:
    _signal_later(signal.SIGTERM)
    code = procs.run_attached(["sleep", "30"])
    assert code == 128 + signal.SIGTERM


def test_every_runs_while_the_child_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(procs, "WATCH_SECONDS", 0.05)
    calls: list[float] = []
    assert procs.run_attached(["sleep", "0.4"], every=lambda: calls.append(time.monotonic())) == 0
    assert len(calls) >= 3
