"""Model behaviour: reproducibility, common random numbers, metamorphic relations, populations."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import pytest
from conftest import REFERENCE

from sim.errors import InputError
from sim.execution.runner import centre_ranges, run_centre, run_scenario
from sim.model import events as ev
from sim.outcomes.schemas import events_frame
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario

GOLDEN = Path(__file__).parents[1] / "golden" / "li2021_300_seed5.json"


def _load(**overrides):
    return load_scenario(REFERENCE, {k.replace("__", "."): v for k, v in overrides.items()})


def test_same_seed_identical_event_log():
    s = _load(run__patients=150, run__seed=9)
    a, b = run_scenario(s), run_scenario(s)
    pd.testing.assert_frame_equal(a.events, b.events)
    pd.testing.assert_frame_equal(a.population, b.population)


def test_different_seed_differs():
    a = run_scenario(_load(run__patients=100, run__seed=1))
    b = run_scenario(_load(run__patients=100, run__seed=2))
    assert not a.events["day"].equals(b.events["day"])


def test_centres_in_any_order_give_the_same_log():
    s = _load(run__patients=120, run__centre_size=40, run__seed=4)
    forward = run_scenario(s).events
    rows = []
    for centre, start, stop in reversed(centre_ranges(s)):
        rows.extend(run_centre(s, centre, start, stop)[1])
    pd.testing.assert_frame_equal(forward, events_frame(rows))


def test_workers_give_identical_results():
    s = _load(run__patients=300, run__centre_size=50, run__seed=8)
    serial, parallel = run_scenario(s), run_scenario(s, workers=2)
    pd.testing.assert_frame_equal(serial.events, parallel.events)
    pd.testing.assert_frame_equal(serial.population, parallel.population)


def test_population_is_common_to_strategies():
    a = run_scenario(_load(run__patients=200, run__seed=3))
    b = run_scenario(_load(run__patients=200, run__seed=3,
                           parameters__mdt__refusal_probability=0.3,
                           parameters__chemotherapy__toxicity__per_cycle__hematological=0.2))
    pd.testing.assert_frame_equal(a.population, b.population)
    arrivals = [r.events[r.events["event"] == ev.ARRIVAL]["day"].to_numpy() for r in (a, b)]
    assert (arrivals[0] == arrivals[1]).all()


def test_more_theatre_capacity_never_lengthens_waits():
    waits = []
    for slots in (1, 2, 4):
        s = _load(run__patients=400, run__seed=12, resources__theatre__slots_per_day=slots)
        _, summary = analyse(run_scenario(s))
        waits.append(summary["resources"]["theatre"]["mean_wait_days"])
    assert waits[0] >= waits[1] >= waits[2]


def test_lower_progression_hazard_raises_pfs():
    reference = _load(run__patients=1500, run__seed=21)
    base = analyse(run_scenario(reference))[1]
    scale = reference.parameters.disease.progression.weibull_scale_months.value
    better = analyse(run_scenario(_load(
        run__patients=1500, run__seed=21,
        parameters__disease__progression__weibull_scale_months=scale * 1.5)))[1]
    for t in ("12", "24"):
        assert better["pfs"][t] > base["pfs"][t]
        assert better["os"][t] >= base["os"][t]


@pytest.mark.parametrize("p,expect_any", [(0.0, False), (1.0, True)])
def test_toxicity_probability_extremes(p, expect_any):
    s = _load(run__patients=60, run__seed=2, **{
        f"parameters__chemotherapy__toxicity__per_cycle__{t}": p
        for t in ("hematological", "gastrointestinal", "neurological", "dermatological")
    }, parameters__chemotherapy__toxicity__discontinuation_probability=0.0,
        parameters__radiotherapy__toxicity_per_course__gastrointestinal=0.0,
        parameters__radiotherapy__toxicity_per_course__dermatological=0.0)
    events = run_scenario(s).events
    cycles = events[events["event"] == ev.CHEMO_CYCLE]
    tox = events[events["event"] == ev.TOXICITY]
    if expect_any:
        # every type after every cycle with a non-zero odds ratio
        assert len(tox) >= len(cycles)
    else:
        assert tox.empty


def test_all_at_start_arrivals():
    s = _load(run__patients=30, run__arrivals={"type": "all_at_start"})
    events = run_scenario(s).events
    assert (events.loc[events["event"] == ev.ARRIVAL, "day"] == 0).all()


def test_patients_from_csv(tmp_path, write_scenario):
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "age_years,sex,kps,t_category,node_positive,metastatic_site,n_liver_metastases\n"
        "70,female,70-80,T4,true,lung_only,0\n"
        "45,male,90-100,T3,true,lung_only,0\n"
    )
    path = write_scenario({"extends": str(REFERENCE), "population": {"csv": "mine.csv"},
                           "run": {"patients": 40}})
    result = run_scenario(load_scenario(path))
    pop = result.population
    assert set(pop["metastatic_site"]) == {"lung_only"}
    assert set(pop["age_years"]) <= {70.0, 45.0} and pop["age_years"].nunique() == 2
    assert (pop["n_liver_metastases"] == 0).all()


def test_bad_csv_names_line_and_column(tmp_path, write_scenario):
    csv = tmp_path / "mine.csv"
    csv.write_text(
        "age_years,sex,kps,t_category,node_positive,metastatic_site,n_liver_metastases\n"
        "70,female,70-80,T4,true,brain,0\n"
    )
    path = write_scenario({"extends": str(REFERENCE), "population": {"csv": "mine.csv"}})
    with pytest.raises(InputError) as info:
        run_scenario(load_scenario(path))
    assert "line 2, column metastatic_site" in info.value.one_line()
    assert "brain" in info.value.one_line()


def _golden_view(summary: dict) -> dict:
    keep = ("completion_rate", "pathway", "grade34_toxicity_rate", "grade34_toxicity_by_type",
            "surgical_complication_rate", "rectal_surgery_rate", "os", "pfs", "resources")
    return json.loads(json.dumps({k: summary[k] for k in keep}))


def test_golden_summary_regression():
    """A seeded small run against its stored summary: any change of model behaviour shows here.
    Regenerate deliberately with CRCSIM_UPDATE_GOLDEN=1 and say why in the commit."""
    _, summary = analyse(run_scenario(_load(run__patients=300, run__seed=5)))
    view = _golden_view(summary)
    if os.environ.get("CRCSIM_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(json.dumps(view, indent=1, sort_keys=True) + "\n")
    assert view == json.loads(GOLDEN.read_text())
