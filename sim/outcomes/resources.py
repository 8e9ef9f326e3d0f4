"""Resource use, sessions and waits: the one definition, for the summary, the dashboard's resource,
queue and waiting-time panels, sweeps and calibration alike.

Each centre has a linac, a theatre and an MDT, each a calendar of slots (:mod:`sim.model.calendars`).
From the event log:

- **linac**: a slot is a fraction (``rt_fraction``); a wait is a course's, from its booking to the
  first fraction (``rt_booked``: the row's day is the booking, its value the wait). SBRT of a
  metastasis is a linac course like any other.
- **theatre**: a slot is a *session*: the one booking of the theatre for every operation and
  ablation a patient has together (the ``procedure`` rows of a patient on one day: a simultaneous
  resection of the rectum and the liver is one session). Re-operations for complications are
  logged as procedures but take no booked slot, and ``*_sbrt`` procedures are given on the linac
  (their wait is the course's), so neither is a theatre session. A theatre wait is a session's:
  one per session, from asking for the slot to the operation (the row's value, which every
  procedure of the session shares).
- **MDT**: a slot is a case discussed (``mdt``); its wait is the row's value, up to the meeting.

This is the definition the summary has always used: it counts what was booked, so waits, slots
used and utilisation describe the same bookings. The dashboard's waiting-time panel used to count
every procedure row but re-operations instead (2,441 "theatre waits" against 2,089 sessions on
the reference at 2,000 patients, seed 3): a simultaneous resection twice, and SBRT's linac wait
as a theatre wait.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pandas as pd

from sim.model import events as ev
from sim.outcomes.schemas import labels_of

if TYPE_CHECKING:
    from sim.scenario.loader import Calendar, Resources

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

RESOURCES = ("linac", "theatre", "mdt")
#: the events :func:`resource_log` reads: a reader of the log may keep only these rows
RESOURCE_EVENTS = (ev.RT_FRACTION, ev.RT_BOOKED, ev.PROCEDURE, ev.MDT)
#: per resource: utilisation, mean_wait_days, p90_wait_days, slots_used (``summary.json``)
ResourceSummary = dict[str, dict[str, float | int]]


@dataclass(frozen=True)
class ResourceLog:
    """One resource's slots and waits, read from the event log.

    ``slot_patient``/``slot_day``: the patient and day of every slot used. ``wait_patient``/
    ``wait_days``: every wait, in days, with its patient; the wait runs from ``wait_start`` to
    ``wait_end`` (days), the day the patient asked and the day of the slot."""

    slot_patient: IntArray
    slot_day: FloatArray
    wait_patient: IntArray
    wait_days: FloatArray
    wait_start: FloatArray
    wait_end: FloatArray


def _matching(column: pd.Series, keep: Callable[[str], bool]) -> npt.NDArray[np.bool_]:
    """Rows whose label ``keep`` accepts, decided once per category, not once per row."""
    labels = labels_of(column)
    codes = [i for i, name in enumerate(labels.categories) if keep(str(name))]
    return np.isin(labels.codes, codes)


def _in_theatre(name: str) -> bool:
    return name != "reoperation" and not name.endswith("_sbrt")


def resource_log(events: pd.DataFrame, names: Iterable[str] = RESOURCES) -> dict[str, ResourceLog]:
    """Per resource in ``names`` (of :data:`RESOURCES`), its slots and waits (see the module's
    docstring). ``events`` needs only the rows of :data:`RESOURCE_EVENTS`; its ``event`` and
    ``detail`` columns may be categorical or plain text."""
    event = events["event"]
    pid = events["patient_id"].to_numpy(np.int64)
    day, value = events["day"].to_numpy(np.float64), events["value"].to_numpy(np.float64)
    out = {}
    for name in names:
        if name == "linac":
            fraction, booked = (event == ev.RT_FRACTION).to_numpy(), (event == ev.RT_BOOKED).to_numpy()
            slots = (pid[fraction], day[fraction])
            waits = (pid[booked], value[booked], day[booked], day[booked] + value[booked])
        elif name == "theatre":
            procedure = (event == ev.PROCEDURE).to_numpy()
            session = procedure & _matching(events["detail"], _in_theatre)
            # one session per patient and day, however many procedures it held
            first = ~pd.DataFrame({"p": pid[session], "d": day[session]}).duplicated().to_numpy()
            p, d, w = pid[session][first], day[session][first], value[session][first]
            slots, waits = (p, d), (p, w, d - w, d)
        elif name == "mdt":
            case = (event == ev.MDT).to_numpy()
            slots = (pid[case], day[case])
            waits = (pid[case], value[case], day[case] - value[case], day[case])
        else:
            raise ValueError(f"unknown resource {name!r} (expected one of {RESOURCES})")
        out[name] = ResourceLog(*slots, *waits)
    return out


# ------------------------------------------------------------------ the summary's reduction

@dataclass(frozen=True)
class ResourceUse:
    """What the summary needs of one resource's use, reduced per centre so that blocks of whole
    centres combine exactly: each centre's first and last day of use, slots used, the waits."""

    spans: pd.DataFrame  # index centre; columns min, max (days)
    used: int
    waits: FloatArray


