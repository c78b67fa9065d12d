"""A small HTML template: one self-contained page, plotly.js inlined once, every text escaped."""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from autoopt.report._tables import Table

__all__ = ["Section", "figure_html", "table_html", "note_html", "page_html", "ERRORS_ID"]

#: the element JavaScript errors of the page are written into (empty when every plot rendered cleanly);
#: the scripts below name it literally.
ERRORS_ID = "js-errors"

_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #222; }
header { background: #1f3b57; color: #fff; padding: 18px 32px; }
header h1 { margin: 0 0 4px 0; font-size: 1.6em; }
header p { margin: 0; opacity: .85; }
nav { padding: 8px 32px; background: #eef2f6; position: sticky; top: 0; z-index: 10; }
nav a { margin-right: 14px; color: #1f3b57; text-decoration: none; font-size: .92em; }
main { padding: 8px 32px 40px 32px; max-width: 1240px; }
section { margin: 26px 0; }
h2 { border-bottom: 1px solid #ccd; padding-bottom: 4px; font-size: 1.25em; }
p.note { color: #666; font-style: italic; }
table { border-collapse: collapse; margin: 8px 0; font-size: .92em; }
th, td { border: 1px solid #d5d9de; padding: 4px 10px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f5f7; }
tr.group td { background: #f8f9fb; font-weight: 600; }
details pre { background: #f6f8fa; padding: 8px; overflow: auto; max-height: 320px; }
#js-errors { color: #b00020; white-space: pre-wrap; font-family: monospace; }
#js-errors:empty { display: none; }
"""

# Written first in <head>: any uncaught error or rejected promise (a plot that failed) lands in #js-errors,
# so a reader sees it and a headless browser's DOM dump shows it.
_ERROR_HOOK = """
window.__reportErrors = [];
function __reportError(msg) {
  window.__reportErrors.push(String(msg));
  var el = document.getElementById("js-errors");
  if (el) { el.textContent = window.__reportErrors.join("\\n"); }
}
window.addEventListener("error", function (e) {
  var where = e.filename ? " (" + e.filename.split("/").pop() + ":" + e.lineno + ")" : "";
  var what = e.message || ("failed to load " + ((e.target && e.target.tagName) || "?"));
  __reportError("Uncaught " + what + where);
}, true);
window.addEventListener("unhandledrejection", function (e) {
  __reportError("Unhandled rejection: " + ((e.reason && e.reason.message) || e.reason));
});
"""

# Written last in <body>: flush errors raised before #js-errors existed, count the rendered plots.
_DONE = """
(function () {
  if (window.__reportErrors.length) {
    document.getElementById("js-errors").textContent = window.__reportErrors.join("\\n");
  }
  document.body.setAttribute("data-rendered", document.querySelectorAll(".js-plotly-plot").length);
})();
"""


@dataclass
class Section:
    """One section of the page: an anchor id, a title, and its HTML body (figures, tables or a note)."""

    id: str
    title: str
    body: str
    figures: int = 0


def note_html(text: str) -> str:
    """A one-line note in place of a section's content."""
    return f'<p class="note">{html.escape(text)}</p>'


def figure_html(fig: go.Figure, div_id: str) -> str:
    """A figure's ``<div>`` and the script that draws it (plotly.js itself is in the page's head)."""
    return fig.to_html(
        full_html=False,
        include_plotlyjs=False,
        div_id=div_id,
        default_width="100%",
        config={"displaylogo": False, "responsive": True},
    )


_NUMBER = re.compile(r"^-?\d[\d.]*(?:e[-+]?\d+)?(?:x| B| KB| MB)?(?: / -?\d[\d.]*(?:e[-+]?\d+)?)?$")


def _is_number(text: str) -> bool:
    """A cell holding a number (``0.9926``, ``13.1 KB``, ``1.37x``, ``0.014 / 0.015``): right-aligned."""
    return bool(_NUMBER.match(text))


def table_html(table: Table, *, caption: bool = True) -> str:
    """A :class:`Table` as an HTML table; numbers right-aligned; headline groups as sub-header rows."""
    out = ["<table>"]
    if caption and table.title:
        out.append(f"<caption>{html.escape(table.title)}</caption>")
    if any(table.header):
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in table.header) + "</tr>")
    group = None
    for i, row in enumerate(table.rows):
        if table.groups and table.groups[i] != group:
            group = table.groups[i]
            out.append(f'<tr class="group"><td colspan="{len(row)}">{html.escape(group)}</td></tr>')
        cells = [
            f'<td class="num">{html.escape(c)}</td>' if _is_number(c) else f"<td>{html.escape(c)}</td>"
            for c in row
        ]
        out.append("<tr>" + "".join(cells) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def page_html(title: str, subtitle: str, sections: Sequence[Section]) -> str:
    """The whole page: error hook, plotly.js (inline, once), a header, a table of contents, the sections."""
    figures = sum(s.figures for s in sections)
    nav = " ".join(f'<a href="#{s.id}">{html.escape(s.title)}</a>' for s in sections)
    body = "\n".join(
        f'<section id="{s.id}">\n<h2>{html.escape(s.title)}</h2>\n{s.body}\n</section>' for s in sections
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{_CSS}</style>
<script>{_ERROR_HOOK}</script>
<script type="text/javascript">{get_plotlyjs()}</script>
</head>
<body data-figures="{figures}">
<header><h1>{html.escape(title)}</h1><p>{html.escape(subtitle)}</p></header>
<nav>{nav}</nav>
<main>
<div id="{ERRORS_ID}"></div>
{body}
</main>
<script>{_DONE}</script>
</body>
</html>
"""
