"""One centre's simpy simulation: arrivals, patient processes, shared calendars.

Patients are split, in order, into centres of ``run.centre_size``; each centre is an independent
simpy environment with its own linac, theatre and MDT. The split is fixed by the scenario, never by
the number of workers, so results are identical however centres are distributed. This module sees
only validated, compiled inputs: no YAML, no pandas, no files.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

import numpy as np
import simpy

from sim.model import events as ev
from sim.model.context import CompiledParams, Context
from sim.model.disease import DiseaseClock, compile_disease
from sim.model.hazards import DAYS_PER_MONTH
from sim.model.inputs import PatientInputs
from sim.model.pathway import compile_strategy, patient_process
from sim.model.patient import Patient
from sim.model.rng import PatientStreams, PurposeDraws, centre_generator
from sim.model.treatments.chemotherapy import compile_chemotherapy
from sim.model.treatments.follow_up import compile_follow_up
from sim.model.treatments.immunotherapy import compile_immunotherapy
from sim.model.treatments.local_treatment import compile_local
from sim.model.treatments.mdt import compile_mdt
from sim.model.treatments.palliative import compile_palliative
from sim.model.treatments.radiotherapy import compile_radiotherapy
from sim.model.treatments.reassessment import compile_response
from sim.model.treatments.regional_therapy import compile_regional

if TYPE_CHECKING:
    from sim.scenario.loader import Scenario

#: the streams every patient draws from besides its disease clock's
PATIENT_PURPOSES = ("toxicity", "response", "decisions", "durations", "surgery")


def compile_params(scenario: Scenario) -> CompiledParams:
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
        palliative=compile_palliative(p),
    )


def arrival_times(scenario: Scenario, centre: int, n: int) -> np.ndarray:
    """Days of first treatment of a centre's ``n`` patients."""
    arrivals = scenario.run.arrivals
    if arrivals.type == "all_at_start":
        return np.zeros(n)
    gen = centre_generator(scenario.run.seed, "arrivals", centre)
    return np.cumsum(gen.exponential(7.0 / arrivals.per_week, n))


def simulate_centre(
    scenario: Scenario, compiled: CompiledParams, centre: int, patients: PatientInputs,
    environment: Callable[[], simpy.Environment] = simpy.Environment,
) -> list[Any]:
    """Run one centre to the end; returns its flat event log (see :mod:`sim.model.events`).

    ``environment`` makes the centre's simpy environment: simpy's own, or any that runs the same
    events in the same order (the runner gives :class:`sim.execution.engine.Engine`, leaner).
    The run allocates many short-lived objects and few reference cycles: callers that simulate
    many patients pause the cyclic garbage collector around it (see
    :func:`sim.execution.gc_pause.gc_paused`)."""
    env = environment()
    ctx = Context(env, scenario, compiled)
    program = compile_strategy(scenario.strategy, ctx)
    rows: list[Any] = []
    ids = patients.patient_id
    start, stop = ids[0], ids[-1] + 1
    seed = scenario.run.seed
    disease_draws = PurposeDraws(seed, "disease", start, stop)
    # only strategies that give immunotherapy need its stream
    lazy = ("immunotherapy",) if compiled.immunotherapy is not None else ()
    streams = PatientStreams(seed, start, stop, PATIENT_PURPOSES, lazy)
    arrivals = arrival_times(scenario, centre, len(ids)).tolist()
    horizon = scenario.run.horizon_months * DAYS_PER_MONTH
    treated_at_entry = tuple(scenario.population.treated_at_entry)

    def admit() -> Generator[simpy.Event, Any, None]:
        for j, pid in enumerate(ids):
            delay = arrivals[j] - env.now
            if delay > 0:
                yield env.timeout(delay)
            now = env.now
            age = patients.age_years[j]
            clock = DiseaseClock(compiled.disease, now, disease_draws.row(j), age, patients.male[j],
                                 patients.progression_hr[j], patients.death_hr[j])
            p = Patient(pid, env, rows, patients.attrs[j], clock, now + horizon, streams.of(j, pid))
            p.log(ev.ARRIVAL, str(centre), age)
            if treated_at_entry:
                for site in patients.treated_at_entry[j]:  # R2: not the residual site
                    p.treat_site(site)
                p.local_treatment_started = True
                p.update_hazard_state()
            env.process(patient_process(p, program))

    env.process(admit())
    env.run()
    return rows
