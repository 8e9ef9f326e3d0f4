"""Dashboards: pure figure data, the command, and the page in a real headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.report.dashboard import data as d
from sim.report.dashboard import figures as f
from sim.report.dashboard.page import build_figures
from sim.report.dashboard.plot_json import dumps

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"
TNT = ROOT / "scenarios" / "tnt_scrt_consolidation.yaml"
ARTIFACTS = ROOT / "results" / "test-artifacts"


def crcsim(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True,
                          timeout=600)


@pytest.fixture(scope="module")
def comparison_dir(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dash") / "cmp"
    r = crcsim("compare", str(REFERENCE), str(TNT), "--patients", "300", "--replications", "2",
               "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    return out


def test_flows_conserve_patients(small_run):
    _, patients, _ = small_run
    flows = d.pathway_flows(patients)
    out_of_start = sum(n for a, _, n in flows if a == "start")
    into_outcomes = sum(n for _, b, n in flows if b.startswith("outcome: "))
    assert out_of_start == into_outcomes == len(patients)
    # every intermediate node passes on what it receives
    nodes = {a for a, _, _ in flows} | {b for _, b, _ in flows}
    for node in nodes - {"start"} - {b for _, b, _ in flows if b.startswith("outcome: ")}:
        assert sum(n for _, b, n in flows if b == node) == sum(n for a, _, n in flows if a == node)


def test_flows_count_each_patients_own_path(small_run):
    """Links are the patients' own stage-to-stage steps, counted one patient at a time here."""
    _, patients, _ = small_run
    counts: dict[tuple[str, str], int] = {}
    for r in patients.to_dict("records"):
        neo = r.get("neoadjuvant_cycles", 0) + r.get("consolidation_cycles", 0) > 0 or r["rt_fractions"] > 0
        operated = r["rectal_surgery"] or r["metastasis_treatment"]
        path = ["start", "neoadjuvant therapy" if neo else "no neoadjuvant therapy",
                "MDT: " + (r["mdt_decision"] or "no MDT").replace("_", " "),
                "local: " + str(r["sequence"]).replace("_", " ") if operated else "no local treatment",
                "adjuvant chemotherapy" if r.get("adjuvant_cycles", 0) > 0 else "no adjuvant chemotherapy",
                "outcome: " + str(r["pathway"]).replace("_", " ")]
        for step in zip(path[:-1], path[1:], strict=True):
            counts[step] = counts.get(step, 0) + 1
    flows = d.pathway_flows(patients)
    assert {(a, b): n for a, b, n in flows} == counts and len(flows) == len(counts)
    assert any(a == "MDT: no MDT" or b == "no local treatment" for a, b, _ in flows)


def test_swimmer_sample_spans_the_pathways(small_run):
    _, patients, _ = small_run
    ids = d.swimmer_sample(patients)
    assert 0 < len(ids) <= d.SWIMMER_PATIENTS
    sampled = set(patients.set_index("patient_id").loc[ids, "pathway"].astype(str))
    present = set(patients["pathway"].astype(str))
    assert len(sampled) >= min(len(present), 4)


def test_km_curve_matches_the_summary(small_run):
    _, patients, summary = small_run
    c = d.km_curve(patients, "os")
    at12 = c["survival"][int(np.searchsorted(c["months"], 12.0, side="right")) - 1]
    assert at12 == pytest.approx(summary["os"]["12"], abs=0.01)
    assert all(lo <= s <= hi for lo, s, hi in zip(c["low"], c["survival"], c["high"], strict=True))
    assert c["at_risk"][0] == len(patients)


def test_every_strategy_trace_is_tagged(comparison_dir):
    loaded = d.load_strategies([comparison_dir])
    panels = build_figures(loaded)
    ids = [pid for pid, _, _, _ in panels]
    for needed in ("overview", "km-os", "km-pfs", "sankey", "toxicity", "complications", "swimmer",
                   "resources", "queues", "waits", "differences", "forest", "calibration"):
        assert needed in ids
    names = {s.name for s in loaded.strategies}
    for pid, _, fig, _ in panels:
        if fig is None or pid.startswith("at-risk") or pid == "calibration":
            continue
        tagged = {(t.get("meta") or {}).get("strategy") for t in fig.data} - {None}
        assert tagged and tagged <= names, pid
        for axis in ("xaxis", "yaxis"):
            title = fig.layout.get(axis, {}).get("title", {}).get("text")
            if pid not in ("sankey",) and title is not None:
                assert title.strip(), (pid, axis)
        assert fig.layout["title"]["text"], pid


