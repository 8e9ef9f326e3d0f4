"""Pure functions from the event log to the patient table.

Everything here is derived from the events (plus the patient's baseline attributes), so every
number in a summary can be traced back to events and tested on hand-written logs.

Pathway categories, in order of precedence (how the patient left or finished the schedule):

- ``completed``: the strategy's completion criteria are met (Li 2021: neoadjuvant chemotherapy and
  radiotherapy, local treatment of all sites, at least 2 adjuvant cycles);
- ``refused``: refused radical treatment at an MDT;
- ``died_during_treatment``: died while still in a curative phase, or after best supportive
  care was chosen instead of palliative therapy (after progression during treatment);
- ``on_treatment_at_horizon``: follow-up ended while still in a curative phase;
- ``bowel_surgery_only``: the rectum was treated but not every metastatic site;
- ``metastasis_treatment_only``: a metastatic site was treated but not the rectum;
- ``incomplete_adjuvant``: every site treated, too few adjuvant cycles and no progression
  (a complication or adherence stopped them);
- ``palliative``: no local treatment, or every site treated and then progression before the
  schedule was complete (the patient went on to palliative treatment).

Progression timing (Li 2021 Table 3 counts patients whose progression was found "during" and
"after" treatment): ``during_treatment`` when the first detected progression falls in a phase of
anti-cancer treatment, curative or palliative (neoadjuvant incl. second-look chemotherapy,
consolidation, local treatment, adjuvant, palliative); ``after_treatment`` when it falls in
surveillance after the patient finished or left treatment
(:data:`sim.model.events.SURVEILLANCE_PHASES`: follow-up, watch-and-wait, a treatment break
after a palliative first line, best supportive care);
``no_progression`` when none was detected.
Cancer death without a detected progression is not a progression here (Table 3 counts sites).

Chemotherapy months: what a clinician calls the duration of chemotherapy, the time on cycles
given, every phase added up: each logged cycle counts its regimen's cycle length (start to the
next start), so the gap between neoadjuvant and adjuvant chemotherapy (surgery, recovery) and
toxicity delays are not chemotherapy. Li 2021's schedule of "6 months" of perioperative
chemotherapy is 8 three-weekly cycles, 168 days or 5.5 months. ``chemotherapy_months`` counts
every cycle (what a cost analysis needs); ``treatment_chemotherapy_months`` the chemotherapy of
the treatment period, the cycles before a relapse found in surveillance (a progression
``after_treatment``): the curative pathway and, for a patient who leaves it, the palliative
therapy that follows, but not the treatment of a later relapse. That is how Li 2021's Table 2
must count: 79 patients relapsed after treatment, most of them completers with about 6 months
of perioperative chemotherapy, so with a palliative line of theirs counted most would exceed 6
months, against 74 patients over 6 months in all, 50 of whom went to palliative therapy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, cast

import numpy as np
import pandas as pd

from sim.model import events as ev
from sim.model.hazards import DAYS_PER_MONTH
from sim.population.sample import sites_of
from sim.scenario.parameters import METASTATIC_SITES, SITES, TOXICITY_TYPES

if TYPE_CHECKING:
    from sim.scenario.strategy import Completion

PATHWAYS = (
    "completed", "palliative", "bowel_surgery_only", "metastasis_treatment_only", "refused",
    "died_during_treatment", "incomplete_adjuvant", "on_treatment_at_horizon",
)
CURATIVE_PHASES = ("neoadjuvant", "local_treatment", "adjuvant", "consolidation", "watch_and_wait")
PROGRESSION_TIMINGS = ("during_treatment", "after_treatment", "no_progression")


class _Log:
    """The event log as integer codes and patient positions, for fast per-patient reductions.

    Rows are sorted by patient and day (see :func:`sim.outcomes.schemas.events_frame`).
    """

    def __init__(self, events: pd.DataFrame, patient_ids: np.ndarray) -> None:
        self.n = len(patient_ids)
        ids = events["patient_id"].to_numpy()
        days = events["day"].to_numpy()
        order = np.argsort(patient_ids, kind="stable")
        found = np.minimum(np.searchsorted(patient_ids[order], ids), max(self.n - 1, 0))
        # only the population's patients, in patient and time order
        keep = patient_ids[order][found] == ids if self.n else np.zeros(len(ids), dtype=bool)
        unsorted = np.any((np.diff(ids) < 0) | ((np.diff(ids) == 0) & (np.diff(days) < 0)))
        if not keep.all() or unsorted:
            events = events[keep]
            events = events.iloc[np.lexsort((events["day"].to_numpy(), events["patient_id"].to_numpy()))]
            found = found[keep][np.lexsort((days[keep], ids[keep]))]
        events = events.astype({c: "category" for c in ("event", "phase", "detail")})
        self.pos = order[found]
        self.day = events["day"].to_numpy()
        self.value = events["value"].to_numpy()
        self._columns = {c: events[c].cat for c in ("event", "phase", "detail")}
        self._codes = {c: cat.codes.to_numpy() for c, cat in self._columns.items()}

    def _code(self, column: str, name: str) -> int:
        categories = self._columns[column].categories
        return cast(int, categories.get_loc(name)) if name in categories else -2

    def match(self, column: str, *names: str) -> np.ndarray:
        codes = [self._code(column, name) for name in names]
        return np.isin(self._codes[column], codes)

    def match_where(self, column: str, predicate: Callable[[str], bool]) -> np.ndarray:
        categories = self._columns[column].categories
        codes = [i for i, name in enumerate(categories) if predicate(str(name))]
        return np.isin(self._codes[column], codes)

    def any(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.pos[mask], minlength=self.n) > 0

    def count(self, mask: np.ndarray) -> np.ndarray:
        return np.bincount(self.pos[mask], minlength=self.n)

    def first(self, mask: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Per patient, ``values`` at the first masked row (NaN if none)."""
        out = np.full(self.n, np.nan)
        out[self.pos[mask][::-1]] = values[mask][::-1]
        return out

    def first_label(self, mask: np.ndarray, column: str, default: str = "") -> np.ndarray:
        out = np.full(self.n, default, dtype=object)
        labels = np.asarray(self._columns[column].categories, dtype=object)
        out[self.pos[mask][::-1]] = labels[self._codes[column][mask][::-1]]
        return out

    def last_label(self, mask: np.ndarray, column: str, default: str = "") -> np.ndarray:
        out = np.full(self.n, default, dtype=object)
        labels = np.asarray(self._columns[column].categories, dtype=object)
        out[self.pos[mask]] = labels[self._codes[column][mask]]
        return out


