"""The event log's rows and vocabulary: every row has one of these ``event`` values.

A row is an :data:`EventRow` ``(patient_id, day, event, phase, detail, value)``: ``day`` is
absolute simulation time in days (day 0 is a Monday), ``phase`` the clinical phase the patient was
in. What ``detail`` and ``value`` hold depends on the event, as documented in :data:`EVENT_DOCS`.

Rows are built here only, from named fields (:func:`row`, :func:`series`, and
:class:`EventLogger`, the patient's own log), and read here only (:func:`day_of`, :func:`before`,
:func:`log_columns`). The log itself is one flat list, the fields of each row in turn: turning it
into columns is then a slice per column instead of a transpose of tuples.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import chain
from operator import itemgetter
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    import simpy

ARRIVAL = "arrival"
CHEMO_CYCLE = "chemo_cycle"
TOXICITY = "toxicity"
CYCLE_DELAY = "cycle_delay"
DOSE_REDUCTION = "dose_reduction"
CHEMO_STOPPED = "chemo_stopped"
RT_BOOKED = "rt_booked"
RT_FRACTION = "rt_fraction"
RT_COMPLETED = "rt_completed"
RT_STOPPED = "rt_stopped"
REASSESSMENT = "reassessment"
MDT = "mdt"
PROCEDURE = "procedure"
SITE_TREATED = "site_treated"
PATHOLOGY = "pathology"
COMPLICATION = "complication"
ADJUVANT_CANCELLED = "adjuvant_cancelled"
WATCH_AND_WAIT = "watch_and_wait"
FOLLOW_UP_START = "follow_up_start"
FOLLOW_UP_VISIT = "follow_up_visit"
PALLIATIVE_START = "palliative_start"
RESTAGING = "restaging"
SUPPORTIVE_CARE = "supportive_care"
TREATMENT_BREAK = "treatment_break"
PROGRESSION_DETECTED = "progression_detected"
DEATH = "death"
END_OF_FOLLOW_UP = "end_of_follow_up"
IMMUNOTHERAPY_DOSE = "immunotherapy_dose"
IMMUNOTHERAPY_STOPPED = "immunotherapy_stopped"
REGIONAL_SESSION = "regional_session"


#: event -> (meaning of ``detail``, meaning of ``value``)
EVENT_DOCS: dict[str, tuple[str, str]] = {
    ARRIVAL: ("centre index", "age in years; the day is the first treatment"),
    CHEMO_CYCLE: ("regimen", "cycle number, counting every cycle the patient had"),
    TOXICITY: ("CTCAE type: hematological, gastrointestinal, neurological, dermatological, "
               "immune_related", "grade (3 or 4)"),
    CYCLE_DELAY: ("reason (toxicity)", "delay of the next cycle in days"),
    DOSE_REDUCTION: ("regimen", "cycle number after which the dose is reduced"),
    CHEMO_STOPPED: ("reason: toxicity or adherence", "cycles given in this phase"),
    RT_BOOKED: ("course: LCRT, SCRT, SBRT", "linac wait in days (first fraction - earliest)"),
    RT_FRACTION: ("course", "fraction number"),
    RT_COMPLETED: ("course", "fractions delivered"),
    RT_STOPPED: ("course", "fractions delivered before stopping"),
    REASSESSMENT: ("clinical response: CR, PR, SD", "0"),
    MDT: ("decision", "wait in days for a place at the meeting"),
    PROCEDURE: ("procedure name, e.g. tme, liver_resection, lung_rfa, reoperation, exploration "
                "(a laparotomy that found the liver unresectable)",
                "theatre or linac wait in days"),
    SITE_TREATED: ("site: rectum, liver, lung, distant_lymph_nodes", "0"),
    PATHOLOGY: ("ypCR or residual", "Mandard tumour regression grade (1 = ypCR)"),
    COMPLICATION: ("type (Clavien-Dindo >= III)", "grade (3 or 4)"),
    ADJUVANT_CANCELLED: ("reason (complication type)", "0"),
    WATCH_AND_WAIT: ("sites under surveillance", "0"),
    FOLLOW_UP_START: ("", "0"),
    FOLLOW_UP_VISIT: ("", "visit number"),
    PALLIATIVE_START: ("reason: palliative (MDT), refused, progression, primary_only", "0"),
    RESTAGING: ("'' (palliative), the phase of a course (palliative, adjuvant) or RECIST "
                "(regional therapy)", "restaging number"),
    SUPPORTIVE_CARE: ("why: decision (the MDT's or the patient's) or after_therapy (no further "
                      "line)", "0; from here the cancer death hazard is the supportive-care one"),
    TREATMENT_BREAK: ("'' (the first palliative line ended, the disease controlled: restaging "
                      "goes on off treatment)", "0"),
    PROGRESSION_DETECTED: ("how: imaging or symptoms", "day of the (latent) true progression"),
    DEATH: ("cause: cancer or other", "0"),
    END_OF_FOLLOW_UP: ("", "0 (administrative censoring at the horizon)"),
    IMMUNOTHERAPY_DOSE: ("agent, e.g. sintilimab", "dose number"),
    IMMUNOTHERAPY_STOPPED: ("reason: immune_related", "doses given"),
    REGIONAL_SESSION: ("procedure, e.g. hepatic_arterial_therapy (chemoinfusion/embolization)",
                       "session number"),
}


#: phases of surveillance without anti-cancer treatment: a progression found in one of them was
#: found after treatment, in any other phase (every treatment phase) during it (Li 2021 Table 3).
#: A break after a first palliative line is one: the line has ended, only restaging goes on.
SURVEILLANCE_PHASES: Final = ("follow_up", "watch_and_wait", "treatment_break", "supportive_care")

#: the fields of an event row, in order (the flat log holds them one row after the other)
FIELDS = ("patient_id", "day", "event", "phase", "detail", "value")
_DAY: Final = 1  # FIELDS[1], as a literal index, so that the type of a row's day is known

EventRow = tuple[int, float, str, str, str, float]
"""One event of one patient, the :data:`FIELDS` in order. Built here only (:func:`row`,
:func:`series`, :class:`EventLogger`), read here only (:func:`day_of`, :func:`before`,
:func:`log_columns`).

