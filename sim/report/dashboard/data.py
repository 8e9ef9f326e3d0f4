"""What a dashboard shows, reduced from results directories: curves, counts, samples, never the
raw event log (a 10,000-patient comparison of three strategies must stay a few MB).

:func:`load_strategies` reads ``crcsim run`` directories and ``crcsim compare`` directories (whose
arms are run directories); every other function is a pure reduction of a patient table, an event
log or a comparison.

Memory is bounded whatever the size of the run: only the event rows the panels need are read from
``events.parquet`` (the filter is pushed down to the Parquet reader), and above
:data:`EVENT_PANEL_PATIENTS` patients the event panels show the first whole centres covering that
many patients (see :func:`panel_patients`). The patient table is read whole: panels from it
(overview, survival, pathway, toxicity rates) use every patient.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from sim.errors import InputError
from sim.io.results import RESULTS_SCHEMA_VERSION
from sim.model import events as ev
from sim.outcomes import resources
from sim.outcomes.survival import kaplan_meier

RUN_FILES = ("summary.json", "patients.parquet", "events.parquet", "manifest.json")
SWIMMER_PATIENTS = 40
AT_RISK_MONTHS = (0, 12, 24, 36, 48, 60)
#: Above this many patients, the event panels show the first whole centres covering this many
#: patients: their events fit in memory whatever the size of the run (about 25 rows a patient).
EVENT_PANEL_PATIENTS = 20_000
#: The event types the resource, toxicity and complication panels count.
PANEL_EVENTS = (*resources.RESOURCE_EVENTS, ev.TOXICITY, ev.COMPLICATION)


@dataclass(frozen=True)
class PanelScope:
    """The centres and patients the event panels show, when not all of the run's."""

    first_centre: int
    last_centre: int
    shown: int
    total: int

    @property
    def centres(self) -> str:
        return f"centres {self.first_centre}\u2013{self.last_centre}"

    def __str__(self) -> str:
        return f"{self.centres} ({self.shown:,} of {self.total:,} patients)"


@dataclass
class Strategy:
    """One arm: its summary, patient table and a small sample of its event log.

    The event panels (resources, queues, waits, toxicity by phase, complications, timelines)
    reduce ``events`` over ``panel_patients``, which is ``patients`` itself unless the run is
    larger than :data:`EVENT_PANEL_PATIENTS`; then ``scope`` says which centres they show."""

    name: str
    directory: Path
    summary: dict
    manifest: dict
    patients: pd.DataFrame
    events: pd.DataFrame  # only what the panels need, of panel_patients (see read_events)
    panel_patients: pd.DataFrame
    scope: PanelScope | None = None  # None: the event panels show every patient


@dataclass
class Loaded:
    strategies: list[Strategy]
    comparison: dict | None = None
    calibration: dict | None = None
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(path), None, f"cannot be read as JSON ({exc.__class__.__name__})") from None


def _load_run(directory: Path) -> Strategy:
    missing = [f for f in RUN_FILES if not (directory / f).is_file()]
    if missing:
        raise InputError(str(directory), None, "expected a results directory from crcsim run or "
                         f"crcsim compare (missing {', '.join(missing)})")
    manifest = _read_json(directory / "manifest.json")
    version = manifest.get("results_schema_version")
    if version != RESULTS_SCHEMA_VERSION:
        raise InputError(str(directory / "manifest.json"), "results_schema_version",
                         f"expected results of schema {RESULTS_SCHEMA_VERSION}, got {version!r} "
                         "(rerun the scenario with this crcsim)")
    summary = _read_json(directory / "summary.json")
    patients = pd.read_parquet(directory / "patients.parquet")
    panel = panel_patients(patients)
    events = read_events(directory / "events.parquet", panel)
    return Strategy(summary.get("scenario", directory.name), directory, summary, manifest,
                    patients, events, panel, None if panel is patients else panel_scope(panel, patients))


