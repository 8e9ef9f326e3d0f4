"""Shared resources as booking calendars: linac, theatre, MDT.

Departments book ahead: a radiotherapy course is a block of weekday fraction slots, an operation a
slot on a theatre list, a case a place at the weekly MDT. A :class:`SlotCalendar` holds, for each
day, how many of its slots are taken; a booking takes the first open day at or after the earliest
requested time that still has a free slot, first come first served in simulation order. The wait
(booked time minus earliest time) goes into the event log, and utilisation is derived from the log.
A booked slot starts at ``SLOT_TIME`` of its day.
"""

from __future__ import annotations

import math

SLOT_TIME = 0.375  # 09:00, as a fraction of a day


class SlotCalendar:
    __slots__ = ("name", "open_day", "capacity", "used", "_to_open", "_step")

    def __init__(self, name: str, weekdays: list[int], slots_per_day: int) -> None:
        self.name = name
        self.open_day = tuple(d in weekdays for d in range(7))
        self.capacity = slots_per_day
        self.used: list[int] = []
        # days from each weekday to the next open one (0 if open)
        self._to_open = tuple(
            next(k for k in range(7) if self.open_day[(w + k) % 7]) for w in range(7)
        )
        # days from each weekday to the next open one after it
        self._step = tuple(1 + self._to_open[(w + 1) % 7] for w in range(7))

    def _first_day(self, earliest: float) -> int:
        day = math.floor(earliest)
        return day if day + SLOT_TIME >= earliest else day + 1

    def _free(self, day: int) -> bool:
        used = self.used
        if day >= len(used):
            used.extend([0] * (day - len(used) + 1024))
        return self.open_day[day % 7] and used[day] < self.capacity

    def book(self, earliest: float) -> float:
        """Take the first free slot at or after ``earliest``; return its start time."""
        day = self._first_day(earliest)
        while not self._free(day):
            day += 1
        self.used[day] += 1
        return day + SLOT_TIME

    def book_course(self, earliest: float, n: int) -> list[float]:
        """Book ``n`` fractions on successive open days with a free slot (a full day is skipped,
        and the course continues on the next one, as a department reschedules a fraction)."""
        if n <= 0:
            return []
        day = self._first_day(earliest)
        used, capacity, step = self.used, self.capacity, self._step
        if day + 3 * n + 14 >= len(used):
            used.extend([0] * (day + 3 * n + 1024 - len(used)))
        limit = len(used)
        times: list[float] = []
        day += self._to_open[day % 7]
        while True:
            if used[day] < capacity:
                used[day] += 1
                times.append(day + SLOT_TIME)
                n -= 1
                if not n:
                    return times
            day += step[day % 7]
            if day >= limit:
                used.extend([0] * 1024)
                limit = len(used)

    def release(self, time: float) -> None:
        """Give back a booked slot that will not be used (the patient stopped treatment)."""
        self.used[math.floor(time)] -= 1
