"""Dashboards of runs of any size: only the event rows the panels need are read, and above a bound
the event panels show the first whole centres (and say so) while the rest use every patient."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from sim.execution.streamed import run_to_directory
from sim.model import events as ev
from sim.report.dashboard import data as d
from sim.report.dashboard.page import build_figures, render
from sim.report.dashboard.plot_json import dumps
from sim.scenario.loader import load_scenario

#: the event types the resource, toxicity and complication panels have always been given
PANEL_TYPES = [ev.RT_FRACTION, ev.RT_BOOKED, ev.MDT, ev.PROCEDURE, ev.TOXICITY, ev.COMPLICATION]
CENTRE_SIZE = 40


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, reference_path) -> Path:
    """300 patients in centres of 40 (the last of 20), written in blocks of two centres, so the
    event log has several row groups."""
    scenario = load_scenario(reference_path, {"run.patients": 300, "run.seed": 11,
                                              "run.centre_size": CENTRE_SIZE})
    out = tmp_path_factory.mktemp("bounded") / "run"
    run_to_directory(scenario, str(reference_path), out, block_patients=2 * CENTRE_SIZE)
    return out


def _whole_log_then_filter(run_dir: Path, patients: pd.DataFrame) -> pd.DataFrame:
    """What the dashboard kept of the log when it read it whole: panel events and every event of
    the timeline sample."""
    events = pd.read_parquet(run_dir / "events.parquet")
    events = events[events["patient_id"].isin(patients["patient_id"])]
    keep = events["event"].isin(PANEL_TYPES) | events["patient_id"].isin(d.swimmer_sample(patients))
    return events.loc[keep].reset_index(drop=True)


def _plain(frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as text: a read that skips blocks has only the categories of those it read."""
    return frame.astype({c: str for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)})


def _figure(panels, pid: str) -> str:
    return next(dumps(fig) for p, _, fig, _ in panels if p == pid)


def test_small_run_reads_exactly_the_rows_the_whole_log_gave(run_dir):
    loaded = d.load_strategies([run_dir])
    s = loaded.strategies[0]
    assert len(s.patients) == 300 and s.panel_patients is s.patients
    expected = _whole_log_then_filter(run_dir, s.patients)
    assert 0 < len(s.events) < len(pd.read_parquet(run_dir / "events.parquet"))
    pd.testing.assert_frame_equal(s.events, expected)
    assert s.scope is None and loaded.notes == []
    assert "From the event log of" not in render(loaded)


@pytest.fixture
def bounded(run_dir, monkeypatch) -> d.Loaded:
    monkeypatch.setattr(d, "EVENT_PANEL_PATIENTS", 100)
    return d.load_strategies([run_dir])


def test_event_panels_show_the_first_whole_centres_covering_the_bound(run_dir, bounded):
    s = bounded.strategies[0]
    first = s.patients[s.patients["patient_id"] < 3 * CENTRE_SIZE]  # centres 0-2: 120 >= 100
    assert sorted(s.panel_patients["centre"].unique()) == [0, 1, 2]
    assert len(s.panel_patients) == 120 and len(s.patients) == 300
    assert set(s.events["patient_id"]) <= set(first["patient_id"])
    pd.testing.assert_frame_equal(_plain(s.events), _plain(_whole_log_then_filter(run_dir, first)))
    # the panels are those of the three centres' whole log, with their patients as denominator
    whole = pd.read_parquet(run_dir / "events.parquet")
    theirs = whole[whole["patient_id"] < 3 * CENTRE_SIZE]
    for event in ("rt_fraction", "procedure", "mdt"):
        pd.testing.assert_frame_equal(d.weekly_use(s.events, event), d.weekly_use(theirs, event))
    for name, frame in d.queue_lengths(s.events).items():
        pd.testing.assert_frame_equal(frame, d.queue_lengths(theirs)[name])
    phase = d.toxicity_by_phase(s.events, s.panel_patients)
    assert len(phase) and set(phase["n"]) == {120}
    pd.testing.assert_frame_equal(phase, d.toxicity_by_phase(theirs, first))
    assert set(d.swimmer_rows(s.events, s.panel_patients)["patient_id"]) <= set(first["patient_id"])


def test_the_page_says_what_the_event_panels_show(bounded):
    scope = "centres 0\u20132 (120 of 300 patients)"
    assert str(bounded.strategies[0].scope) == scope
    assert len(bounded.notes) == 1 and scope in bounded.notes[0]
    assert "every patient" in bounded.notes[0]
    page = render(bounded)
    assert bounded.notes[0] in page
    panels = build_figures(bounded)
    notes = {pid: extra for pid, _, _, extra in panels}
    for pid in ("toxicity-phase", "swimmer", "resources"):
        assert scope in notes[pid], pid
    figures = {pid: fig for pid, _, fig, _ in panels}
    for pid in ("resources", "queues"):
        assert (figures[pid].layout["xaxis3"]["title"]["text"]
                == "week of each centre's simulation (mean over centres 0\u20132)")
    # use per centre (the mean of the three shown), read against one centre's capacity
    linac = figures["resources"].data[0]
    per_centre = d.weekly_use(bounded.strategies[0].events, "rt_fraction", centres=3)
    assert list(linac["y"]) == list(per_centre["uses"])
    assert list(per_centre["uses"] * 3) == list(d.weekly_use(bounded.strategies[0].events,
                                                             "rt_fraction")["uses"])
    # rates over the patients shown, not over the whole run
    for pid in ("toxicity-phase", "complications"):
        assert {n for trace in figures[pid].data for _, n in trace["customdata"]} == {120}, pid


def test_survival_pathway_and_rates_still_use_every_patient(run_dir, bounded):
    whole = d.load_strategies([run_dir])
    before, after = build_figures(whole), build_figures(bounded)
    for pid in ("km-os", "km-pfs", "at-risk-os", "sankey", "toxicity"):
        assert _figure(after, pid) == _figure(before, pid), pid
    assert "<td class='v'>300</td>" in dict((p, e) for p, _, _, e in after)["overview"]


def test_panel_patients_takes_whole_centres():
    patients = pd.DataFrame({"patient_id": range(100), "centre": [i // 30 for i in range(100)]})
    assert d.panel_patients(patients, 100) is patients
    assert d.panel_patients(patients, 99) is patients  # the last centre is needed: no reduction
    assert len(d.panel_patients(patients, 60)) == 60  # exactly two centres
    assert len(d.panel_patients(patients, 61)) == 90
    assert len(d.panel_patients(patients, 1)) == 30
