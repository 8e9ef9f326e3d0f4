"""Plotly figures as the JSON plotly.js draws, without plotly.py's graph objects.

plotly.py validates every property of a figure and imports a class for every kind of object it
meets first; for a run's dashboard that was a third of the dashboard's time (0.35 s of CPU), to
produce JSON that plotly.js reads the same way. The run and comparison dashboards therefore write
their figures as plain data, in the form plotly.py produces (titles as ``{"text": ...}``, nested
properties spelt out), with the few layout helpers they use: plotly's template, grids of subplots
(the axes and title annotations of ``plotly.subplots.make_subplots``) and reference lines
(``add_hline``/``add_vline``). plotly.py is then needed only for plotly.js itself.
"""

from __future__ import annotations

import json
import pkgutil
from typing import Any

import numpy as np


class Figure(dict):
    """A plotly figure as data: ``{"data": [trace, ...], "layout": {...}}``."""

    def __init__(self, data: list[dict], layout: dict) -> None:
        super().__init__(data=data, layout=layout)

    @property
    def data(self) -> list[dict]:
        return self["data"]

    @property
    def layout(self) -> dict:
        return self["layout"]


_TEMPLATES: dict[str, dict] = {}


def template(name: str) -> dict:
    """One of plotly's templates, as plotly ships it (read once)."""
    if name not in _TEMPLATES:
        raw = pkgutil.get_data("plotly", f"package_data/templates/{name}.json")
        if raw is None:
            raise FileNotFoundError(f"plotly template {name}")
        _TEMPLATES[name] = json.loads(raw)
    return _TEMPLATES[name]


def text(value: str) -> dict:
    """A title: plotly.py's ``title="..."`` is ``{"text": "..."}``."""
    return {"text": value}


def _clamp(v: float) -> float:
    # as make_subplots does: sums of spacings overshoot [0, 1] by a rounding error
    return 0.0 if -0.01 < v < 0.0 else 1.0 if 1.0 < v < 1.01 else v


def grid(rows: int, cols: int, titles: list[str], *, vertical_spacing: float | None = None,
         column_widths: list[float] | None = None, shared_xaxes: bool = False) -> dict:
    """The layout of ``make_subplots(rows, cols, subplot_titles=titles, ...)`` (top-left first,
    default horizontal spacing): every subplot's x and y axis, and the titles above them."""
    hs = 0.2 / cols
    vs = vertical_spacing if vertical_spacing is not None else 0.5 / rows
    shares = column_widths or [1.0] * cols
    widths = [(1.0 - hs * (cols - 1)) * (w / float(sum(shares))) for w in shares]
    heights = [(1.0 - vs * (rows - 1)) / rows] * rows
    layout: dict[str, Any] = {}
    annotations = []
    for r in range(rows):
        k = rows - 1 - r  # row r counted from the bottom
        y0 = sum(heights[:k]) + k * vs
        for c in range(cols):
            n = r * cols + c + 1
            x, y = axis_names(n)
            x0 = sum(widths[:c]) + c * hs
            xdom, ydom = [x0, x0 + widths[c]], [_clamp(y0), _clamp(y0 + heights[-1 - r])]
            xaxis: dict[str, Any] = {"anchor": y, "domain": xdom}
            if shared_xaxes and r < rows - 1:
                xaxis |= {"matches": axis_names((rows - 1) * cols + c + 1)[0], "showticklabels": False}
            layout[_key(x)] = xaxis
            layout[_key(y)] = {"anchor": x, "domain": ydom}
            if titles[n - 1]:
                annotations.append({"font": {"size": 16}, "showarrow": False, "text": titles[n - 1],
                                    "x": sum(xdom) / 2.0, "xanchor": "center", "xref": "paper",
                                    "y": ydom[1], "yanchor": "bottom", "yref": "paper"})
    layout["annotations"] = annotations
    return layout


def axis_names(n: int) -> tuple[str, str]:
    """The x and y axis of the n-th subplot (from 1) as traces name them: x, y, x2, y2, ..."""
    return ("x", "y") if n == 1 else (f"x{n}", f"y{n}")


def _key(axis: str) -> str:
    return axis[0] + "axis" + axis[1:]


def axes(layout: dict, letter: str) -> list[dict]:
    """Every x (or y) axis of a grid's layout."""
    return [v for k, v in layout.items() if k.startswith(f"{letter}axis")]


def axis(layout: dict, name: str) -> dict:
    """The layout entry of axis ``name`` (x, y2, ...), made if absent."""
    return layout.setdefault(_key(name), {})


def hline(layout: dict, y: float, n: int = 1, label: str | None = None) -> None:
    """``add_hline(y, line_dash="dot", line_color="grey", row, col)`` on subplot ``n``, with
    ``label`` written at its top left."""
    x, ya = axis_names(n)
    layout.setdefault("shapes", []).append(
        {"line": {"color": "grey", "dash": "dot"}, "type": "line", "x0": 0, "x1": 1,
         "xref": f"{x} domain", "y0": y, "y1": y, "yref": ya})
    if label:
        layout.setdefault("annotations", []).append(
            {"showarrow": False, "text": label, "x": 0, "xanchor": "left", "xref": f"{x} domain",
             "y": y, "yanchor": "bottom", "yref": ya})


def vline(layout: dict, x: float, n: int = 1) -> None:
    """``add_vline(x, line_dash="dot", line_color="grey", row, col)`` on subplot ``n``."""
    xa, y = axis_names(n)
    layout.setdefault("shapes", []).append(
        {"line": {"color": "grey", "dash": "dot"}, "type": "line", "x0": x, "x1": x, "xref": xa,
         "y0": 0, "y1": 1, "yref": f"{y} domain"})


def _plain(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON: {type(value).__name__}")


def dumps(fig: dict) -> str:
    """The figure as compact JSON, NaN and infinities as null (as plotly.py writes them)."""
    out = json.dumps(fig, separators=(",", ":"), default=_plain)
    if "NaN" in out or "Infinity" in out:
        out = json.dumps(json.loads(out, parse_constant=lambda _: None), separators=(",", ":"))
    return out