def _chemotherapy_days(log: _Log, cycles: np.ndarray,
                       cycle_days: Mapping[str, float] | None) -> np.ndarray:
    """Per patient, the (masked) cycles given times their regimen's cycle length, in days."""
    if cycle_days is None:
        return np.full(log.n, np.nan)
    unknown = cycles & log.match_where("detail", lambda name: name not in cycle_days)
    if unknown.any():
        regimen = log.first_label(unknown, "detail")[log.pos[unknown][0]]
        raise ValueError(f"no cycle length for regimen {regimen!r} (expected one of {sorted(cycle_days)})")
    days = np.zeros(log.n)
    for regimen, length in cycle_days.items():
        days += log.count(cycles & log.match("detail", regimen)) * float(length)
    return days


def patient_table(
    events: pd.DataFrame, population: pd.DataFrame, completion: Completion,
    rectal_complications: tuple[str, ...],
    pelvic_courses: tuple[str, ...] | None = None,
    cycle_days: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per patient: attributes plus everything derived from their events.

    ``pelvic_courses``: the radiotherapy courses that count as the strategy's radiotherapy (a
    strategy may give a course other than the one the patient was assigned, TNT's SCRT, say);
    None means the patient's assigned course. ``cycle_days``: each regimen's cycle length in
    days, for ``chemotherapy_months`` (NaN without it: the log does not hold cycle lengths).
    """
    out = population.copy()
    log = _Log(events, population["patient_id"].to_numpy())

    def event(*names: str) -> np.ndarray:
        return log.match("event", *names)

    def detail(*names: str) -> np.ndarray:
        return log.match("detail", *names)

    arrival = log.first(event(ev.ARRIVAL), log.day)
    is_death = event(ev.DEATH)
    death_day = log.first(is_death, log.day)
    death_cause = log.first_label(is_death, "detail")
    death_phase = log.first_label(is_death, "phase")
    is_end = event(ev.END_OF_FOLLOW_UP)
    end_day = log.first(is_end, log.day)
    end_phase = log.first_label(is_end, "phase")
    died = ~np.isnan(death_day)
    exit_day = np.where(died, death_day, end_day)

    out["arrival_day"] = arrival
    out["os_months"] = (exit_day - arrival) / DAYS_PER_MONTH
    out["os_event"] = died.astype(np.int8)
    out["death_cause"] = death_cause

    progression = log.first(event(ev.PROGRESSION_DETECTED), log.day)
    cancer_death = np.where(death_cause == "cancer", death_day, np.nan)
    pfs_day = np.fmin(progression, cancer_death)
    has_pfs_event = ~np.isnan(pfs_day)
    out["pfs_event"] = has_pfs_event.astype(np.int8)
    out["pfs_months"] = (np.where(has_pfs_event, pfs_day, exit_day) - arrival) / DAYS_PER_MONTH
    out["progression_detected_months"] = (progression - arrival) / DAYS_PER_MONTH
    progression_phase = log.first_label(event(ev.PROGRESSION_DETECTED), "phase")
    timing = np.where(np.isin(progression_phase, ev.SURVEILLANCE_PHASES), "after_treatment",
                      "during_treatment")
    timing = np.where(np.isnan(progression), "no_progression", timing)
    out["progression_timing"] = pd.Categorical(timing, categories=PROGRESSION_TIMINGS)

    tox = event(ev.TOXICITY)
    # preoperative: neoadjuvant (Li 2021's reported toxicity) and TNT's consolidation chemotherapy
    neo = log.match("phase", "neoadjuvant", "consolidation")
    for t in TOXICITY_TYPES:
        out[f"grade34_{t}"] = log.any(tox & neo & detail(t))
    out["grade34_toxicity"] = log.any(tox & neo)
    out["grade34_toxicity_any_phase"] = log.any(tox)

    cycles = event(ev.CHEMO_CYCLE)
    out["chemo_cycles"] = log.count(cycles)
    for ph in ("neoadjuvant", "consolidation", "adjuvant"):
        out[f"{ph}_cycles"] = log.count(cycles & log.match("phase", ph))
    cycles_by_phase = {ph: log.count(cycles & log.match("phase", ph)) for ph in completion.min_cycles}
    out["chemotherapy_months"] = _chemotherapy_days(log, cycles, cycle_days) / DAYS_PER_MONTH
    relapse_day = np.where(timing == "after_treatment", progression, np.inf)
    before_relapse = cycles & (log.day < relapse_day[log.pos])
    out["treatment_chemotherapy_months"] = (
        _chemotherapy_days(log, before_relapse, cycle_days) / DAYS_PER_MONTH)
    out["rt_fractions"] = log.count(event(ev.RT_FRACTION))
    out["rectal_surgery"] = log.any(event(ev.PROCEDURE) & detail("tme"))
    treated = event(ev.SITE_TREATED)
    out["metastasis_treatment"] = log.any(treated & detail(*METASTATIC_SITES))
    out["liver_treated"] = log.any(treated & detail("liver"))
    out["lung_treated"] = log.any(treated & detail("lung"))
    rectum_treated = log.any(treated & detail("rectum"))
    n_treated = sum(log.any(treated & detail(site)).astype(int) for site in SITES)
    n_sites = out["metastatic_site"].map(lambda s: len(sites_of(s))).to_numpy()
    all_treated = n_treated >= n_sites
    out["all_sites_treated"] = all_treated
    complication = event(ev.COMPLICATION)
    out["surgical_complication"] = log.any(complication & detail(*rectal_complications))
    out["any_complication"] = log.any(complication)
    out["ypcr"] = log.any(event(ev.PATHOLOGY) & detail("ypCR"))
    watching = event(ev.WATCH_AND_WAIT)
    out["watch_and_wait"] = log.any(watching & detail("all_sites"))
    out["rectal_watch_and_wait"] = log.any(watching & detail("rectum"))
    out["first_response"] = log.first_label(event(ev.REASSESSMENT), "detail")
    mdt = event(ev.MDT)
    out["mdt_decision"] = log.last_label(mdt, "detail")
    refused = log.any(mdt & detail("refused"))
    # best supportive care decided at once (not after palliative lines ran out)
    bsc_decision = log.any(event(ev.PALLIATIVE_START) & detail("best_supportive_care"))

    course = out["radiotherapy_course"].to_numpy()
    if pelvic_courses is None:
        rt_done = np.zeros(log.n, dtype=bool)
        for name in np.unique(course):
            rt_done |= log.any(event(ev.RT_COMPLETED) & detail(str(name))) & (course == name)
    else:
        rt_done = log.any(event(ev.RT_COMPLETED) & detail(*pelvic_courses))
    completed = np.ones(log.n, dtype=bool)
    if completion.radiotherapy:
        completed &= rt_done
    if completion.all_sites_treated:
        completed &= all_treated
    for ph, minimum in completion.min_cycles.items():
        completed &= cycles_by_phase[ph] >= minimum
    out["completed"] = completed

    metastasis = out["metastasis_treatment"].to_numpy()
    pathway = np.select(
        [
            completed,
            refused,
            np.isin(death_phase, CURATIVE_PHASES)
            | (died & bsc_decision & (timing == "during_treatment")),
            np.isin(end_phase, CURATIVE_PHASES),
            rectum_treated & ~all_treated,
            metastasis & ~rectum_treated,
            all_treated & np.isnan(progression),
        ],
        [
            "completed", "refused", "died_during_treatment", "on_treatment_at_horizon",
            "bowel_surgery_only", "metastasis_treatment_only", "incomplete_adjuvant",
        ],
        default="palliative",
    )
    out["pathway"] = pd.Categorical(pathway, categories=PATHWAYS)
    return out.reset_index(drop=True)