def panel_patients(patients: pd.DataFrame, bound: int | None = None) -> pd.DataFrame:
    """The patients whose events the event panels show: all of them up to ``bound`` (by default
    :data:`EVENT_PANEL_PATIENTS`), else the first whole centres covering at least ``bound``
    patients. Whole centres, because each has its own linac, theatre and MDT calendars: a part of
    one would show its queues emptier than they were. Returns ``patients`` itself when it is
    not reduced."""
    bound = EVENT_PANEL_PATIENTS if bound is None else bound
    if len(patients) <= bound:
        return patients
    sizes = patients.groupby("centre", sort=True).size()
    centres = int(np.searchsorted(sizes.cumsum().to_numpy(), bound)) + 1
    if centres >= len(sizes):
        return patients
    return patients[patients["centre"].isin(sizes.index[:centres])].reset_index(drop=True)


def panel_scope(panel: pd.DataFrame, patients: pd.DataFrame) -> PanelScope:
    """Which centres and how many patients the event panels show, for the page."""
    centres = panel["centre"]
    return PanelScope(int(centres.min()), int(centres.max()), len(panel), len(patients))


def read_events(path: Path, panel: pd.DataFrame) -> pd.DataFrame:
    """The rows of the event log the panels need, read with the filter pushed down to the
    Parquet reader, so the whole log is never in memory: the resource, toxicity and complication
    events of ``panel`` (for their panels) and every event of its swimmer sample. A few rows per
    patient, in the log's order.

    ``panel`` is the whole patient table or its first centres (consecutive patient ids): the
    log is sorted by patient, so a range of ids skips the row groups (blocks) of other centres."""
    sample = swimmer_sample(panel)
    ids = pc.field("patient_id")
    needed = pc.field("event").isin(list(PANEL_EVENTS)) | ids.isin(pa.array(sample, pa.int64()))
    first, last = int(panel["patient_id"].min()), int(panel["patient_id"].max())
    return pd.read_parquet(path, filters=needed & (ids >= first) & (ids <= last))


def load_strategies(directories: list[Path]) -> Loaded:
    """Read run and comparison directories, in the order given (a comparison adds its arms)."""
    out = Loaded([])
    for directory in map(Path, directories):
        if not directory.is_dir():
            raise InputError(str(directory), None, "expected a results directory")
        if (directory / "comparison.json").is_file():
            comparison = _read_json(directory / "comparison.json")
            for name in comparison.get("arms", {}):
                out.strategies.append(_load_run(directory / name))
            out.comparison = comparison
        else:
            out.strategies.append(_load_run(directory))
    names = [s.name for s in out.strategies]
    if len(set(names)) != len(names):
        raise InputError(str(directories[-1]), None, f"expected strategies with distinct names, got {names}")
    for s in out.strategies:
        if s.scope is not None:
            note = (f"The resource, queue, waiting-time, toxicity-by-phase, complication and "
                    f"timeline panels show {s.scope}; the overview, survival, pathway and "
                    "toxicity-rate panels use every patient.")
            out.notes.append(f"{s.name}: {note}" if len(out.strategies) > 1 else note)
    return out


# ------------------------------------------------------------------------------ reductions

def km_curve(patients: pd.DataFrame, endpoint: str, horizon: float = 120.0) -> dict:
    """Kaplan-Meier estimate with its 95% band on a step grid, and numbers at risk."""
    fit = kaplan_meier(patients[f"{endpoint}_months"], patients[f"{endpoint}_event"])
    keep = fit.timeline <= horizon
    # thin very long curves: a step per 0.25 month is finer than the eye can see
    grid = np.unique(np.round(fit.timeline[keep] * 4) / 4)
    idx = np.searchsorted(fit.timeline, grid, side="right") - 1
    return {
        "months": grid.tolist(),
        "survival": fit.survival[idx].round(5).tolist(),
        "low": fit.lower[idx].round(5).tolist(),
        "high": fit.upper[idx].round(5).tolist(),
        "at_risk": fit.numbers_at_risk(tuple(m for m in AT_RISK_MONTHS if m <= horizon)),
    }


def binomial_interval(k: int, n: int) -> tuple[float, float]:
    """Wilson 95% interval of k/n."""
    if n == 0:
        return (math.nan, math.nan)
    z = 1.959964
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


