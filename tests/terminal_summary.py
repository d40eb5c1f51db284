"""Lines a test wants printed at the end of the run, whichever process ran it.

``scripts/test.sh`` runs the suite in two pytest-xdist workers, and a worker's own terminal
summary is never shown. A test's ``user_properties`` travel with its reports to the process
that prints, so a test hands its lines over there::

    request.node.user_properties.append((SUMMARY_PROPERTY, ("schemathesis", lines)))
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import pytest

SUMMARY_PROPERTY = "terminal_summary"


class TerminalSummaries:
    """A plugin: collects the lines from teardown reports, prints them under their heading."""

    def __init__(self) -> None:
        self.sections: dict[str, list[str]] = {}

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        if report.when != "teardown":
            return
        for name, value in report.user_properties:
            if name == SUMMARY_PROPERTY:
                heading, lines = cast(tuple[str, list[str]], value)
                self.sections.setdefault(heading, []).extend(lines)

    def pytest_terminal_summary(self, terminalreporter: pytest.TerminalReporter) -> None:
        for heading, lines in self.sections.items():
            terminalreporter.write_sep("-", heading)
            for line in lines:
                terminalreporter.write_line(line)


def hand_over(item: pytest.Item, heading: str, lines: Sequence[str]) -> None:
    """Print ``lines`` under ``heading`` at the end of the run."""
    item.user_properties.append((SUMMARY_PROPERTY, (heading, list(lines))))
