"""Ordered results on the one executor: in the tasks' order whoever computes them, this process
working beside the pool within a bounded window, results handed back through files that are all
gone at the end, pool processes forked where asked."""

from __future__ import annotations

import os
import sys
import tempfile
import time

import pytest

from sim.execution.executor import Executor

_SEEN_BY_FORKED_WORKERS: dict[str, int] = {}


def _square_where(x: int) -> tuple[int, int]:
    """The square and the process that computed it (a pool's task takes a while)."""
    time.sleep(0.02)
    return x * x, os.getpid()


def _inherited(_: int) -> int | None:
    return _SEEN_BY_FORKED_WORKERS.get("value")


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_ordered_results_come_in_order_from_the_pool_and_this_process(workers):
    here = os.getpid()
    handed_on: list[int] = []
    ahead: list[int] = []

    def local(x: int) -> tuple[int, int]:
        ahead.append(x - len(handed_on))  # tasks begun here beyond those handed on
        return x * x, here

    tasks = list(range(30))
    with Executor("processes", workers, start="fork", with_caller=True) as executor:
        for value, _ in executor.ordered(_square_where, tasks, [1] * 30, local):
            handed_on.append(value)
    assert handed_on == [x * x for x in tasks]
    assert max(ahead) < 4 * workers  # the window: 4 x workers tasks of the largest size
    if workers == 1:
        assert len(ahead) == 30  # serial: all here
    else:
        assert 0 < len(ahead) < 30  # the first task always goes to the pool


def test_a_pool_of_helpers_beside_this_process_has_one_process_fewer():
    assert Executor("processes", 1, with_caller=True).backend == "serial"
    assert Executor("processes", 2, with_caller=True)._pool_size == 1
    assert Executor("processes", 2)._pool_size == 2


def test_spooled_results_leave_nothing_behind_even_when_abandoned(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with Executor("processes", 2, start="fork", with_caller=True) as executor:
        assert len(list(executor.ordered(_square_where, list(range(12)), [1] * 12))) == 12
        results = executor.ordered(_square_where, list(range(12)), [1] * 12)
        assert next(results)[0] == 0
        results.close()  # the consumer stops early: helpers' pending files are removed too
        assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(sys.platform != "linux", reason="fork is used on Linux only")
def test_fork_start_gives_workers_this_process_state():
    _SEEN_BY_FORKED_WORKERS["value"] = 7
    try:
        with Executor("processes", 2, start="fork", with_caller=True) as executor:
            assert list(executor.ordered(_inherited, [0, 1, 2], [1, 1, 1], lambda _: 7)) == [7] * 3
        with Executor("processes", 2, start="spawn", with_caller=True) as executor:
            spawned = list(executor.ordered(_inherited, [0, 1, 2], [1, 1, 1], lambda _: 7))
        assert spawned[0] is None  # the first task is the pool's; a spawned worker imports afresh
    finally:
        _SEEN_BY_FORKED_WORKERS.clear()


def test_ordered_needs_a_local_pool():
    executor = Executor("dask", 2)
    with pytest.raises(ValueError, match="local process pool"):
        list(executor.ordered(_square_where, [1], [1]))
