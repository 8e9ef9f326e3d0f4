"""Clinical invariants of the event log, over many randomly drawn scenarios (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import REFERENCE, ROOT
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.outcomes.summary import analyse
from sim.population.sample import sites_of
from sim.scenario.loader import load_scenario
from sim.scenario.parameters import TOXICITY_TYPES

TREATMENT_EVENTS = (ev.CHEMO_CYCLE, ev.RT_FRACTION, ev.PROCEDURE, ev.REGIONAL_SESSION, ev.IMMUNOTHERAPY_DOSE)


@st.composite
def scenarios(draw):
    overrides = {
        "run.patients": draw(st.integers(10, 70)),
        "run.seed": draw(st.integers(0, 2**32 - 1)),
        "run.horizon_months": draw(st.sampled_from([6.0, 24.0, 120.0])),
        "run.centre_size": draw(st.integers(5, 70)),
        "resources.linac.slots_per_day": draw(st.integers(1, 6)),
        "resources.theatre.slots_per_day": draw(st.integers(1, 2)),
        "parameters.chemotherapy.toxicity.per_cycle.hematological": draw(st.floats(0, 0.4)),
        "parameters.chemotherapy.toxicity.discontinuation_probability": draw(st.floats(0, 0.5)),
        "parameters.disease.progression.weibull_scale_months": draw(st.floats(2, 60)),
        "parameters.disease.death_after_progression.weibull_scale_months": draw(st.floats(1, 40)),
        "parameters.mdt.refusal_probability": draw(st.floats(0, 0.2)),
        "parameters.response.complete_probability": draw(st.floats(0, 0.2)),
    }
    if draw(st.booleans()):
        overrides["run.arrivals"] = {"type": "all_at_start"}
    else:
        overrides["run.arrivals"] = {"type": "poisson", "per_week": draw(st.floats(0.2, 6))}
    return load_scenario(REFERENCE, overrides)


def check_invariants(scenario, events: pd.DataFrame, patients: pd.DataFrame) -> None:
    n = scenario.run.patients
    assert events["patient_id"].nunique() == n
    by_patient = events.groupby("patient_id", sort=False)

    # times non-decreasing per patient; arrival first; exactly one exit, and it is last
    assert (by_patient["day"].diff().fillna(0) >= 0).all()
    assert (by_patient["event"].first() == ev.ARRIVAL).all()
    exits = events["event"].isin([ev.DEATH, ev.END_OF_FOLLOW_UP])
    assert exits.groupby(events["patient_id"]).sum().eq(1).all()
    assert by_patient["event"].last().isin([ev.DEATH, ev.END_OF_FOLLOW_UP]).all()

    # no event after death; no treatment after death or after the horizon
    exit_day = events.loc[exits].set_index("patient_id")["day"]
    assert (events["day"] <= events["patient_id"].map(exit_day) + 1e-9).all()

    # radiotherapy fractions on weekdays only, within the linac's daily capacity per centre
    fractions = events[events["event"] == ev.RT_FRACTION]
    assert (np.floor(fractions["day"]) % 7 < 5).all()
    centre = patients.set_index("patient_id")["centre"]
    per_day = fractions.groupby([fractions["patient_id"].map(centre), np.floor(fractions["day"])]).size()
    assert (per_day <= scenario.resources.linac.slots_per_day).all()

    # operations only on theatre days, within capacity; MDT only on its day
    ops = events[(events["event"] == ev.PROCEDURE) & ~events["detail"].astype(str).isin(
        ["reoperation", "liver_sbrt", "lung_sbrt"])]
    assert np.isin(np.floor(ops["day"]) % 7, scenario.resources.theatre.weekdays).all()
    bookings = ops.drop_duplicates(["patient_id", "day"])
    per_day = bookings.groupby([bookings["patient_id"].map(centre), np.floor(bookings["day"])]).size()
    assert (per_day <= scenario.resources.theatre.slots_per_day).all()
    mdt = events[events["event"] == ev.MDT]
    assert np.isin(np.floor(mdt["day"]) % 7, scenario.resources.mdt.weekdays).all()

    # at most one TME per patient; no curative treatment after detected progression
    tme = events[(events["event"] == ev.PROCEDURE) & (events["detail"] == "tme")]
    assert not tme["patient_id"].duplicated().any()
    detected = events[events["event"] == ev.PROGRESSION_DETECTED].set_index("patient_id")["day"]
    treat = events[events["event"].isin(TREATMENT_EVENTS)]
    curative = treat[treat["phase"].astype(str) != "palliative"]
    after = curative["day"] > curative["patient_id"].map(detected).fillna(np.inf)
    assert not after.any()
    # no treatment row twice (a course settled twice logs its cycles twice)
    dup = treat.duplicated(["patient_id", "day", "event", "detail", "value"])
    assert not dup.any(), treat[dup].head()
    # a progression found in palliative care moves the patient on: a later line, supportive
    # care, or the end (death, end of follow-up) within the weekly MDT's reach
    if scenario.parameters.palliative_therapy is not None:
        pal = events[(events["event"] == ev.PROGRESSION_DETECTED)
                     & (events["phase"].astype(str) == "palliative")].set_index("patient_id")["day"]
        moves = events[events["event"].isin([ev.CHEMO_CYCLE, ev.SUPPORTIVE_CARE, ev.DEATH,
                                             ev.END_OF_FOLLOW_UP])]
        moves = moves[moves["day"] >= moves["patient_id"].map(pal)]
        next_move = moves.groupby("patient_id")["day"].min().reindex(pal.index)
        assert (next_move - pal <= 35).all(), (next_move - pal).max()
    # no anticancer treatment once best supportive care began
    supportive = events[events["event"] == ev.SUPPORTIVE_CARE].groupby("patient_id")["day"].min()
    assert not (treat["day"] > treat["patient_id"].map(supportive).fillna(np.inf) + 1e-9).any()
    # true progression precedes its detection
    det_rows = events[events["event"] == ev.PROGRESSION_DETECTED]
    assert (det_rows["value"] <= det_rows["day"] + 1e-9).all()

    # survival: PFS <= OS, both non-negative
    assert (patients["pfs_months"] <= patients["os_months"] + 1e-9).all()
    assert (patients["pfs_months"] >= 0).all()

    # completion implies every site treated and the strategy's minimum cycles in each phase
    # (Li 2021: at least 2 adjuvant cycles)
    done = patients[patients["completed"]]
    if scenario.strategy.completion.all_sites_treated:
        assert done["all_sites_treated"].all()
    for phase, minimum in scenario.strategy.completion.min_cycles.items():
        given = events[(events["event"] == ev.CHEMO_CYCLE) & (events["phase"] == phase)]
        n_given = given.groupby("patient_id").size().reindex(done["patient_id"], fill_value=0)
        assert (n_given >= minimum).all()
    treated = events[events["event"] == ev.SITE_TREATED].groupby("patient_id")["detail"].agg(set)
    if scenario.strategy.completion.all_sites_treated:
        for pid, site in zip(done["patient_id"], done["metastatic_site"], strict=True):
            assert set(sites_of(site)) <= treated[pid]

    # pathway categories partition the cohort
    assert patients["pathway"].notna().all()

    broken = {rule: n for rule, n in scale_defects(scenario, events, patients).items() if n}
    assert not broken, broken


def _first(events: pd.DataFrame, mask) -> pd.Series:
    return events[mask].groupby("patient_id")["day"].min()


def scale_defects(scenario, events: pd.DataFrame, patients: pd.DataFrame) -> dict[str, int]:
    """Rows that break the rules a defect once broke, by rule (all 0 on a sound log).

    They are rare per patient, so a small run can miss them: the slow test below reads 10,000
    patients of every shipped scenario.
    """
    event = events["event"]
    detail = events["detail"].astype(str)
    pid = events["patient_id"]
    found: dict[str, int] = {}

    # regional therapy stops when progression is found; supportive care starts only after that
    sessions = events[event == ev.REGIONAL_SESSION]
    detected = _first(events, event == ev.PROGRESSION_DETECTED)
    bsc = _first(events, (event == ev.PALLIATIVE_START) & (detail == "best_supportive_care"))
    at = sessions["patient_id"]
    found["regional session after detected progression"] = int(
        (sessions["day"] >= at.map(detected).fillna(np.inf)).sum())
    found["regional session after supportive care began"] = int(
        (sessions["day"] >= at.map(bsc).fillna(np.inf)).sum())
    first_session = sessions.groupby("patient_id")["day"].min()
    bsc_after = bsc.reindex(first_session.index).dropna()
    bsc_after = bsc_after[bsc_after >= first_session.loc[bsc_after.index]]
    found["supportive care after regional therapy without detected progression"] = int(
        (detected.reindex(bsc_after.index).fillna(np.inf) > bsc_after + 1e-9).sum())

    # a permanent stop of the antibody holds for every later immunotherapy step
    doses = events[event == ev.IMMUNOTHERAPY_DOSE]
    stopped = _first(events, event == ev.IMMUNOTHERAPY_STOPPED)
    found["antibody dose after a permanent stop"] = int(
        (doses["day"] >= doses["patient_id"].map(stopped).fillna(np.inf)).sum())

    # toxicity at the end of a course to a metastasis is of a type such a course can cause
    rt = scenario.parameters.radiotherapy
    metastasis = [k for k, c in rt.courses.items() if c.target == "metastasis"]
    possible = rt.metastasis_toxicity_per_course
    impossible = [t for t in TOXICITY_TYPES if possible is None or getattr(possible, t).value == 0]
    ends = events[(event == ev.RT_COMPLETED) & detail.isin(metastasis)][["patient_id", "day"]]
    tox = events[(event == ev.TOXICITY) & detail.isin(impossible)][["patient_id", "day"]]
    found["pelvic-course toxicity at the end of a course to a metastasis"] = len(
        tox.merge(ends.drop_duplicates(), on=["patient_id", "day"]))

    # a site left with macroscopic residual disease at entry is not treated at entry
    arrival = _first(events, event == ev.ARRIVAL)
    treated = events[(event == ev.SITE_TREATED) & (events["day"] <= pid.map(arrival))]
    residual = 0
    for site, criterion in scenario.population.residual_at_entry.items():
        left = patients.loc[criterion.passes(patients[criterion.attribute]), "patient_id"]
        rows = treated[treated["detail"].astype(str) == site]
        residual += int(rows["patient_id"].isin(left).sum())
    found["site with residual disease treated at entry"] = residual
    return found


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_event_log_invariants(scenario):
    result = run_scenario(scenario)
    patients, _ = analyse(result)
    check_invariants(scenario, result.events, patients)


def test_invariants_hold_on_reference_run(small_run):
    result, patients, _ = small_run
    check_invariants(result.scenario, result.events, patients)


SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))
AT_SCALE = 10_000


@pytest.mark.slow
@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_invariants_hold_at_scale_on_every_shipped_scenario(path):
    """10,000 patients of each shipped scenario (about 3 s each to simulate)."""
    scenario = load_scenario(path, {"run.patients": AT_SCALE, "run.seed": 2027})
    result = run_scenario(scenario)
    patients, _ = analyse(result)
    check_invariants(scenario, result.events, patients)