A plain tuple, not a NamedTuple: rows are the model's hot path (about 50 a patient), and making a
tuple subclass instance costs three times a tuple (NamedTuple rows added 9% to the model's
instructions)."""


def row(*, patient_id: int, day: float, event: str, phase: str, detail: str = "",
        value: float = 0.0) -> EventRow:
    """The event row of these fields."""
    return (patient_id, day, event, phase, detail, value)


def series(*, patient_id: int, days: Iterable[float], event: str, phase: str,
           detail: str = "") -> list[EventRow]:
    """Rows of one event on each of ``days``, numbered 1, 2, ... in ``value``: the fractions of
    a radiotherapy course, the visits of a follow-up schedule (most of the log's rows, built
    without a call a row)."""
    return [(patient_id, day, event, phase, detail, float(k)) for k, day in enumerate(days, 1)]


class EventLogger:
    """What a patient logs, as rows of its centre's flat log (the base of
    :class:`sim.model.patient.Patient`).

    Its rows are built here, beside the row's fields, as :func:`row` builds them but without a
    call a row: a patient logs a dozen events this way, and logging them through :func:`row`
    (a call with named fields) cost 1.4% of the model's instructions."""

    __slots__ = ("index", "env", "flat_log", "phase")
    index: int
    """the patient's id"""
    env: simpy.Environment
    flat_log: list[Any]
    """the centre's event log: the fields of each row in turn"""
    phase: str
    """the clinical phase the patient is in"""

    def log(self, event: str, detail: str = "", value: float = 0.0) -> None:
        """Log ``event`` now, in the patient's current phase."""
        self.flat_log.extend((self.index, self.env.now, event, self.phase, detail, value))

    def log_at(self, day: float, event: str, detail: str = "", value: float = 0.0) -> None:
        """Log ``event`` on ``day``, in the patient's current phase."""
        self.flat_log.extend((self.index, day, event, self.phase, detail, value))

    def log_rows(self, rows: Iterable[EventRow]) -> None:
        """Log planned rows, as they are."""
        self.flat_log.extend(chain.from_iterable(rows))

    def log_rows_before(self, rows: Iterable[EventRow], now: float) -> None:
        """Log the planned rows that happened: those strictly before ``now``."""
        self.flat_log.extend(chain.from_iterable(before(rows, now)))


#: when the event of a row happens (absolute simulation day): a C-level getter, to sort rows by
day_of: Callable[[EventRow], float] = itemgetter(_DAY)


def before(rows: Iterable[EventRow], now: float) -> list[EventRow]:
    """The rows of events strictly before ``now``: what happened of a plan cut short."""
    return [r for r in rows if r[_DAY] < now]


def log_columns(flat: list[Any]) -> dict[str, list[Any]]:
    """The flat log (rows' fields one after the other) as one column per field, by name."""
    width = len(FIELDS)
    if len(flat) % width:
        raise ValueError(f"event log length is not a multiple of its {width} fields")
    return {name: flat[i::width] for i, name in enumerate(FIELDS)}
