"""The page around the dashboards' figures, shared by the run and the sweep dashboards: one
self-contained HTML document (plotly.js embedded once, nothing fetched), the same look, and plots
drawn lazily as they come near the screen.

A panel is ``(id, heading, figure, html)``: the figure may be None (HTML only), one figure, or a
mapping of labels to alternative figures, between which a selector above the plot chooses.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import TYPE_CHECKING, TypeAlias

from plotly.offline import get_plotlyjs

from sim.report.dashboard.plot_json import Figure, dumps

if TYPE_CHECKING:
    import plotly.graph_objects as go

#: a figure as data, or one of plotly.py's (the sweep dashboard's)
AnyFigure: TypeAlias = "Figure | go.Figure"
Figures: TypeAlias = "AnyFigure | dict[str, AnyFigure] | None"
Panel: TypeAlias = "tuple[str, str, Figures, str]"

#: Lazy drawing, shared by every page: plots are drawn when they come near the screen, so a page
#: opens fast however many panels it has. A panel with alternatives (a select.fig-choice) redraws
#: with the chosen figure. A page may define crcsimAfterDraw(gd) to adjust each plot once drawn.
LAZY_JS = """
function crcsimFigure(div) {
  const k = div.dataset.choice;
  const id = 'fig-' + div.id + (k === undefined ? '' : '-' + k);
  return JSON.parse(document.getElementById(id).textContent);
}
function crcsimPlot(div, draw) {
  const fig = crcsimFigure(div);
  draw(div, fig.data, fig.layout, {displaylogo: false, responsive: true}).then(function (gd) {
    if (typeof crcsimAfterDraw === 'function') { crcsimAfterDraw(gd); }
  });
}
function crcsimDraw(div) {
  if (div.dataset.drawn) { return; }
  div.dataset.drawn = '1';
  crcsimPlot(div, Plotly.newPlot);
}
const crcsimObserver = new IntersectionObserver(function (entries) {
  entries.forEach(function (e) { if (e.isIntersecting) { crcsimDraw(e.target); } });
}, {rootMargin: '300px'});
document.querySelectorAll('.lazy-plot').forEach(function (div) { crcsimObserver.observe(div); });
document.querySelectorAll('select.fig-choice').forEach(function (sel) {
  sel.addEventListener('change', function () {
    const div = document.getElementById(sel.dataset.plot);
    div.dataset.choice = sel.value;
    if (div.dataset.drawn) { crcsimPlot(div, Plotly.react); }
  });
});
"""

CSS = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 0 2rem 2rem; color: #222; }
header { position: sticky; top: 0; background: white; padding: .6rem 0;
         border-bottom: 1px solid #ddd; z-index: 10; }
h1 { font-size: 1.4rem; margin: .3rem 0; } h2 { font-size: 1.15rem; margin-top: 2rem; }
.cards { display: flex; flex-wrap: wrap; gap: 1rem; }
.card { border: 1px solid #ccc; border-left: 6px solid var(--c); border-radius: 6px;
        padding: .6rem 1rem; min-width: 15rem; }
.card h3 { margin: 0 0 .4rem; font-size: 1rem; } .card table { border-collapse: collapse; }
.card td { padding: .1rem .6rem .1rem 0; } .card td.v { font-weight: 600; text-align: right; }
.note { color: #555; font-size: .9rem; } label { margin-right: 1rem; }
.how { color: #444; font-size: .9rem; max-width: 75rem; margin: .3rem 0 .5rem; }
label.choice { display: block; margin: .4rem 0; }
table.facts, table.stats { border-collapse: collapse; font-size: .9rem; margin: .4rem 0; }
table.facts td, table.stats td, table.stats th { padding: .15rem .8rem .15rem 0; text-align: left; }
table.stats td.v { text-align: right; font-variant-numeric: tabular-nums; }
table.stats th { border-bottom: 1px solid #ccc; }
"""


def _json(fig: AnyFigure) -> str:
    # "</" would end the script element early
    return (dumps(fig) if isinstance(fig, Figure) else fig.to_json()).replace("</", "<\\/")


def _height(fig: AnyFigure) -> int:
    return (fig.layout.get("height") if isinstance(fig, Figure) else fig.layout.height) or 450


def panel_html(pid: str, heading: str, fig: Figures, extra: str) -> str:
    """A panel's heading, its HTML and a placeholder drawn when it comes near the screen, with the
    figure (or each alternative) as JSON beside it."""
    out = []
    if heading:
        out.append(f"<h2>{html.escape(heading)}</h2>")
    if extra:
        out.append(extra)
    if fig is None:
        return "".join(out)
    alternatives = isinstance(fig, dict) and not isinstance(fig, Figure)
    figures = fig if alternatives else {"": fig}
    height = max(_height(f) for f in figures.values())
    choice = ""
    if alternatives:
        options = "".join(f"<option value='{k}'>{html.escape(label)}</option>"
                          for k, label in enumerate(figures))
        out.append(f"<label class='choice'>Show <select class='fig-choice' id='choice-{pid}' "
                   f"data-plot='plot-{pid}'>{options}</select></label>")
        choice = " data-choice='0'"
    out.append(f"<div class='panel' id='panel-{pid}'><div class='lazy-plot' id='plot-{pid}'{choice} "
               f"style='min-height:{height}px'></div></div>")
    for k, one in enumerate(figures.values()):
        suffix = f"-{k}" if alternatives else ""
        out.append(f"<script type='application/json' id='fig-plot-{pid}{suffix}'>{_json(one)}</script>")
    return "".join(out)


def html_page(title: str, header: str, panels: list[Panel], footer: str, script: str = "") -> str:
    """The whole document: the sticky header (title and ``header`` HTML), the panels, a footer
    note, and the page's own script (run before the lazy drawing starts)."""
    body = "".join(panel_html(*p) for p in panels)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>{CSS}</style>
<script type="text/javascript">{get_plotlyjs()}</script></head>
<body><header><h1>{html.escape(title)}</h1>
{header}</header>
{body}
<p class="note">{footer}</p>
<script type="text/javascript">{script}{LAZY_JS}</script>
</body></html>
"""


def read_summary(path: Path) -> dict | None:
    """A results directory's summary.json as a mapping, or None (missing, unreadable)."""
    try:
        data = json.loads((path / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_sweep_directory(path: Path) -> bool:
    """Whether ``path`` holds a sweep's results (its summary.json names an analysis)."""
    data = read_summary(Path(path)) if Path(path).is_dir() else None
    return data is not None and "analysis" in data
