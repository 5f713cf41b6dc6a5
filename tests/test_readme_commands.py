"""The README's command table and the command line agree: every command of the
``healthcode --help`` tree has a row, every option it takes is shown in that row
(``--db`` is described once, above the table), and the table names no command that
does not exist."""

from __future__ import annotations

import re
from pathlib import Path

import click

from healthcode.cli.main import cli

README = Path(__file__).parents[1] / "README.md"


def leaf_commands() -> dict[str, set[str]]:
    """``"keys list"`` → its long options (``--db`` left out)."""
    out: dict[str, set[str]] = {}

    def walk(cmd: click.Command, path: list[str]) -> None:
        if isinstance(cmd, click.Group):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        out[" ".join(path)] = {
            opt
            for p in cmd.params
            if isinstance(p, click.Option)
            for opt in p.opts
            if opt.startswith("--") and opt != "--db"
        }

    walk(cli, [])
    return out


def table_segments() -> list[str]:
    """The command cell of each row of the command table, split into one text per
    command (``a` / `b`` → two)."""
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## The command line") : text.index("## Settings")]
    segments = []
    for line in section.splitlines():
        if line.startswith("| `healthcode "):
            cell = line.split(" | ")[0].lstrip("| ")
            segments += [seg.strip("` ") for seg in re.split(r"` / `", cell)]
    return segments


def command_of(segment: str, names: list[str]) -> str | None:
    words = segment.removeprefix("healthcode ").split()
    for n in (2, 1):
        if " ".join(words[:n]) in names:
            return " ".join(words[:n])
    return None


def test_every_command_and_option_is_in_the_readme():
    commands = leaf_commands()
    names = list(commands)
    described: dict[str, str] = {}
    for seg in table_segments():
        name = command_of(seg, names)
        if name is None and seg.removeprefix("healthcode ").split()[0] == "certificate":
            name = "certificate issue"  # `healthcode certificate HOLDER_ID …` issues
        assert name is not None, f"the README names a command that does not exist: {seg!r}"
        described[name] = described.get(name, "") + " " + seg
    missing = sorted(set(names) - set(described))
    assert not missing, f"commands missing from the README table: {missing}"
    for name, options in commands.items():
        absent = sorted(o for o in options if not re.search(re.escape(o) + r"\b", described[name]))
        assert not absent, f"README row of `healthcode {name}` lacks {absent}"
