"""The dashboard's published landmarks come from the targets file the calibration names, not from
parsing target names: the whole cohort's curves only, as published (percent -> fraction)."""

from __future__ import annotations

import json
from pathlib import Path

from sim.report.dashboard.page import _published_landmarks

ROOT = Path(__file__).resolve().parents[2]


def test_reference_landmarks_are_li2021s_whole_cohort_figures():
    report_path = ROOT / "calibration" / "fitted" / "li2021_report.json"
    marks = _published_landmarks(report_path, json.loads(report_path.read_text()))
    os_ = [(m["month"], round(100 * m["value"], 1), round(100 * m["low"], 1)) for m in marks["os"]]
    pfs = [(m["month"], round(100 * m["value"], 1), round(100 * m["high"], 1)) for m in marks["pfs"]]
    # Li 2021: OS 91.2 (87.6-95.0), 74.8 (69.4-80.7), 56.6 (50.2-63.9); PFS 67.4 (61.5-73.8), ...
    assert os_ == [(12.0, 91.2, 87.6), (24.0, 74.8, 69.4), (36.0, 56.6, 50.2)]
    assert pfs == [(12.0, 67.4, 73.8), (24.0, 43.7, 50.7), (36.0, 38.6, 45.8)]


def test_no_landmarks_without_the_named_targets_file(tmp_path):
    report_path = tmp_path / "calibration" / "fitted" / "x_report.json"
    report = {"provenance": {"targets": "calibration/missing.yaml"}}
    assert _published_landmarks(report_path, report) == {"os": [], "pfs": []}
    assert _published_landmarks(report_path, {}) == {"os": [], "pfs": []}
