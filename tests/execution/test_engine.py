"""The leaner engine (sim/execution/engine.py) runs exactly what simpy's environment runs."""

from __future__ import annotations

from pathlib import Path

import pytest
import simpy

from sim.execution.engine import Engine
from sim.execution.runner import _centre_inputs, _with_centres, centre_ranges
from sim.model.centre import compile_params, simulate_centre
from sim.population.sample import sample_population
from sim.scenario.loader import load_scenario

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def _logs(path: Path, patients: int, seed: int) -> tuple[list, list]:
    scenario = load_scenario(path, {"run.patients": patients, "run.seed": seed})
    compiled = compile_params(scenario)
    ranges = centre_ranges(scenario)
    population = _with_centres(sample_population(scenario, 0, patients), ranges)
    inputs = _centre_inputs(population, scenario)
    logs: tuple[list, list] = ([], [])
    for centre, start, stop in ranges:
        for log, environment in zip(logs, (simpy.Environment, Engine), strict=True):
            log.extend(simulate_centre(scenario, compiled, centre, inputs.slice(start, stop),
                                       environment))
    return logs


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_scenario_logs_the_same_rows_under_both(path: Path):
    plain, lean = _logs(path, 300, 4)
    assert len(plain) > 300 * 6
    assert lean == plain  # values and their types (day 0 is simpy's int 0 in both)
    assert [type(v) for v in lean] == [type(v) for v in plain]


def _trace(environment) -> list:
    """Processes, timeouts at equal times, a condition, a failure caught, a value returned."""
    env = environment()
    seen: list = []

    def worker(name: str, delays: list[float]):
        for d in delays:
            yield env.timeout(d)
            seen.append((name, env.now))
        return name

    def failing():
        yield env.timeout(1)
        raise KeyError("lost")

    def boss():
        procs = [env.process(worker(n, [1, 0, 2.5])) for n in "abc"]
        done = yield env.all_of(procs)
        seen.append(("all", env.now, sorted(done.values())))
        try:
            yield env.process(failing())
        except KeyError as exc:
            seen.append(("caught", env.now, exc.args))
        value = yield env.timeout(0, value="v")
        seen.append(("value", env.now, value))

    env.process(boss())
    env.process(worker("z", [3.5, 0]))
    env.run()
    seen.append(("end", env.now))
    return seen


def test_events_keep_simpy_order_and_values():
    assert _trace(Engine) == _trace(simpy.Environment)


def test_now_follows_the_clock_when_stepped_or_run_until():
    env = Engine()
    env.timeout(2)
    env.step()
    assert env.now == env._now == 2
    env.timeout(5)
    env.run(until=4)
    assert env.now == env._now == 4


def test_an_uncaught_failure_ends_the_run_as_in_simpy():
    def failing(env):
        yield env.timeout(1)
        raise ValueError("boom")

    for environment in (simpy.Environment, Engine):
        env = environment()
        env.process(failing(env))
        with pytest.raises(ValueError, match="boom"):
            env.run()


def test_negative_delay_and_non_events_are_refused():
    env = Engine()
    with pytest.raises(ValueError):
        env.timeout(-1)

    def bad():
        yield "not an event"

    env.process(bad())
    with pytest.raises(RuntimeError, match="Invalid yield value"):
        env.run()