def test_dashboard_command_and_bad_inputs(comparison_dir, tmp_path):
    out = tmp_path / "d.html"
    r = crcsim("dashboard", str(comparison_dir), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "MB" in r.stdout and out.stat().st_size > 1_000_000
    text = out.read_text()
    # plotly.js embedded once, nothing fetched: the page opens offline
    assert re.findall(r"<script[^>]*\bsrc=", text) == []
    assert text.count("plotly.js v") == 1
    assert "events.parquet" not in text
    r = crcsim("dashboard", str(tmp_path), "-o", str(tmp_path / "x.html"))
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "results directory" in r.stderr
    old = tmp_path / "old"
    shutil.copytree(comparison_dir / "li2021_reference", old)
    manifest = json.loads((old / "manifest.json").read_text())
    manifest["results_schema_version"] = 0
    (old / "manifest.json").write_text(json.dumps(manifest))
    r = crcsim("dashboard", str(old), "-o", str(tmp_path / "y.html"))
    assert r.returncode == 2 and "results_schema_version" in r.stderr
    assert not (tmp_path / "x.html").exists() and not (tmp_path / "y.html").exists()


def test_run_and_compare_write_their_dashboard(comparison_dir):
    assert (comparison_dir / "dashboard.html").is_file()


def test_dashboard_in_headless_chromium(comparison_dir, browser, scroll_to_plot):
    page_file = comparison_dir / "dashboard.html"
    panels = [pid for pid, _, fig, _ in build_figures(d.load_strategies([comparison_dir]))
              if fig is not None]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(page_file.as_uri(), wait_until="load")
    drawn = ("(pid) => { const gd = document.getElementById('plot-' + pid);"
             " return !!gd && !!gd.data && gd.data.length > 0 &&"
             " gd.querySelectorAll('.main-svg').length > 0; }")
    # the first screen draws at once; the rest as the reader scrolls to it
    page.wait_for_function(drawn, arg="km-os", timeout=30000)
    for pid in panels:
        scroll_to_plot(page, pid)
        page.wait_for_function(drawn, arg=pid, timeout=30000)
    cards = page.locator(".card")
    assert cards.count() == 2
    visible = ("Array.from(document.getElementById('plot-km-os').data)"
               ".filter(t => t.visible !== false).map(t => t.meta && t.meta.strategy)")
    before = page.evaluate(visible)
    page.select_option("#strategy", "tnt_scrt_consolidation")
    after = page.evaluate(visible)
    assert "li2021_reference" in before and "li2021_reference" not in after
    assert "tnt_scrt_consolidation" in after
    assert cards.nth(0).is_hidden() and cards.nth(1).is_visible()
    page.select_option("#pathway", "palliative")
    pathways = page.evaluate(
        "Array.from(document.getElementById('plot-swimmer').data)"
        ".filter(t => t.visible !== false).map(t => t.meta.pathway)")
    assert pathways and set(pathways) == {"palliative"}
    page.screenshot(path=str(ARTIFACTS / "dashboard.png"), full_page=True)
    assert errors == []
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000


def test_figure_functions_are_pure(small_run):
    _, patients, _ = small_run
    before = patients.copy()
    curves = {"a": d.km_curve(patients, "os")}
    one, two = f.km_figure(curves, "os"), f.km_figure(curves, "os")
    assert dumps(one) == dumps(two)
    assert patients.equals(before)


def test_queue_lengths_count_the_patients_waiting():
    import pandas as pd

    # two linac bookings: one waits days 0-14, the other days 7-14: weeks 0 and 1 average 1 and 2
    events = pd.DataFrame({"patient_id": [0, 1], "day": [0.0, 7.0], "event": ["rt_booked"] * 2,
                           "phase": ["neoadjuvant"] * 2, "detail": ["LCRT"] * 2, "value": [14.0, 7.0]})
    q = d.queue_lengths(events)["linac"]
    assert q["waiting"].tolist()[:2] == [1.0, 2.0]
    assert q["waiting"].iloc[2:].sum() == 0


def test_sankey_stages(small_run):
    _, patients, _ = small_run
    nodes = {b for _, b, _ in d.pathway_flows(patients)}
    assert {"neoadjuvant therapy", "adjuvant chemotherapy", "no adjuvant chemotherapy"} <= nodes
    assert any(n.startswith("local: bowel first") for n in nodes)
