"""The garbage collector's pause around simulation (sim/execution/gc_pause.py)."""

from __future__ import annotations

import gc

import pytest

from sim.execution.gc_pause import gc_paused


@pytest.fixture
def restore_gc():
    was = gc.isenabled()
    yield
    (gc.enable if was else gc.disable)()


def test_paused_inside_and_back_after(restore_gc):
    gc.enable()
    with gc_paused():
        assert not gc.isenabled()
    assert gc.isenabled()


def test_back_after_an_error(restore_gc):
    gc.enable()
    with pytest.raises(KeyError), gc_paused():
        raise KeyError("a failing centre")
    assert gc.isenabled()


def test_a_collector_paused_by_the_caller_stays_paused(restore_gc):
    gc.disable()
    with gc_paused():
        assert not gc.isenabled()
    assert not gc.isenabled()


def test_a_block_is_simulated_and_tabled_with_the_collector_paused(restore_gc, monkeypatch):
    """From the first centre to the event table (the flat log freed before it comes back)."""
    from conftest import REFERENCE

    from sim.execution import runner
    from sim.scenario.loader import load_scenario

    seen: list[bool] = []

    def spy(name):
        real = getattr(runner, name)

        def call(*args, **kwargs):
            seen.append(gc.isenabled())
            return real(*args, **kwargs)

        monkeypatch.setattr(runner, name, call)

    spy("_simulate_centre")
    spy("events_frame")
    scenario = load_scenario(REFERENCE, {"run.patients": 300, "run.seed": 2})
    gc.enable()
    runner.simulate_block(scenario, runner.centre_ranges(scenario))
    assert len(seen) == 3 and not any(seen)  # two centres and the table
    assert gc.isenabled()
