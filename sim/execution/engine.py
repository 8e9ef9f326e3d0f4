"""A leaner simpy environment for the model's centres: the same events, in the same order.

simpy's :class:`~simpy.core.Environment` spends a Python call or two on every event beyond the
work itself: ``run`` calls ``step``, a timeout is made through a bound class and scheduled through
``schedule``, and a process resumes through a general ``_resume``. :class:`Engine` is a subclass
that does the same with fewer calls on the paths a centre's simulation takes (timeouts, processes,
running to the end), and defers to simpy for everything else. Events are keyed and ordered
exactly as simpy keys and orders them (time, priority, a counter), so a run gives the same results
under either environment (``tests/execution/test_engine.py``).
"""

from __future__ import annotations

from heapq import heappop, heappush
from typing import Any

import simpy
from simpy.core import StopSimulation
from simpy.events import NORMAL, Event, EventPriority, Process, Timeout, _describe_frame

_new = object.__new__


class _Process(Process):
    """A process resumed with fewer attribute look-ups; behaves as simpy's."""

    def _resume(self, event: Event) -> None:
        env = self.env
        env._active_proc = self
        generator = self._generator
        while True:
            try:
                if event._ok:
                    event = generator.send(event._value)
                else:
                    event._defused = True
                    exc = type(event._value)(*event._value.args)
                    exc.__cause__ = event._value
                    event = generator.throw(exc)
            except StopIteration as e:
                self._ok = True
                self._value = e.args[0] if len(e.args) else None
                env.schedule(self)
                event = None  # type: ignore[assignment]
                break
            except BaseException as e:
                self._ok = False
                e.__traceback__ = e.__traceback__.tb_next  # type: ignore[union-attr]
                self._value = e
                env.schedule(self)
                event = None  # type: ignore[assignment]
                break
            try:
                callbacks = event.callbacks
            except AttributeError:
                # not an event: reported as simpy reports it
                descr = _describe_frame(generator.gi_frame)  # type: ignore[attr-defined]
                raise RuntimeError(f'\n{descr}Invalid yield value "{event}"') from None
            if callbacks is not None:
                callbacks.append(self._resume)
                break
        self._target = event
        env._active_proc = None


class Engine(simpy.Environment):
    """simpy's environment with its hot paths inlined (see the module's docstring)."""

    #: the current time as a plain attribute (simpy's ``now`` is a property over ``_now``): the
    #: model reads it about 90 times a patient. Kept equal to ``_now`` wherever time moves.
    now: float = 0

    def __init__(self) -> None:
        super().__init__()
        self.now = self._now
        queue, eid = self._queue, self._eid

        def timeout(delay: int | float, value: Any | None = None) -> Timeout:
            if delay < 0:
                raise ValueError(f"Negative delay {delay}")
            event = _new(Timeout)
            event.env = self
            event.callbacks = []
            event._value = value
            event._delay = delay
            event._ok = True
            heappush(queue, (self._now + delay, NORMAL, next(eid), event))
            return event

        def process(generator: Any) -> Process:
            return _Process(self, generator)

        # simpy binds its event classes to each environment as attributes: these replace them
        self.timeout = timeout  # type: ignore[method-assign, assignment]
        self.process = process  # type: ignore[method-assign]

    def step(self) -> None:
        try:
            super().step()
        finally:  # also when the step ends a run (``until``)
            self.now = self._now

    def run(self, until: Any = None) -> Any:
        """As simpy's ``run``; to the end (``until`` None) in one loop, without ``step`` calls."""
        if until is not None:
            return super().run(until)
        queue = self._queue
        while queue:
            self._now, _, _, event = heappop(queue)
            self.now = self._now
            callbacks, event.callbacks = event.callbacks, None  # type: ignore[assignment]
            try:
                for callback in callbacks:
                    callback(event)
            except StopSimulation as stop:
                event.callbacks = callbacks[callbacks.index(callback) + 1:]
                self.schedule(event, EventPriority(-1))
                return stop.args[0]
            if not event._ok and not hasattr(event, "_defused"):
                failure = type(event._value)(*event._value.args)
                failure.__cause__ = event._value
                raise failure
        return None
