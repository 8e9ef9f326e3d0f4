"""Figures as data: the layouts written by hand are the ones plotly.py makes."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
from plotly.subplots import make_subplots

from sim.report.dashboard.plot_json import Figure, dumps, grid, hline, template, vline


def _layout(fig) -> dict:
    layout = json.loads(fig.to_json())["layout"]
    layout.pop("template", None)
    return layout


def test_grid_is_make_subplots():
    for kw in ({"rows": 3, "cols": 1, "vertical_spacing": 0.06, "shared_xaxes": True},
               {"rows": 1, "cols": 2}, {"rows": 1, "cols": 2, "column_widths": [0.5, 0.5]},
               {"rows": 2, "cols": 3, "column_widths": [1, 2, 1]}):
        titles = [f"plot {i}" for i in range(kw["rows"] * kw["cols"])]
        ours = grid(kw["rows"], kw["cols"], titles,
                    **{k: v for k, v in kw.items() if k not in ("rows", "cols")})
        assert ours == _layout(make_subplots(subplot_titles=titles, **kw)), kw
    # three rows 0.06 apart: each 0.88 / 3 high, the top one ending at the top
    top = grid(3, 1, ["a", "b", "c"], vertical_spacing=0.06)["yaxis"]["domain"]
    assert top[1] == 1.0 and abs(top[1] - top[0] - 0.88 / 3) < 1e-12


def test_reference_lines_are_plotlys():
    # (plotly draws them on subplots with data only, as every dashboard subplot has)
    fig = make_subplots(rows=3, cols=1, subplot_titles=["a", "b", "c"], vertical_spacing=0.06)
    for row in (1, 2, 3):
        fig.add_scatter(x=[0], y=[0], row=row, col=1)
    fig.add_hline(y=25, line_dash="dot", line_color="grey", row=2, col=1,
                  annotation_text="capacity of one centre", annotation_position="top left")
    ours = grid(3, 1, ["a", "b", "c"], vertical_spacing=0.06)
    hline(ours, 25, 2, "capacity of one centre")
    assert ours == _layout(fig)
    fig = make_subplots(rows=1, cols=2)
    for col in (1, 2):
        fig.add_scatter(x=[0], y=[0], row=1, col=col)
    fig.add_vline(x=1, line_dash="dot", line_color="grey", row=1, col=2)
    ours = grid(1, 2, ["", ""])
    vline(ours, 1, 2)
    assert ours == {**_layout(fig), "annotations": []}


def test_template_and_json():
    assert template("plotly_white") == pio.templates["plotly_white"].to_plotly_json()
    fig = Figure([{"y": np.array([np.nan, 1.5]), "x": [np.int64(3), 4], "type": "scatter"}],
                 {"title": {"text": "a </script> b"}})
    assert json.loads(dumps(fig)) == {"data": [{"y": [None, 1.5], "x": [3, 4], "type": "scatter"}],
                                      "layout": {"title": {"text": "a </script> b"}}}
    assert fig.data[0]["type"] == "scatter" and fig.layout["title"]["text"].startswith("a")
