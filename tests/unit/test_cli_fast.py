"""The hot paths (completion, `list`, `version`) answer from the command table."""

from __future__ import annotations

import pytest

from compose_cilo.cli import commands, fast
from compose_cilo.state import store
from tests.conftest import sample_record


def completion(capsys: pytest.CaptureFixture[str], *words: str) -> list[str]:
    assert fast.complete(list(words)) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == ":4"  # cobra: no file completion
    return lines[:-1]


def test_commands_are_offered_in_table_order_without_aliases(capsys: pytest.CaptureFixture[str]) -> None:
    assert completion(capsys, "cilo", "") == commands.offered()
    assert "ls" not in commands.offered()
    assert completion(capsys, "cilo", "d") == ["down", "destroy", "doctor", "dns"]


def test_env_names_after_a_command_that_takes_env(capsys: pytest.CaptureFixture[str]) -> None:
    with store.mutate() as st:
        st.environments()["shop/dev"] = sample_record()
    for command in commands.COMMANDS:
        assert completion(capsys, "cilo", command.name, "") == (["dev"] if command.takes_env else [])
    assert completion(capsys, "cilo", "--debug", "exec", "d") == ["dev"]
    assert completion(capsys, "ls", "") == []
