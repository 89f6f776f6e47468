"""The command table (read by the hot paths without typer) matches the typer app."""

from __future__ import annotations

import typer

from compose_cilo.cli import commands
from compose_cilo.cli.app import app


def typer_commands() -> dict[str, typer.core.TyperCommand]:
    return typer.main.get_command(app).commands  # type: ignore[attr-defined,no-any-return]


def test_every_typer_command_is_in_the_table_and_back() -> None:
    table = {word for c in commands.COMMANDS for word in (c.name, *c.aliases)}
    assert set(typer_commands()) == table


def test_hidden_in_typer_exactly_when_hidden_or_an_alias_in_the_table() -> None:
    for word, command in typer_commands().items():
        spec = commands.find(word)
        assert spec
        assert command.hidden == (spec.hidden or word != spec.name), word


def test_env_commands_take_env_first() -> None:
    for word, command in typer_commands().items():
        spec = commands.find(word)
        assert spec
        first = next((p.name for p in command.params if p.param_type_name == "argument"), None)
        assert (first == "env") == spec.takes_env, word


def test_passthrough_counts_the_positionals_before_the_commands_own_argv() -> None:
    for word, command in typer_commands().items():
        spec = commands.find(word)
        assert spec
        if not spec.passthrough:
            continue
        arguments = [p for p in command.params if p.param_type_name == "argument"]
        assert [p.nargs for p in arguments] == [1] * spec.passthrough + [-1], word
        assert command.context_settings.get("ignore_unknown_options"), word
