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
