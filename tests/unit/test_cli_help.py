"""Every command answers --help with a sentence about what it does (sqlite-utils' habit)."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from bot.cli import app


def _leaves(command, path: tuple[str, ...] = ()):
    """(path, command) of every command and group of the CLI."""
    yield path, command
    for name, sub in sorted(getattr(command, "commands", {}).items()):
        yield from _leaves(sub, (*path, name))


def test_every_command_answers_help_with_its_description():
    root = typer.main.get_command(app)
    paths = [(path, cmd) for path, cmd in _leaves(root) if path]
    assert len(paths) > 20  # the walk found the registered command modules too
    runner = CliRunner()
    silent = []
    for path, cmd in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        first = (cmd.help or cmd.short_help or "").strip().splitlines()
        if not first or first[0].split()[0] not in result.output:
            silent.append(" ".join(path))
    assert not silent, f"commands without a description in --help: {silent}"