def _use(log: ResourceLog, population: pd.DataFrame) -> ResourceUse:
    ids = population["patient_id"].to_numpy()
    order = np.argsort(ids, kind="stable")
    pos = order[np.searchsorted(ids[order], log.slot_patient)]
    centre = population["centre"].to_numpy()[pos]
    day = np.floor(log.slot_day).astype(np.int64)
    spans = pd.DataFrame({"centre": centre, "day": day}).groupby("centre")["day"].agg(["min", "max"])
    return ResourceUse(spans, len(day), np.asarray(log.wait_days, dtype=np.float64))


def resource_records(events: pd.DataFrame, population: pd.DataFrame,
                     logs: dict[str, ResourceLog] | None = None) -> dict[str, ResourceUse]:
    """Use and waits of the linac, theatre and MDT per centre; ``logs``: the log's
    :func:`resource_log`, when the caller has it already."""
    logs = resource_log(events) if logs is None else logs
    return {name: _use(log, population) for name, log in logs.items()}


def combine_records(parts: list[dict[str, ResourceUse]]) -> dict[str, ResourceUse]:
    """The records of consecutive blocks of whole centres as those of the whole run."""
    return {
        name: ResourceUse(
            pd.concat([p[name].spans for p in parts]),
            sum(p[name].used for p in parts),
            np.concatenate([p[name].waits for p in parts]),
        )
        for name in parts[0]
    }


def _open_slots(weekdays: list[int], slots: int, first: IntArray, last: IntArray) -> int:
    """Slots open on days first..last (inclusive), summed over centres."""
    total = 0
    for w in weekdays:
        total += int(np.sum((last - w) // 7 - (first - 1 - w) // 7))
    return total * slots


def _resource(calendar: Calendar, use: ResourceUse) -> dict[str, float | int]:
    """Utilisation = slots used / slots open between each centre's first and last use."""
    if use.used == 0:
        return {"utilisation": 0.0, "mean_wait_days": 0.0, "p90_wait_days": 0.0, "slots_used": 0}
    offered = _open_slots(calendar.weekdays, calendar.slots_per_day,
                          use.spans["min"].to_numpy(), use.spans["max"].to_numpy())
    waits = use.waits
    return {
        "utilisation": round(use.used / offered, 6) if offered else 0.0,
        "mean_wait_days": round(float(np.mean(waits)), 4) if len(waits) else 0.0,
        "p90_wait_days": round(float(np.quantile(waits, 0.9)), 4) if len(waits) else 0.0,
        "slots_used": int(use.used),
    }


def resource_summary(records: dict[str, ResourceUse], resources: Resources) -> ResourceSummary:
    """Per resource: utilisation, mean and 90th percentile wait (days), slots used."""
    return {name: _resource(getattr(resources, name), use) for name, use in records.items()}


def resource_use(events: pd.DataFrame, population: pd.DataFrame,
                 resources: Resources) -> ResourceSummary:
    """Use and waits of the linac (fractions), theatre (sessions) and MDT (cases)."""
    return resource_summary(resource_records(events, population), resources)


# ------------------------------------------------------------------ over time, per centre

def weekly_use(log: ResourceLog, centres: int = 1) -> pd.DataFrame:
    """Slots used per calendar week (columns week, uses), the mean over ``centres``: each centre
    has its own calendars from day 0, so the use reads against one centre's capacity."""
    week = np.floor(log.slot_day / 7).astype(np.int64)
    counts = pd.Series(week).value_counts().sort_index()
    return pd.DataFrame({"week": counts.index.to_numpy(), "uses": counts.to_numpy() / centres})


def queue_lengths(log: ResourceLog, centres: int = 1) -> pd.DataFrame:
    """Mean number of patients waiting per week (columns week, waiting), the mean over
    ``centres``: a wait counts from the day it starts to the day it ends."""
    start, end = log.wait_start, log.wait_end
    if len(start) == 0:
        return pd.DataFrame({"week": [], "waiting": []})
    first = int(np.floor(start.min()))
    days = int(np.ceil(end.max())) - first + 8
    change = np.zeros(days)
    np.add.at(change, np.floor(start).astype(np.int64) - first, 1.0)
    np.add.at(change, np.floor(end).astype(np.int64) - first, -1.0)
    daily = np.cumsum(change)
    weeks = len(daily) // 7
    weekly = daily[: weeks * 7].reshape(weeks, 7).mean(axis=1)
    return pd.DataFrame({"week": np.arange(weeks) + first // 7, "waiting": weekly / centres})
