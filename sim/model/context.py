"""What a centre's step runners share (the clock, the calendars, the compiled parameters), and
what a step runner is.

A step runner is built once per run from a validated step of the strategy (see
:mod:`sim.model.pathway`); called with a patient, it returns the simpy process body of that step,
whose return value is the next phase (routing steps) or ``None`` (go on with the phase).
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import simpy

from sim.model.calendars import SlotCalendar
from sim.model.patient import Patient

if TYPE_CHECKING:
    from sim.model.disease import DiseaseParams
    from sim.model.treatments.chemotherapy import ChemoParams
    from sim.model.treatments.follow_up import FollowUpParams
    from sim.model.treatments.immunotherapy import ImmunoParams
    from sim.model.treatments.local_treatment import LocalParams
    from sim.model.treatments.mdt import MdtParams
    from sim.model.treatments.palliative import PalliativeParams
    from sim.model.treatments.radiotherapy import RtParams
    from sim.model.treatments.reassessment import ResponseParams
    from sim.model.treatments.regional_therapy import RegionalParams
    from sim.scenario.loader import Scenario

#: the process body of one step for one patient: its value is the next phase, or None
StepProcess = Generator[simpy.Event, Any, str | None]
#: a step runner: patient -> the process body of its step
Runner = Callable[[Patient], StepProcess]


@dataclass(frozen=True)
class CompiledParams:
    """Parameters in model units, built once per run from the frozen scenario."""

    chemo: ChemoParams
    rt: RtParams
    response: ResponseParams
    mdt_params: MdtParams
    local: LocalParams
    follow_up: FollowUpParams
    disease: DiseaseParams
    immunotherapy: ImmunoParams | None = None
    """None: the scenario has no ``parameters.immunotherapy`` (no strategy may give it)"""
    regional: RegionalParams | None = None
    """None: the scenario has no ``parameters.regional_therapy``"""
    palliative: PalliativeParams | None = None
    """None: the scenario has no ``parameters.palliative_therapy`` (restaging only)"""


class Context:
    """What step runners share within one centre: the clock, the calendars, the parameters."""

    def __init__(self, env: simpy.Environment, scenario: Scenario, compiled: CompiledParams) -> None:
        res = scenario.resources
        self.env = env
        self.linac = SlotCalendar("linac", res.linac.weekdays, res.linac.slots_per_day)
        self.theatre = SlotCalendar("theatre", res.theatre.weekdays, res.theatre.slots_per_day)
        self.mdt = SlotCalendar("mdt", res.mdt.weekdays, res.mdt.slots_per_day)
        self.chemo = compiled.chemo
        self.rt = compiled.rt
        self.response = compiled.response
        self.mdt_params = compiled.mdt_params
        self.local = compiled.local
        self.follow_up = compiled.follow_up
        self.disease = compiled.disease
        self.immunotherapy = compiled.immunotherapy
        self.regional = compiled.regional
        self.palliative = compiled.palliative
