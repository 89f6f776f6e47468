"""procs.run_attached: the one place the CLI's commands start a child process."""

from __future__ import annotations

import subprocess
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


def test_interrupt_is_130(monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*args: object, **kwargs: object) -> int:
        raise KeyboardInterrupt

    monkeypatch.setattr(subprocess, "call", interrupted)
    assert procs.run_attached(["true"]) == 130
