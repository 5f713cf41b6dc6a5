"""Conformance runners: print the per-stage pass rates and every skip at the end."""

from __future__ import annotations

from typing import Any

from tests.conformance.tally import TALLY


def pytest_terminal_summary(terminalreporter: Any) -> None:
    lines = TALLY.lines()
    if not lines:
        return
    terminalreporter.section("conformance summary")
    for line in lines:
        terminalreporter.write_line(line)
