"""The report of a run directory: a self-contained HTML page and a terminal headline table.

Example:
    >>> from autoopt.report import headline, write_report
    >>> path = write_report("runs/digits")  # doctest: +SKIP
    >>> from rich.console import Console
    >>> Console().print(headline("runs/digits"))  # doctest: +SKIP

From the command line: ``autoopt report RUN_DIR [--out FILE]``. ``docs/report.md`` explains the page.
"""

from __future__ import annotations

from autoopt.report._confusion import confusion_matrix
from autoopt.report._headline import headline
from autoopt.report._report import REPORT_FILE, render_report, write_report
from autoopt.report._run import RunData, read_run
from autoopt.report._sections import SECTION_IDS
from autoopt.report._tables import fmt

__all__ = [
    "REPORT_FILE",
    "SECTION_IDS",
    "RunData",
    "confusion_matrix",
    "fmt",
    "headline",
    "read_run",
    "render_report",
    "write_report",
]