def rate(mask) -> dict:
    mask = np.asarray(mask, dtype=bool)
    return rate_of(int(mask.sum()), int(mask.size))


def rate_of(k: int, n: int) -> dict:
    """k of n patients, with the Wilson 95% interval."""
    low, high = binomial_interval(k, n)
    return {"rate": k / n if n else math.nan, "low": low, "high": high, "count": k, "n": n}


def toxicity_rates(patients: pd.DataFrame) -> dict:
    """Grade 3-4 rates by type (preoperative phase) with intervals, from the patient table only:
    every patient, whatever part of the event log the event panels show."""
    types = [c.removeprefix("grade34_") for c in patients.columns
             if c.startswith("grade34_") and c not in ("grade34_toxicity", "grade34_toxicity_any_phase")]
    out = {t: rate(patients[f"grade34_{t}"]) for t in types}
    out["any type"] = rate(patients["grade34_toxicity"])
    out["any type, any phase"] = rate(patients["grade34_toxicity_any_phase"])
    return out


def _stage(values, label) -> tuple[np.ndarray, list[str]]:
    """A pathway stage as (code per patient, label per code): labels are made once per distinct
    value, not once per patient (a million-patient run has a handful of values)."""
    codes, uniques = pd.factorize(np.asarray(values, dtype=object), use_na_sentinel=False)
    return codes, [label(str(u)) for u in uniques]


def _either(mask, yes: tuple[np.ndarray, list[str]], no: str) -> tuple[np.ndarray, list[str]]:
    codes, labels = yes
    return np.where(mask, codes, len(labels)), [*labels, no]


