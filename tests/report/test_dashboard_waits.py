"""The dashboard's resource panels show the summary's waits and slots: the same count and mean per
resource, on the reference and on a centre short of linac, theatre and MDT slots (queues form).
Both runs are below the bound above which the event panels show only the first centres."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.execution.streamed import run_to_directory
from sim.model import events as ev
from sim.report.dashboard import data as d
from sim.scenario.loader import load_scenario

#: fewer slots than the reference: 4 fractions a weekday (not 5), theatre on Thursdays only (not
#: Tuesdays too), 1 MDT case a week (not 4)
CONSTRAINED = {"resources.linac.slots_per_day": 4, "resources.theatre.weekdays": [3],
               "resources.mdt.slots_per_day": 1}
RUNS = {
    "reference": ({"run.patients": 2000, "run.seed": 3}, 2000),
    "constrained": ({"run.patients": 1500, "run.seed": 3, **CONSTRAINED}, 1500),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory, reference_path) -> dict[str, tuple]:
    """Per run: its directory, the dashboard's view of it and the summary's resources."""
    out = {}
    for kind, (overrides, patients) in RUNS.items():
        assert patients <= d.EVENT_PANEL_PATIENTS  # every patient's events are on the panels
        directory = tmp_path_factory.mktemp(kind) / "run"
        run_to_directory(load_scenario(reference_path, overrides), str(reference_path), directory)
        strategy = d.load_strategies([directory]).strategies[0]
        assert strategy.scope is None
        summary = json.loads((directory / "summary.json").read_text())["resources"]
        out[kind] = (kind, directory, strategy, summary)
    return out


@pytest.fixture(params=list(RUNS))
def run(request, runs):
    return runs[request.param]


def test_dashboard_waits_are_the_summarys(run):
    _, out, strategy, summary = run
    waits = d.waits(strategy.events)
    for label, name in (("linac", "linac"), ("theatre", "theatre"), ("MDT", "mdt")):
        shown = waits[label]
        assert round(float(np.mean(shown)), 4) == summary[name]["mean_wait_days"]
        assert round(float(np.quantile(shown, 0.9)), 4) == summary[name]["p90_wait_days"]
        if name != "linac":  # one wait per theatre session and per MDT case
            assert len(shown) == summary[name]["slots_used"]
    # a linac wait is a course's: one per booking in the whole log
    log = pd.read_parquet(out / "events.parquet", columns=["event"])
    assert len(waits["linac"]) == int((log["event"] == ev.RT_BOOKED).sum())


def test_weekly_use_adds_up_to_the_summarys_slots(run):
    _, _, strategy, summary = run
    centres = int(strategy.panel_patients["centre"].nunique())
    for event, name in ((ev.RT_FRACTION, "linac"), (ev.PROCEDURE, "theatre"), (ev.MDT, "mdt")):
        use = d.weekly_use(strategy.events, event, centres)
        assert use["uses"].sum() * centres == pytest.approx(summary[name]["slots_used"])


def test_queues_hold_the_summarys_waiting_days(run):
    """Patients waiting, summed over the days, is the summary's total wait to within a day a
    wait (a wait counts on whole days, from the day it starts to the day it ends)."""
    _, _, strategy, summary = run
    queues = d.queue_lengths(strategy.events)
    waits = d.waits(strategy.events)
    for label, name in (("linac", "linac"), ("theatre", "theatre"), ("MDT", "mdt")):
        patient_days = float(queues[label]["waiting"].sum()) * 7
        total = summary[name]["mean_wait_days"] * len(waits[label])
        assert abs(patient_days - total) <= len(waits[label]) + 1e-4 * len(waits[label])


def test_theatre_waits_are_sessions_not_procedure_rows(run):
    """The panel once counted every procedure row but re-operations: SBRT (a linac course) and
    each procedure of a simultaneous resection as a theatre wait of its own."""
    kind, out, strategy, summary = run
    log = pd.read_parquet(out / "events.parquet", columns=["event", "detail"])
    rows = log[(log["event"] == ev.PROCEDURE) & (log["detail"] != "reoperation")]
    assert len(d.waits(strategy.events)["theatre"]) == summary["theatre"]["slots_used"] < len(rows)
    if kind == "reference":
        assert (summary["theatre"]["slots_used"], len(rows)) == (1976, 2306)


def test_the_constrained_centre_queues(runs):
    reference, constrained = runs["reference"][3], runs["constrained"][3]
    for name in ("linac", "theatre", "mdt"):
        assert constrained[name]["mean_wait_days"] > 1.5 * reference[name]["mean_wait_days"]
        assert constrained[name]["utilisation"] > reference[name]["utilisation"]
