"""One virtual patient's running state, and the waits that let disease interrupt treatment.

Every wait goes through :meth:`Patient.hold`, which ends early when the next *alert* falls inside
it: death, the end of follow-up, or symptoms revealing a progression that imaging has not found.
The alert then raises an exception that unwinds the treatment steps to the pathway, which logs
the exit or reroutes the patient. One patient process, no polling, no extra simpy events.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import simpy

from sim.model import events as ev
from sim.model.disease import DiseaseClock
from sim.model.events import EventLogger, EventRow
from sim.model.inputs import PatientAttributes
from sim.model.rng import Stream

if TYPE_CHECKING:
    from sim.model.plans import Plan

#: a wait inside a patient's simpy process (what :meth:`Patient.hold` returns)
Wait = Generator[simpy.Event, Any, None]


class PatientExit(Exception):
    """The patient leaves the model (death or end of follow-up)."""


class Died(PatientExit):
    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


class FollowUpEnded(PatientExit):
    pass


class ProgressionDetected(Exception):
    """Progression found during a curative phase: the pathway reroutes the patient."""


class Patient(EventLogger):
    __slots__ = (
        "attrs", "disease", "t_end", "t_alert", "detected",
        "palliative", "exit", "tox", "immuno", "response_draws", "decisions", "durations", "surgery",
        "regimen", "rt_course", "sites", "untreated", "local_treatment_started", "left_clear",
        "rt_end", "curative_chemo_days", "cycles", "dose_reduced", "response", "decision", "last_surgery",
        "adjuvant_delay", "adjuvant_prevented_by", "immunotherapy_stopped", "courses",
    )

    def __init__(
        self,
        index: int,
        env: simpy.Environment,
        flat_log: list[Any],
        attrs: PatientAttributes,
        disease: DiseaseClock,
        t_end: float,
        streams: dict[str, Stream],
    ) -> None:
        self.index = index
        self.env = env
        self.flat_log = flat_log
        self.phase = "neoadjuvant"
        self.attrs = attrs
        self.disease = disease
        self.t_end = t_end
        self.detected = False
        self.palliative = False
        self.exit: BaseException | None = None
        self.tox = streams["toxicity"]
        self.immuno = streams.get("immunotherapy")
        self.response_draws = streams["response"]
        self.decisions = streams["decisions"]
        self.durations = streams["durations"]
        self.surgery = streams["surgery"]
        self.regimen = attrs.regimen
        self.rt_course = attrs.radiotherapy_course
        self.sites = attrs.sites
        self.untreated: set[str] = set(self.sites)
        self.local_treatment_started = False
        self.left_clear = False
        self.rt_end: float | None = None
        self.curative_chemo_days = 0.0
        self.cycles = 0
        self.dose_reduced = False
        self.response = "SD"
        self.decision: str | None = None
        self.last_surgery: float | None = None
        self.adjuvant_delay = 0.0
        self.adjuvant_prevented_by: str | None = None
        self.immunotherapy_stopped = False  # for good, after a grade 3-4 irAE
        self.courses = 0  # courses of therapy running now (chemotherapy, radiotherapy, ...)
        self._update_alert()

    # ---------------------------------------------------------------- waits
    def _update_alert(self) -> None:
        d = self.disease
        t = d.t_death
        if self.t_end < t:
            t = self.t_end
        if not self.detected and d.t_symptoms < t:
            t = d.t_symptoms
        self.t_alert = t  # the first of the three, as min() takes it

    def hold(self, days: float) -> Wait:
        """Wait ``days``, unless death, end of follow-up or symptoms come first."""
        env = self.env
        end = env.now + days
        while end >= self.t_alert:
            yield env.timeout(max(0.0, self.t_alert - env.now))
            self._fire()
        if end > env.now or env.peek() <= end:
            yield env.timeout(end - env.now)
        # else a wait of no time with no other event due now: the engine would resume this
        # process next (every event of the model has one waiter), so it goes on at once, in the
        # same order, without an engine event (about 2 a patient)

    def hold_until(self, time: float) -> Wait:
        return self.hold(max(0.0, time - self.env.now))

    def hold_forever(self) -> Wait:
        return self.hold(math.inf)

    def hold_logging(self, planned: list[EventRow], until: float,
                     settle: Callable[[float, bool], None] | None = None) -> Wait:
        """Wait until ``until`` while a planned series of events happens.

        The rows are logged when the wait ends; if an alert cuts it short, only the rows strictly
        before that moment are logged (what really happened), ``settle(now, False)`` updates the
        patient, and the alert goes on unwinding.
        One engine event stands for the whole series (a course of cycles, a schedule of visits).
        """
        try:
            yield from self.hold(max(0.0, until - self.env.now))
        except BaseException:
            now = self.env.now
            self.log_rows_before(planned, now)
            if settle is not None:
                settle(now, False)
            raise
        self.log_rows(planned)
        if settle is not None:
            settle(self.env.now, True)

    def carry_out(self, plan: Plan) -> Wait:
        """Wait through a :class:`~sim.model.plans.Plan`, then settle it (also when cut short).

        Until the plan's first treatment (a linac slot, the first adjuvant cycle) the patient
        waits untreated; from then to its end a course is running (see :meth:`begin_course`)."""
        if plan.start > self.env.now:
            try:
                yield from self.hold(plan.start - self.env.now)
            except BaseException:
                plan.settle(self.env.now, False)
                raise
        self.begin_course()
        try:
            yield from self.hold_logging(plan.rows, plan.end, plan.settle)
        finally:
            self.end_course()

    def begin_course(self) -> None:
        """A course of therapy starts: while one runs the disease is treated (waiting is not)."""
        self.courses += 1
        if self.courses == 1:
            self.update_hazard_state()

    def end_course(self) -> None:
        self.courses -= 1
        if self.courses == 0 and self.exit is None:
            self.update_hazard_state()

    def _fire(self) -> None:
        if self.exit is not None:  # a concurrent step of this patient already raised it
            raise self.exit
        now = self.env.now
        if now < self.t_alert:
            return
        d = self.disease
        if self.t_end <= d.t_death and now >= self.t_end:
            self.exit = FollowUpEnded()
            raise self.exit
        if now >= d.t_death:
            self.exit = Died(d.death_cause())
            raise self.exit
        self._detect("symptoms")

    # ------------------------------------------------------------- disease
    def image(self) -> None:
        """Imaging at this moment finds a true progression that has already happened."""
        if not self.detected and self.disease.t_progression <= self.env.now:
            self._detect("imaging")

    def _detect(self, how: str) -> None:
        self.detected = True
        self.log(ev.PROGRESSION_DETECTED, how, self.disease.t_progression)
        ratio = self.disease.p.during_treatment_death_hr
        if ratio != 1.0 and self.phase not in ev.SURVEILLANCE_PHASES:
            # the disease grew through the treatment: it is resistant to it
            self.disease.change_death_hazard(self.env.now, ratio)
        self._update_alert()
        if not self.palliative:
            self.exit = ProgressionDetected(how)
            raise self.exit

    def update_hazard_state(self) -> None:
        """Recompute the disease state from what has been treated and what is running, from now
        on. The state is the disease left (nothing treated locally yet, some sites, all sites,
        or sites left untreated for good: on the palliative pathway, or in surveillance after an
        R2 resection, whatever was treated before); while
        no course runs against untreated sites (waiting for a slot, a break between courses, a
        pause in palliative therapy, supportive care) its hazard is multiplied by the untreated
        factor."""
        clear = not self.untreated or self.left_clear
        if clear:
            state = "all_sites_treated"
        elif self.palliative or self.phase in ev.SURVEILLANCE_PHASES:
            state = "palliative"  # sites left untreated for good, whatever was treated before
        elif self.local_treatment_started:
            state = "partially_treated"  # between staged operations
        else:
            state = "on_treatment"
        # nothing running against untreated sites: the untreated factor, and micrometastases grow
        self.disease.set_state(self.env.now, state, not self.courses and not clear)
        self._update_alert()

    def treat_site(self, site: str) -> None:
        if site in self.untreated:
            self.untreated.discard(site)
            self.log(ev.SITE_TREATED, site)

    def enter_palliative(self, reason: str, phase: str = "palliative") -> None:
        self.phase = phase
        self.palliative = True
        # sites left untreated by choice beside treated ones, after a course they did not
        # progress through, may hold no viable tumour (a sterilised rectum, lesions that vanished
        # or were never metastases): the disease then runs as if every site had been treated
        self.left_clear = (not self.detected and self.decision in ("primary_only", "metastases_only")
                           and self.disease.left_clear)
        self.log(ev.PALLIATIVE_START, reason)
        self.update_hazard_state()