def pathway_flows(patients: pd.DataFrame) -> list[tuple[str, str, int]]:
    """(source, target, patients) links: start -> neoadjuvant therapy -> MDT decision -> local
    treatment (bowel-first, metastases-first, simultaneous) -> adjuvant -> outcome; within each
    step, the largest flows first."""
    n = len(patients)
    zero = pd.Series(0, index=patients.index)
    pre = patients.get("neoadjuvant_cycles", zero) + patients.get("consolidation_cycles", zero)
    neo = (pre > 0) | (patients["rt_fractions"] > 0)
    operated = patients["rectal_surgery"] | patients["metastasis_treatment"]
    adjuvant = patients.get("adjuvant_cycles", zero) > 0
    stages = [
        (np.zeros(n, dtype=np.int64), ["start"]),
        (np.where(neo, 0, 1), ["neoadjuvant therapy", "no neoadjuvant therapy"]),
        _stage(patients["mdt_decision"], lambda v: "MDT: " + (v or "no MDT").replace("_", " ")),
        _either(operated, _stage(patients["sequence"], lambda v: "local: " + v.replace("_", " ")),
                "no local treatment"),
        (np.where(adjuvant, 0, 1), ["adjuvant chemotherapy", "no adjuvant chemotherapy"]),
        _stage(patients["pathway"], lambda v: "outcome: " + v.replace("_", " ")),
    ]
    links: dict[tuple[str, str], int] = {}
    for (a, a_labels), (b, b_labels) in zip(stages[:-1], stages[1:], strict=True):
        pairs, counts = np.unique(a * len(b_labels) + b, return_counts=True)
        step: dict[tuple[str, str], int] = {}
        for pair, count in zip(pairs.tolist(), counts.tolist(), strict=True):
            key = (a_labels[pair // len(b_labels)], b_labels[pair % len(b_labels)])
            step[key] = step.get(key, 0) + count
        for key in sorted(step, key=lambda k: (-step[k], k)):
            links[key] = links.get(key, 0) + step[key]
    return [(a, b, n) for (a, b), n in links.items()]


def swimmer_sample(patients: pd.DataFrame, n: int = SWIMMER_PATIENTS) -> np.ndarray:
    """Patient ids for the swimmer plot: spread over the pathway categories, reproducibly."""
    ids = []
    groups = patients.groupby(patients["pathway"].astype(str), sort=True)["patient_id"]
    per = max(1, n // max(1, groups.ngroups))
    for _, g in groups:
        ids.extend(g.sort_values().iloc[:: max(1, len(g) // per)][:per].tolist())
    return np.array(sorted(ids)[:n], dtype=np.int64)


SWIMMER_EVENTS = {
    ev.CHEMO_CYCLE: "chemotherapy cycle", ev.RT_FRACTION: "radiotherapy fraction",
    ev.PROCEDURE: "surgery / ablation", ev.TOXICITY: "grade 3-4 toxicity",
    ev.PROGRESSION_DETECTED: "progression detected", ev.DEATH: "death",
    ev.IMMUNOTHERAPY_DOSE: "immunotherapy dose", ev.REGIONAL_SESSION: "regional liver therapy",
    ev.MDT: "MDT", ev.END_OF_FOLLOW_UP: "end of follow-up", ev.TREATMENT_BREAK: "treatment break",
}


def swimmer_rows(events: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Events of the sampled patients in months since their first treatment."""
    ids = swimmer_sample(patients)
    arrival = patients.set_index("patient_id")["arrival_day"]
    rows = events[events["patient_id"].isin(ids) & events["event"].isin(list(SWIMMER_EVENTS))].copy()
    rows["months"] = (rows["day"] - rows["patient_id"].map(arrival)) / (365.25 / 12)
    rows["what"] = rows["event"].map(SWIMMER_EVENTS)
    rows["pathway"] = rows["patient_id"].map(patients.set_index("patient_id")["pathway"].astype(str))
    return rows[["patient_id", "months", "what", "detail", "pathway"]]


#: the panels' resource labels, by the name :mod:`sim.outcomes.resources` gives each resource
RESOURCE_LABELS = {"linac": "linac", "theatre": "theatre", "mdt": "MDT"}
#: the event that is a slot of each resource, as the page names the resource panels
SLOT_EVENTS = {ev.RT_FRACTION: "linac", ev.PROCEDURE: "theatre", ev.MDT: "mdt"}


def weekly_use(events: pd.DataFrame, event: str, centres: int = 1) -> pd.DataFrame:
    """Slots of a resource used per calendar week (fractions, theatre sessions, MDT cases), per
    centre, as :func:`sim.outcomes.resources.weekly_use` counts them; ``event`` names the
    resource by its slot event."""
    name = SLOT_EVENTS[event]
    return resources.weekly_use(resources.resource_log(events, (name,))[name], centres)


def waits(events: pd.DataFrame) -> dict[str, np.ndarray]:
    """Waiting times in days (linac courses, theatre sessions, MDT cases), the summary's."""
    return {RESOURCE_LABELS[name]: log.wait_days for name, log in resources.resource_log(events).items()}


def toxicity_by_phase(events: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    """Share of patients with a grade 3-4 event, by type and clinical phase, with intervals."""
    tox = events[events["event"] == ev.TOXICITY]
    n = len(patients)
    rows = []
    for (phase, kind), g in tox.groupby([tox["phase"].astype(str), tox["detail"].astype(str)]):
        rows.append({"phase": phase, "type": kind, **rate_of(g["patient_id"].nunique(), n)})
    return pd.DataFrame(rows, columns=["phase", "type", "rate", "low", "high", "count", "n"])


def complications_by_type(events: pd.DataFrame, patients: pd.DataFrame) -> pd.DataFrame:
    comp = events[events["event"] == ev.COMPLICATION]
    n = len(patients)
    rows = []
    for kind, g in comp.groupby(comp["detail"].astype(str)):
        rows.append({"type": kind, **rate_of(g["patient_id"].nunique(), n)})
    return pd.DataFrame(rows, columns=["type", "rate", "low", "high", "count", "n"])


def queue_lengths(events: pd.DataFrame, centres: int = 1) -> dict[str, pd.DataFrame]:
    """Mean number of patients waiting for each resource, per week and per centre (the mean over
    the log's ``centres``: each centre's patients queue only for its own calendars)."""
    return {RESOURCE_LABELS[name]: resources.queue_lengths(log, centres)
            for name, log in resources.resource_log(events).items()}
