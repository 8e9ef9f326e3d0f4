"""Defects that showed only at scale, each pinned down by a run that makes it common."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_invariants import check_invariants, scale_defects

from sim.errors import InputError
from sim.execution.runner import run_scenario
from sim.model import events as ev
from sim.outcomes.summary import analyse
from sim.outcomes.survival import km_summary
from sim.scenario.loader import load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"


def _run(name: str, patients: int, **overrides):
    s = load_scenario(SCENARIOS / name, {"run.patients": patients, "run.seed": 31, **overrides})
    result = run_scenario(s)
    table, _ = analyse(result)
    return s, result.events, table


def _first(events, event, detail=None):
    rows = events[events["event"] == event]
    if detail is not None:
        rows = rows[rows["detail"].astype(str) == detail]
    return rows.groupby("patient_id")["day"].min()


def test_regional_therapy_hands_over_to_supportive_care_only_at_detected_progression():
    # yearly restaging: most progressions are revealed by symptoms between two restagings, where
    # the step used to end at the last negative restaging (or at entry, before the first one)
    s, events, patients = _run("crlm_chemoresistant_tace.yaml", 1500,
                               **{"parameters.regional_therapy.restaging_every_weeks": 52})
    check_invariants(s, events, patients)
    detected = _first(events, ev.PROGRESSION_DETECTED)
    bsc = _first(events, ev.PALLIATIVE_START, "best_supportive_care")
    assert len(bsc) > 1000
    lag = bsc - detected.reindex(bsc.index)
    assert lag.notna().all() and lag.between(0, 1e-5).all()
    how = events[events["event"] == ev.PROGRESSION_DETECTED].groupby("patient_id")["detail"].first()
    assert (how.astype(str) == "symptoms").mean() > 0.6
    # sessions go on until then: 28-42 days apart, up to 6, the last before detection or exit
    sessions = events[events["event"] == ev.REGIONAL_SESSION]
    last, count = sessions.groupby("patient_id")["day"].max(), sessions.groupby("patient_id").size()
    exit_day = events[events["event"].isin([ev.DEATH, ev.END_OF_FOLLOW_UP])].set_index("patient_id")["day"]
    stop = np.minimum(detected.reindex(last.index).fillna(np.inf), exit_day.reindex(last.index))
    short = count < s.parameters.regional_therapy.max_sessions
    assert (last < stop).all() and (last[short] + 42 >= stop[short] - 1e-9).all()


def test_a_permanent_stop_of_the_antibody_holds_for_every_later_step():
    # ULRRC gives the antibody in three steps; every grade 3-4 irAE stops it for good here
    s, events, patients = _run("ulrrc_sbrt_pd1.yaml", 800, **{
        "parameters.immunotherapy.immune_related_grade34_per_dose.value": 0.3,
        "parameters.immunotherapy.discontinuation_after_grade34.value": 1.0})
    check_invariants(s, events, patients)
    doses = events[events["event"] == ev.IMMUNOTHERAPY_DOSE]
    irae = events[(events["event"] == ev.TOXICITY) & (events["detail"].astype(str) == "immune_related")]
    stops = events[events["event"] == ev.IMMUNOTHERAPY_STOPPED]
    assert irae.groupby("patient_id").size().max() == 1
    assert set(irae["patient_id"]) == set(stops["patient_id"])
    # every dose has a 0.3 chance of the irAE that ends the antibody: stops / doses = 0.3
    share = len(stops) / len(doses)
    assert abs(share - 0.3) < 3 * np.sqrt(0.3 * 0.7 / len(doses))


def test_a_course_to_a_metastasis_draws_its_own_toxicity_not_the_pelvic_one():
    rt = "parameters.radiotherapy"
    s, events, patients = _run("crlm_r1_sbrt_pd1.yaml", 1500, **{
        f"{rt}.toxicity_per_course.gastrointestinal": 1.0,
        f"{rt}.toxicity_per_course.dermatological": 1.0,
        f"{rt}.metastasis_toxicity_per_course.gastrointestinal": 0.25})
    check_invariants(s, events, patients)
    ends = events[(events["event"] == ev.RT_COMPLETED) & (events["detail"].astype(str) == "SBRT_LIVER")]
    tox = events[events["event"] == ev.TOXICITY][["patient_id", "day", "detail"]]
    at_end = tox.merge(ends[["patient_id", "day"]], on=["patient_id", "day"])
    assert len(ends) > 1400
    assert set(at_end["detail"].astype(str)) == {"gastrointestinal"}
    share = len(at_end) / len(ends)
    assert abs(share - 0.25) < 3 * np.sqrt(0.25 * 0.75 / len(ends))
    # and the invariant check reads a leak: the pelvic dermatitis if the course had drawn it
    leaked = ends[["patient_id", "day"]].assign(event=ev.TOXICITY, detail="dermatological",
                                                 phase="adjuvant", value=3.0)
    broken = scale_defects(s, events.astype({"detail": str})._append(leaked), patients)
    assert broken["pelvic-course toxicity at the end of a course to a metastasis"] == len(ends)


def test_an_r2_resection_leaves_the_liver_untreated():
    s, events, patients = _run("crlm_r1_adjuvant_chemo.yaml", 4000)
    check_invariants(s, events, patients)
    r2 = (patients["resection_margin"] == "R2").to_numpy()
    # eligible margins: R0 close 0.25, R1 0.17, R2 0.03 of all resections
    assert abs(r2.mean() - 0.03 / 0.45) < 3 * np.sqrt(0.067 * 0.933 / len(r2))
    arrival = _first(events, ev.ARRIVAL)
    treated = events[events["event"] == ev.SITE_TREATED]
    at_entry = treated[treated["day"].to_numpy() <= arrival.loc[treated["patient_id"]].to_numpy()]
    sites = at_entry.groupby("patient_id")["detail"].agg(lambda d: frozenset(d.astype(str)))
    expected = np.where(r2, frozenset({"rectum"}), frozenset({"rectum", "liver"}))
    assert (sites.loc[patients["patient_id"]].to_numpy() == expected).all()
    assert not patients.loc[r2, "all_sites_treated"].any() and not patients.loc[r2, "completed"].any()
    # no cure (adjuvant cycles beside a residual tumour clear nothing) and the residual tumour
    # left for good runs at the palliative hazard: by 3 years nearly every R2 patient has
    # recurred, while a third or more of the others, cured, never do
    rfs = {k: km_summary(patients.loc[m, "pfs_months"], patients.loc[m, "pfs_event"],
                         landmarks=(36,))["36"] for k, m in (("r2", r2), ("other", ~r2))}
    assert rfs["r2"] < 0.1 and rfs["other"] > 0.3


def _error(write_scenario, reference_path, data: dict) -> InputError:
    path = write_scenario({"extends": str(reference_path), **data})
    with pytest.raises(InputError) as info:
        load_scenario(path)
    return info.value


def test_a_course_to_a_metastasis_needs_its_toxicity(write_scenario, reference_path):
    e = _error(write_scenario, reference_path,
               {"parameters": {"radiotherapy": {"metastasis_toxicity_per_course": None}}})
    assert e.field == "parameters.radiotherapy" and "\n" not in e.one_line()
    assert "metastasis_toxicity_per_course: required" in e.expected and "'SBRT'" in e.expected
    e = _error(write_scenario, reference_path, {"parameters": {"radiotherapy": {
        "metastasis_toxicity_per_course": {"gastrointestinal": 1.2}}}})
    assert e.field == "parameters.radiotherapy.metastasis_toxicity_per_course.gastrointestinal"
    assert "probability in [0, 1]" in e.expected


def test_residual_at_entry_names_a_treated_site_and_a_known_attribute(write_scenario):
    base = str(SCENARIOS / "crlm_r1_adjuvant_chemo.yaml")
    r2 = {"label": "R2", "attribute": "resection_margin", "in": ["R2"]}
    e = _error(write_scenario, base, {"population": {"residual_at_entry": {"lung": r2}}})
    assert "residual_at_entry.lung: expected a site of treated_at_entry" in e.expected
    e = _error(write_scenario, base, {"population": {"residual_at_entry": {
        "liver": {**r2, "attribute": "margin"}}}})
    assert "residual_at_entry.liver: unknown attribute 'margin'" in e.expected
    e = _error(write_scenario, base, {"population": {"residual_at_entry": {
        "liver": {**r2, "in": ["R3"]}}}})
    assert "unknown category 'R3'" in e.expected and "\n" not in e.one_line()
