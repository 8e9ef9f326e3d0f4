"""One centre's simpy simulation: arrivals, patient processes, shared calendars.

Patients are split, in order, into centres of ``run.centre_size``; each centre is an independent
simpy environment with its own linac, theatre and MDT. The split is fixed by the scenario, never by
the number of workers, so results are identical however centres are distributed. This module sees
only validated, compiled inputs: no YAML, no pandas, no files.
"""

from __future__ import annotations

import gc
from dataclasses import dataclass

import numpy as np
import simpy

from sim.model import events as ev
from sim.model.calendars import SlotCalendar
from sim.model.disease import DiseaseClock, DiseaseParams, compile_disease
from sim.model.hazards import DAYS_PER_MONTH
from sim.model.pathway import Program, compile_strategy, patient_process
from sim.model.patient import Patient
from sim.model.rng import PURPOSES, Stream, centre_generator, row_views, uniform_rows
from sim.model.treatments.chemotherapy import compile_chemotherapy
from sim.model.treatments.follow_up import compile_follow_up
from sim.model.treatments.immunotherapy import compile_immunotherapy
from sim.model.treatments.local_treatment import compile_local
from sim.model.treatments.mdt import compile_mdt
from sim.model.treatments.radiotherapy import compile_radiotherapy
from sim.model.treatments.reassessment import compile_response
from sim.model.treatments.regional_therapy import compile_regional

PATIENT_PURPOSES = ("toxicity", "response", "decisions", "durations", "surgery")


@dataclass(frozen=True)
class CompiledParams:
    """Parameters in model units, built once per run from the frozen scenario."""

    chemo: object
    rt: object
    response: object
    mdt_params: object
    local: object
    follow_up: tuple
    disease: DiseaseParams
    immunotherapy: object = None
    regional: object = None


def compile_params(scenario) -> CompiledParams:
    p = scenario.parameters
    return CompiledParams(
        chemo=compile_chemotherapy(p),
        rt=compile_radiotherapy(p),
        response=compile_response(p),
        mdt_params=compile_mdt(p),
        local=compile_local(p),
        follow_up=compile_follow_up(p),
        disease=compile_disease(p.disease, p.effects.progression_hazard_ratio.value),
        immunotherapy=compile_immunotherapy(p),
        regional=compile_regional(p),
    )


class Context:
    """What step runners share within one centre: the clock, the calendars, the parameters."""

    def __init__(self, env: simpy.Environment, scenario, compiled: CompiledParams) -> None:
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


def arrival_times(scenario, centre: int, n: int) -> np.ndarray:
    """Days of first treatment of a centre's ``n`` patients."""
    arrivals = scenario.run.arrivals
    if arrivals.type == "all_at_start":
        return np.zeros(n)
    gen = centre_generator(scenario.run.seed, "arrivals", centre)
    return np.cumsum(gen.exponential(7.0 / arrivals.per_week, n))


def simulate_centre(scenario, compiled: CompiledParams, centre: int, patients: dict) -> list:
    """Run one centre to the end; returns its event rows.

    ``patients`` holds per-patient lists (one entry per patient of this centre): ``patient_id``,
    ``attrs`` (dicts), ``age_years``, ``male``, ``progression_hr``, ``death_hr``,
    ``treated_at_entry`` (the sites each patient enters with treated, e.g. not after an R2 resection).
    """
    # the run allocates many short-lived tuples and generators and few reference cycles (a
    # patient's exit drops its own): the cyclic garbage collector's passes, each through the
    # whole heap, cost more than they free while it runs
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _simulate(scenario, compiled, centre, patients)
    finally:
        if collecting:
            gc.enable()


def _simulate(scenario, compiled: CompiledParams, centre: int, patients: dict) -> list:
    env = simpy.Environment()
    ctx = Context(env, scenario, compiled)
    program: Program = compile_strategy(scenario.strategy, ctx)
    rows: list = []
    ids = patients["patient_id"]
    start, stop = ids[0], ids[-1] + 1
    seed = scenario.run.seed
    draws = {purpose: row_views(uniform_rows(seed, purpose, start, stop))
             for purpose in (*PATIENT_PURPOSES, "disease")}
    purpose_ids = {purpose: PURPOSES[purpose][0] for purpose in PATIENT_PURPOSES}
    # only strategies that give immunotherapy need its stream
    immuno_id = PURPOSES["immunotherapy"][0] if compiled.immunotherapy is not None else None
    arrivals = arrival_times(scenario, centre, len(ids)).tolist()
    horizon = scenario.run.horizon_months * DAYS_PER_MONTH
    treated_at_entry = tuple(scenario.population.treated_at_entry)

    def admit():
        for j, pid in enumerate(ids):
            delay = arrivals[j] - env.now
            if delay > 0:
                yield env.timeout(delay)
            now = env.now
            view, width = draws["disease"]
            clock = DiseaseClock(
                compiled.disease, now, view[j * width : j * width + 5], patients["age_years"][j],
                patients["male"][j], patients["progression_hr"][j], patients["death_hr"][j],
            )
            streams = {}
            for k in PATIENT_PURPOSES:
                view, width = draws[k]
                streams[k] = Stream(view[j * width : (j + 1) * width], seed, purpose_ids[k], pid)
            if immuno_id is not None:
                streams["immunotherapy"] = Stream([], seed, immuno_id, pid)
            p = Patient(pid, env, rows, patients["attrs"][j], clock, now + horizon, streams)
            p.log(ev.ARRIVAL, str(centre), patients["age_years"][j])
            if treated_at_entry:
                for site in patients["treated_at_entry"][j]:  # R2: not the residual site
                    p.treat_site(site)
                p.local_treatment_started = True
                p.update_hazard_state()
            env.process(patient_process(p, program))

    env.process(admit())
    env.run()
    return rows
