"""The strategy interpreter: phases of steps, routing, and the patient process.

:func:`compile_strategy` turns the validated ``strategy:`` section into runners once per run;
:func:`patient_process` walks one patient through them. Detected progression during a curative
phase unwinds to here and moves the patient to the strategy's ``on_progression`` phase; death and
the end of follow-up unwind to here and end the patient's process with their event.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.model import events as ev
from sim.model.context import Context, Runner, StepProcess
from sim.model.patient import Died, FollowUpEnded, Patient, PatientExit, ProgressionDetected
from sim.model.plans import PlanRunner, plannable
from sim.model.treatments import (
    chemotherapy,
    follow_up,
    immunotherapy,
    local_treatment,
    mdt,
    palliative,
    radiotherapy,
    reassessment,
    regional_therapy,
)
from sim.scenario.strategy import (
    BranchStep,
    ChemotherapyStep,
    ConcurrentStep,
    FollowUpStep,
    GotoStep,
    ImmunotherapyStep,
    LocalTreatmentStep,
    MdtStep,
    PalliativeStep,
    RadiotherapyStep,
    ReassessmentStep,
    RegionalTherapyStep,
    Strategy,
    WatchAndWaitStep,
)
from sim.scenario.strategy import Step as StepSpec


@dataclass(frozen=True)
class Program:
    start: str
    on_progression: str
    phases: dict[str, tuple[Runner, ...]]


_SELECTORS: dict[str, Callable[[Patient], str | None]] = {
    "radiotherapy_course": lambda p: p.rt_course,
    "mdt_decision": lambda p: p.decision,
    "sites": lambda p: "not_all_treated" if p.untreated else "all_treated",
}


def _branch(spec: BranchStep, ctx: Context) -> Runner:
    select = _SELECTORS[spec.by]
    cases, default = dict(spec.cases), spec.default

    def run(p: Patient) -> StepProcess:
        key = select(p)
        target = default if key is None else cases.get(key, default)  # None: no MDT decision yet
        if target is None:
            raise RuntimeError(f"branch by {spec.by}: no case for {key!r}")
        return target
        yield  # a generator like every step

    return run


def _goto(spec: GotoStep, ctx: Context) -> Runner:
    def run(p: Patient) -> StepProcess:
        return spec.phase
        yield

    return run


_EXIT_PRIORITY = (Died, FollowUpEnded, ProgressionDetected)


def _guarded(gen: StepProcess) -> Generator[simpy.Event, Any, str | None | BaseException]:
    try:
        return (yield from gen)
    except (PatientExit, ProgressionDetected) as exc:
        return exc


def _concurrent(spec: ConcurrentStep, ctx: Context) -> Runner:
    children = [build_step(s, ctx) for s in spec.steps]
    planned = [child for child in children if plannable(child)]
    if len(planned) == len(children):
        return _concurrent_plans(planned)

    def run(p: Patient) -> StepProcess:
        env = p.env
        procs = [env.process(_guarded(child(p))) for child in children]
        done = yield env.all_of(procs)
        raised = [v for v in done.values() if isinstance(v, BaseException)]
        for kind in _EXIT_PRIORITY:
            for exc in raised:
                if isinstance(exc, kind):
                    raise exc
        return None

    return run


def _concurrent_plans(children: list[PlanRunner]) -> Runner:
    """Side-by-side courses that are fixed when they start (chemotherapy with radiotherapy):
    one wait per course start and end, each course settled at its own end, instead of a process
    each. A course counts as running from its first treatment (a linac slot may come later than
    the chemotherapy cycle it goes with: until then only the chemotherapy treats)."""

    def run(p: Patient) -> StepProcess:
        plans = [plan for plan in (child.plan(p) for child in children) if plan is not None]
        now = p.env.now
        # (time, 0 = begins / 1 = ends, index): at one moment, courses begin before others end
        marks = sorted([(max(plan.start, now), 0, k) for k, plan in enumerate(plans)]
                       + [(plan.end, 1, k) for k, plan in enumerate(plans)])
        begun: set[int] = set()
        settled: set[int] = set()
        try:
            for t, kind, k in marks:
                yield from p.hold_until(t)
                if kind == 0:
                    begun.add(k)
                    p.begin_course()
                    continue
                plan = plans[k]
                p.log_rows(plan.rows)
                settled.add(k)  # before settling: settling may find progression and raise
                p.end_course()
                plan.settle(p.env.now, True)
        except BaseException:
            now = p.env.now
            for k, plan in enumerate(plans):
                if k in settled:
                    continue
                p.log_rows_before(plan.rows, now)
                plan.settle(now, False)
                if k in begun:
                    p.end_course()
            raise
        return None

    return run


_BUILDERS: dict[type, Callable[[Any, Context], Runner]] = {
    ChemotherapyStep: chemotherapy.build,
    RadiotherapyStep: radiotherapy.build,
    ImmunotherapyStep: immunotherapy.build,
    RegionalTherapyStep: regional_therapy.build,
    ReassessmentStep: reassessment.build,
    MdtStep: mdt.build,
    LocalTreatmentStep: local_treatment.build,
    WatchAndWaitStep: follow_up.build_watch_and_wait,
    FollowUpStep: follow_up.build_follow_up,
    PalliativeStep: palliative.build,
    BranchStep: _branch,
    GotoStep: _goto,
    ConcurrentStep: _concurrent,
}


def build_step(spec: StepSpec, ctx: Context) -> Runner:
    """The runner of one validated step of the strategy."""
    return _BUILDERS[type(spec)](spec, ctx)


def compile_strategy(strategy: Strategy, ctx: Context) -> Program:
    phases = {
        name: tuple(build_step(s, ctx) for s in steps) for name, steps in strategy.phases.items()
    }
    return Program(strategy.start, strategy.on_progression, phases)


def _run_phases(p: Patient, program: Program, phase: str | None) -> Generator[simpy.Event, Any, None]:
    phases = program.phases
    while phase is not None:
        route = None
        for step in phases[phase]:
            route = yield from step(p)
            if route is not None:
                break
        phase = route


def patient_process(p: Patient, program: Program) -> Generator[simpy.Event, Any, None]:
    """The whole pathway of one patient, from first treatment to death or end of follow-up."""
    phase = program.start
    while True:
        try:
            yield from _run_phases(p, program, phase)
            yield from p.hold_forever()
        except ProgressionDetected:
            p.exit = None
            phase = program.on_progression
            continue
        except Died as exc:
            p.log(ev.DEATH, exc.cause)
        except FollowUpEnded:
            p.log(ev.END_OF_FOLLOW_UP)
        # the exit's traceback holds the frames that hold the patient: dropping it lets the
        # patient be freed now, by reference counting, instead of by a garbage-collector pass
        p.exit = None
        return
