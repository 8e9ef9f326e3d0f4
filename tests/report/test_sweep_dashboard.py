"""Sweep dashboards: figures from hand-made summaries, bad inputs, and the pages of small real
sweeps in a headless Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sim.errors import InputError
from sim.report.dashboard import sweep_figures as sf
from sim.report.dashboard.page import write_dashboard
from sim.report.dashboard.sweep_page import build_panels, load_summary, write_sweep_dashboard

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
ARTIFACTS = ROOT / "results" / "test-artifacts"


def _bar(parameter: str, values: list[float], swing: float, noise: bool) -> dict:
    return {"parameter": parameter, "arms": None, "levels": [0.1, 0.9], "values": values,
            "swing": swing, "mc_se": 0.01, "noise": noise}


def test_tornado_sorted_by_swing_with_noise_faded():
    block = {"base": 0.5, "base_mc_se": 0.02, "bars": [
        _bar("parameters.a.small", [0.49, 0.51], 0.02, True),
        _bar("parameters.b.large", [0.3, 0.7], 0.4, False),
        _bar("parameters.c.middle", [0.45, 0.6], 0.15, False)]}
    fig = sf.tornado_figure("os_36", block)
    order = list(fig.layout.yaxis.categoryarray)
    # plotly draws the first category at the bottom: the widest swing comes last, at the top
    assert [o.split(" ")[0] for o in order] == ["a.small", "c.middle", "b.large"]
    low, high = fig.data[0], fig.data[1]
    assert list(low.y) == order[::-1]
    noisy = [i for i, name in enumerate(low.y) if "noise" in name]
    assert noisy == [2] and low.meta["noise"] == [False, False, True]
    assert low.marker.color[2].endswith(",0.25)") and low.marker.color[0].endswith(",1.0)")
    # bars start at the base and end at each level's value
    assert low.base == 0.5 and low.x[0] == pytest.approx(0.3 - 0.5)
    assert high.x[0] == pytest.approx(0.7 - 0.5)
    assert sf.NOISE_NOTE in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.tickformat == ".1~%" and "%" in fig.layout.xaxis.title.text
    assert "Tornado" in fig.layout.title.text


def _threshold(found: bool) -> dict:
    evaluated = [{"value": v, "difference": 0.3 - 0.4 * v, "mc_se": 0.02} for v in (0.3, 0.5, 0.7, 0.9)]
    block = {"parameter": "parameters.effects.progression_hazard_ratio", "output": "pfs_24",
             "target": 0.1, "target_source": None, "evaluated": evaluated, "arm": "sbrt",
             "reference": "control"}
    if found:
        block.update(found=True, threshold=0.5, bracket=[0.3, 0.7], interval95=[0.42, 0.58],
                     crossings=1)
    else:
        block.update(found=False, threshold=None, note="the difference stays above the target")
    return block


def test_threshold_marked_with_its_interval():
    fig = sf.threshold_figure(_threshold(True))
    star = [t for t in fig.data if t.name.startswith("threshold")]
    assert len(star) == 1 and list(star[0].x) == [0.5] and list(star[0].y) == [0.1]
    assert "0.42 to 0.58" in star[0].name
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert [(r.x0, r.x1) for r in rects] == [(0.42, 0.58)]
    lines = {(s.y0, s.y1) for s in fig.layout.shapes if s.type == "line" and s.yref == "y"}
    assert (0.1, 0.1) in lines  # the target
    points = fig.data[0]
    assert list(points.error_y.array) == pytest.approx([1.96 * 0.02] * 4)
    assert "percentage points" in fig.layout.yaxis.title.text
    missing = sf.threshold_figure(_threshold(False))
    assert not [t for t in missing.data if t.name.startswith("threshold")]
    assert "No threshold in the range" in missing.layout.title.subtitle.text


def test_probability_best_bars_sum_to_one():
    best = {"os_36": {"reference": 0.2, "tnt": 0.8}, "grade34_toxicity_rate": {"reference": 0.7, "tnt": 0.3}}
    fig = sf.probability_best_figure(best)
    assert fig.layout.barmode == "stack" and [t.name for t in fig.data] == ["reference", "tnt"]
    totals = [sum(t.y[i] for t in fig.data) for i in range(2)]
    assert totals == pytest.approx([1.0, 1.0])


def _grid_block() -> dict:
    import itertools

    levels = [[1.0, 2.0, 5.0], [0.5, 2.0], [1.0, 2.0]]
    points = [list(p) for p in itertools.product(*levels)]
    values = [a * 100 + b * 10 + c for a, b, c in points]
    return {"parameters": ["resources.linac.slots_per_day", "run.arrivals.per_week",
                           "resources.theatre.slots_per_day"], "levels": levels, "points": points,
            "outputs": {"linac_mean_wait_days": {"values": values, "mc_se": [1.0] * len(values)}}}


def test_grid_heatmap_puts_each_point_in_its_cell():
    fig = sf.grid_figure(_grid_block(), "linac_mean_wait_days")
    assert len(fig.data) == 2  # a facet per level of the third parameter
    for facet, trace in zip((1.0, 2.0), fig.data, strict=True):
        for j, y in enumerate((0.5, 2.0)):
            for i, x in enumerate((1.0, 2.0, 5.0)):
                assert trace.z[j][i] == x * 100 + y * 10 + facet
        assert trace.texttemplate  # the values are written in the cells
    assert "days" in fig.layout.coloraxis.colorbar.title.text
    # further parameters become choices on the page, one figure per output and level
    block = _grid_block()
    block["parameters"].append("run.patients_extra")
    block["levels"].append([0.0, 1.0])
    block["points"] = [p + [e] for p in block["points"] for e in (0.0, 1.0)]
    block["outputs"]["linac_mean_wait_days"]["values"] = [0.0] * len(block["points"])
    block["outputs"]["linac_mean_wait_days"]["mc_se"] = [0.0] * len(block["points"])
    summary = {"analysis": "grid", "grid": block, "patients": 50}
    _, (pid, _, figures, _) = build_panels(summary)
    assert pid == "grid" and len(figures) == 2 and all("= 1" in k or "= 0" in k for k in figures)


def test_psa_figures_and_units():
    values = [0.05, -0.02, 0.03, 0.01]
    diff = {"draws": 4, "mean": 0.0175, "sd": 0.03, "interval95": [-0.02, 0.05], "mean_mc_se": 0.01,
            "mc_share_of_variance": 0.4, "values": values, "probability_positive": 0.75,
            "drivers": [{"parameter": "parameters.x", "spearman_rho": 0.2},
                        {"parameter": "parameters.y", "spearman_rho": -0.9}]}
    fig = sf.psa_histogram("os_36[tnt - reference]", diff)
    assert "P(difference > 0) = 75%" in fig.layout.title.subtitle.text
    assert fig.layout.xaxis.tickformat == "+.1~%" and "percentage points" in fig.layout.xaxis.title.text
    other = {**diff, "values": [0.1, 0.2, -0.1, None]}
    cloud = sf.psa_scatter("os_36[tnt - reference]", diff, "grade34_toxicity_rate[tnt - reference]", other)
    assert len(cloud.data[0].x) == 3  # the draw without a value is left out
    shares = [int(a.text.split("%")[0]) for a in cloud.layout.annotations]
    assert sum(shares) == pytest.approx(100, abs=2)
    drivers = sf.drivers_figure("os_36[tnt - reference]", diff["drivers"])
    assert list(drivers.layout.yaxis.categoryarray)[-1] == "y"  # the strongest at the top
    assert "months" in sf.axis_title("rmst_os_60[tnt - reference]")
    assert "days" in sf.axis_title("theatre_mean_wait_days")
    assert sf.value_text("os_36[a - b]", 0.021) == "+2.1 pp"


def test_sobol_and_morris_intervals():
    names = ["parameters.a", "parameters.b"]
    sob = sf.sobol_figure("os_36", {"parameters": names, "variance": 0.01, "mean_mc_variance": 0.009,
                                    "S1": [0.2, 0.5], "S1_conf": [0.1, 0.2], "ST": [0.3, 0.6],
                                    "ST_conf": [0.15, 0.25]})
    assert [list(t.error_y.array) for t in sob.data] == [[0.1, 0.2], [0.15, 0.25]]
    assert "noise" in sob.layout.title.subtitle.text
    mor = sf.morris_figure("completion_rate", {"parameters": names, "mu": [0.1, -0.02],
                                               "mu_star": [0.1, 0.03], "mu_star_conf": [0.01, 0.02],
                                               "sigma": [0.02, 0.01]})
    assert list(mor.data[0].text) == ["a", "b"]
    assert list(mor.data[0].error_x.array) == pytest.approx([1.0, 2.0])  # percentage points
    flat = sf.sobol_figure("os_36", {"parameters": names, "variance": 0.0, "mean_mc_variance": 0.01,
                                     "S1": [0.0, 0.0], "S1_conf": [0.0, 0.0], "ST": [0.0, 0.0],
                                     "ST_conf": [0.0, 0.0]})
    assert "did not change" in flat.layout.title.subtitle.text
    failed = sf.sobol_figure("os_36", {"error": "2 points failed or undefined"})
    assert "could not be analysed" in failed.layout.title.subtitle.text


def test_bad_directories_raise_one_line_and_write_nothing(tmp_path):
    out = tmp_path / "d.html"
    with pytest.raises(InputError, match="expected a sweep results directory"):
        write_sweep_dashboard(tmp_path, out)
    (tmp_path / "summary.json").write_text("{not json")
    with pytest.raises(InputError, match="readable JSON") as info:
        write_sweep_dashboard(tmp_path, out)
    assert "\n" not in str(info.value)
    (tmp_path / "summary.json").write_text(json.dumps({"analysis": "psa", "name": "x"}))
    with pytest.raises(InputError) as info:
        write_sweep_dashboard(tmp_path, out)
    assert info.value.field == "psa"
    (tmp_path / "summary.json").write_text(json.dumps({"analysis": "nonsense"}))
    with pytest.raises(InputError) as info:
        write_dashboard([tmp_path], out)  # crcsim dashboard dispatches on the "analysis" key
    assert info.value.field == "analysis"
    assert not out.exists() and not list(tmp_path.glob(".d.html*"))


REF = str(SCENARIOS / "li2021_reference.yaml")
ARMS = {"control": str(SCENARIOS / "crlm_r1_adjuvant_chemo.yaml"),
        "sbrt_pd1": str(SCENARIOS / "crlm_r1_sbrt_pd1.yaml")}
RANGES = [{"path": "parameters.resectability.probability", "low": 0.4, "high": 0.7},
          {"path": "resources.linac.slots_per_day", "low": 1, "high": 5}]
SWEEPS = {
    "one_way": {"scenario": REF, "outputs": ["os_36", "completion_rate"],
                "analysis": {"type": "one_way", "parameters": RANGES}},
    "grid": {"scenario": REF, "outputs": ["os_36", "linac_mean_wait_days"],
             "analysis": {"type": "grid", "parameters": [
                 {"path": "resources.linac.slots_per_day", "values": [1, 3]},
                 {"path": "run.arrivals.per_week", "values": [1, 3]},
                 {"path": "resources.theatre.slots_per_day", "values": [1, 2]}]}},
    "psa": {"arms": ARMS, "outputs": ["os_36", "grade34_toxicity_any_phase_rate"],
            "analysis": {"type": "psa", "draws": 4}},
    "sobol": {"scenario": REF, "outputs": ["os_36", "completion_rate"],
              "analysis": {"type": "sobol", "samples": 2, "parameters": RANGES}},
    "morris": {"scenario": REF, "outputs": ["os_36", "completion_rate"],
               "analysis": {"type": "morris", "samples": 2, "parameters": RANGES}},
    "threshold": {"arms": ARMS, "outputs": ["pfs_24"], "analysis": {
        "type": "threshold", "output": "pfs_24", "target": 0.1, "tolerance": 0.3, "max_rounds": 1,
        "initial_points": 4,
        "parameter": {"path": "parameters.effects.progression_hazard_ratio", "low": 0.3, "high": 1.2,
                      "arms": ["sbrt_pd1"]}}},
}


@pytest.fixture(scope="module")
def sweep_dirs(tmp_path_factory) -> dict[str, Path]:
    """Tiny sweeps of every analysis, each with the dashboard run_sweep writes."""
    from sim.sweep.run import run_sweep

    base = tmp_path_factory.mktemp("sweeps")
    out = {}
    for kind, spec in SWEEPS.items():
        path = base / f"{kind}.yaml"
        path.write_text(yaml.safe_dump({"name": f"tiny_{kind}", "description": f"a tiny {kind} sweep",
                                        "patients": 40, "seed": 3, "bootstrap": 20, **spec}))
        out[kind] = base / f"out_{kind}"
        run_sweep(path, out[kind], backend="serial")
    return out


def test_sweeps_write_their_dashboard_and_the_command_reads_them(sweep_dirs, tmp_path, capsys):
    for kind, directory in sweep_dirs.items():
        page = directory / "dashboard.html"
        text = page.read_text()
        assert text.count("plotly.js v") == 1 and "<script src" not in text
        assert f"tiny_{kind}" in text and f"a tiny {kind} sweep" in text
        assert load_summary(directory)["analysis"] == kind
    from sim.cli import main

    with pytest.raises(SystemExit) as info:
        main(["dashboard", str(sweep_dirs["threshold"]), "-o", str(tmp_path / "t.html")])
    assert info.value.code == 0
    assert "MB" in capsys.readouterr().out and (tmp_path / "t.html").stat().st_size > 1_000_000
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text(json.dumps({"analysis": "grid", "name": "x"}))
    with pytest.raises(SystemExit) as info:
        main(["dashboard", str(tmp_path / "bad"), "-o", str(tmp_path / "b.html")])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1 and "grid" in err
    assert not (tmp_path / "b.html").exists()


DRAWN = ("(pid) => { const gd = document.getElementById('plot-' + pid);"
         " return !!gd && !!gd.data && gd.data.length > 0 && gd.querySelectorAll('.main-svg').length > 0; }")
TITLE = "(pid) => document.getElementById('plot-' + pid).layout.title.text"


def test_sweep_dashboards_in_headless_chromium(sweep_dirs, browser, scroll_to_plot):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    for kind, directory in sweep_dirs.items():
        panels = [(pid, fig) for pid, _, fig, _ in build_panels(load_summary(directory))
                  if fig is not None]
        assert panels, kind
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("console", lambda m, e=errors: e.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda x, e=errors: e.append(str(x)))
        page.goto((directory / "dashboard.html").as_uri(), wait_until="load")
        for pid, fig in panels:
            scroll_to_plot(page, pid)
            page.wait_for_function(DRAWN, arg=pid, timeout=30000)
            if isinstance(fig, dict):  # a choice between outputs redraws the plot
                before = page.evaluate(TITLE, pid)
                page.select_option(f"#choice-{pid}", "1")
                page.wait_for_function(f"(pid) => ({TITLE})(pid) !== {json.dumps(before)}",
                                       arg=pid, timeout=10000)
                assert page.evaluate(TITLE, pid) == list(fig.values())[1].layout.title.text
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(ARTIFACTS / f"sweep-{kind}.png"), full_page=True)
        assert errors == [], (kind, errors)
        page.close()
    for kind in sweep_dirs:
        assert (ARTIFACTS / f"sweep-{kind}.png").stat().st_size > 10_000
