"""The event vocabulary: every row of the event log has one of these ``event`` values.

A row is ``(patient_id, day, event, phase, detail, value)``: ``day`` is absolute simulation time in
days (day 0 is a Monday), ``phase`` the clinical phase the patient was in. What ``detail`` and
``value`` hold depends on the event, as documented in :data:`EVENT_DOCS`.
"""

from __future__ import annotations

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
    PROCEDURE: ("procedure name, e.g. tme, liver_resection, lung_rfa, reoperation",
                "theatre or linac wait in days"),
    SITE_TREATED: ("site: rectum, liver, lung, distant_lymph_nodes", "0"),
    PATHOLOGY: ("ypCR or residual", "Mandard tumour regression grade (1 = ypCR)"),
    COMPLICATION: ("type (Clavien-Dindo >= III)", "grade (3 or 4)"),
    ADJUVANT_CANCELLED: ("reason (complication type)", "0"),
    WATCH_AND_WAIT: ("sites under surveillance", "0"),
    FOLLOW_UP_START: ("", "0"),
    FOLLOW_UP_VISIT: ("", "visit number"),
    PALLIATIVE_START: ("reason: palliative (MDT), refused, progression, primary_only", "0"),
    RESTAGING: ("", "0"),
    PROGRESSION_DETECTED: ("how: imaging or symptoms", "day of the (latent) true progression"),
    DEATH: ("cause: cancer or other", "0"),
    END_OF_FOLLOW_UP: ("", "0 (administrative censoring at the horizon)"),
    IMMUNOTHERAPY_DOSE: ("agent, e.g. sintilimab", "dose number"),
    IMMUNOTHERAPY_STOPPED: ("reason: immune_related", "doses given"),
    REGIONAL_SESSION: ("procedure, e.g. hepatic_arterial_therapy (chemoinfusion/embolization)",
                       "session number"),
}
