"""Random streams: one seed, keyed per patient and per purpose.

Every patient has its own stream for each *purpose* (population, disease, toxicity, ...), so
changing one process never shifts another's draws, a patient's luck is the same under every
strategy (common random numbers), and results do not depend on how patients are split across
centres or workers.

For speed the draws are made in batches: for each purpose, a block of ``BLOCK`` consecutive
patients gets one ``(BLOCK, width)`` matrix of uniforms from a generator seeded by
``SeedSequence(seed, spawn_key=(purpose, block))``; patient *i* reads row ``i % BLOCK`` of block
``i // BLOCK``. A patient who needs more draws than the row holds continues on an overflow
generator keyed by (purpose, patient, extension), which is just as deterministic.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterable
from typing import cast

import numpy as np

BLOCK = 256

#: purpose -> (stable id, uniforms per patient row)
PURPOSES: dict[str, tuple[int, int]] = {
    "population": (1, 16),
    "assignment": (2, 8),
    "disease": (3, 8),
    "toxicity": (4, 128),
    "response": (5, 8),
    "decisions": (6, 16),
    "durations": (7, 32),
    "surgery": (8, 24),
    "arrivals": (9, 0),
    # drawn lazily per patient (most strategies give none): see Stream's overflow generator
    "immunotherapy": (11, 0),
    # the MDT's per-organ treatability (two a meeting) and the rectum's fate once the metastases
    # are treatable (cCR, regrowth, stoma refusal: three); only when those features are on, so
    # read through Stream.keyed and never shifting the decisions stream
    "resectability": (12, 0),
    "rectum": (13, 0),
    # after a progression: whether each later palliative line is given and how long it runs, and
    # the MDT's choice of supportive care; keyed so that a patient's luck after progression is
    # the same whatever strategy brought the progression (common random numbers)
    "palliative_lines": (14, 0),
    "supportive_care": (15, 0),
    # a protocol's gap from the last radiotherapy fraction to chemotherapy (TNT), only where a
    # strategy sets one
    "after_radiotherapy": (16, 0),
}
#: stable id of the extra population attributes' streams (see :func:`attribute_rows`)
ATTRIBUTES_ID = 10


def _generator(seed: int, *key: int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=key)))


def uniform_rows(seed: int, purpose: str, start: int, stop: int) -> np.ndarray:
    """Uniforms of patients ``start .. stop-1`` for ``purpose``: shape (stop - start, width)."""
    pid, width = PURPOSES[purpose]
    if stop <= start:
        return np.empty((0, width))
    first, last = start // BLOCK, (stop - 1) // BLOCK
    blocks = [_generator(seed, pid, b).random((BLOCK, width)) for b in range(first, last + 1)]
    rows = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    offset = first * BLOCK
    return rows[start - offset : stop - offset]


def attribute_rows(seed: int, name: str, start: int, stop: int) -> np.ndarray:
    """Uniforms of patients ``start .. stop-1`` for a named extra population attribute.

    Each attribute has its own stream (keyed by a stable hash of its name), so adding an
    attribute to a population never changes the others or any patient's other draws."""
    key = zlib.crc32(name.encode())
    if stop <= start:
        return np.empty(0)
    first, last = start // BLOCK, (stop - 1) // BLOCK
    blocks = [_generator(seed, ATTRIBUTES_ID, key, b).random(BLOCK) for b in range(first, last + 1)]
    rows = np.concatenate(blocks) if len(blocks) > 1 else blocks[0]
    offset = first * BLOCK
    return rows[start - offset : stop - offset]


class PurposeDraws:
    """One purpose's uniforms for a run of consecutive patients (a centre), a row each.

    Rows are slices of one flat float view of the batch: a patient's :class:`Stream` then turns
    only the uniforms it reads into Python floats, not its whole row."""

    __slots__ = ("purpose_id", "_view", "_width")

    def __init__(self, seed: int, purpose: str, start: int, stop: int) -> None:
        rows = np.ascontiguousarray(uniform_rows(seed, purpose, start, stop))
        self.purpose_id = PURPOSES[purpose][0]
        # a view of float64s (numpy's buffer format "d"), which the type of memoryview() cannot say
        self._view = cast("memoryview[float]", rows.reshape(-1).data)
        self._width = rows.shape[1]

    def row(self, j: int) -> memoryview[float]:
        """The row of the ``j``-th patient of the run (a position, not a patient id)."""
        width = self._width
        return self._view[j * width : (j + 1) * width]


class PatientStreams:
    """The streams of a run of consecutive patients (a centre), for each purpose they draw from.

    ``batched`` purposes start on the patient's row of the run's batch; ``lazy`` ones (drawn by
    few patients) only on the overflow generator."""

    __slots__ = ("_seed", "_tables", "_lazy")

    def __init__(self, seed: int, start: int, stop: int, batched: Iterable[str],
                 lazy: Iterable[str] = ()) -> None:
        self._seed = seed
        self._tables = {purpose: PurposeDraws(seed, purpose, start, stop) for purpose in batched}
        self._lazy = tuple((purpose, PURPOSES[purpose][0]) for purpose in lazy)

    def of(self, j: int, patient: int) -> dict[str, Stream]:
        """The streams of the ``j``-th patient of the run, whose id is ``patient``."""
        seed = self._seed
        # the rows sliced here, not by PurposeDraws.row: one call a patient, not one a purpose
        streams = {}
        for purpose, table in self._tables.items():
            width = table._width
            streams[purpose] = Stream(table._view[j * width : (j + 1) * width], seed,
                                      table.purpose_id, patient)
        for purpose, purpose_id in self._lazy:
            streams[purpose] = Stream([], seed, purpose_id, patient)
        return streams


def centre_generator(seed: int, purpose: str, centre: int) -> np.random.Generator:
    """A generator for a centre-level process (arrivals), keyed by the centre's index."""
    return _generator(seed, PURPOSES[purpose][0], 1_000_000_000 + centre)


class Stream:
    """One patient's uniforms for one purpose, consumed in order.

    ``row`` is a list or a 1-D float memoryview (a row of the centre's batch): a view turns only
    the uniforms a patient reads into Python floats, not the whole row."""

    __slots__ = ("_row", "_pos", "_seed", "_key", "_extensions", "_keyed")

    def __init__(self, row: list[float] | memoryview[float], seed: int, purpose_id: int,
                 patient: int) -> None:
        self._row = row
        self._pos = 0
        self._seed = seed
        self._key = (purpose_id, patient)
        self._extensions = 0
        self._keyed: dict[str, Stream] | None = None

    def keyed(self, purpose: str) -> Stream:
        """The same patient's stream for another (lazily drawn) ``purpose``, made on first use
        and kept: a feature that is off never draws from it, and one that is on shifts no other
        purpose's draws."""
        keyed = self._keyed
        if keyed is None:
            keyed = self._keyed = {}
        stream = keyed.get(purpose)
        if stream is None:
            stream = keyed[purpose] = Stream([], self._seed, PURPOSES[purpose][0], self._key[1])
        return stream

    def _extend(self) -> None:
        self._extensions += 1
        gen = _generator(self._seed, *self._key, self._extensions)
        self._row = [*self._row, *gen.random(max(len(self._row), 32)).tolist()]

    def random(self) -> float:
        """Next uniform in [0, 1)."""
        pos = self._pos
        if pos >= len(self._row):
            self._extend()
        self._pos = pos + 1
        return self._row[pos]

    def take(self, n: int) -> list[float]:
        """The next ``n`` uniforms (a fixed count per use keeps later draws aligned)."""
        pos = self._pos
        while pos + n > len(self._row):
            self._extend()
        self._pos = pos + n
        row = self._row[pos : pos + n]
        # a float view's tolist() gives floats (typed as ints whatever the view's format)
        return row if isinstance(row, list) else row.tolist()  # type: ignore[return-value]

    def peek(self, n: int) -> list[float]:
        """The next ``n`` uniforms without consuming them: a series of uses that may stop early
        (the cycles of a course) reads them in one go, then :meth:`skip` consumes what it used.
        Drawing beyond the row early changes nothing: its extensions are the same whenever
        they are made."""
        pos = self._pos
        while pos + n > len(self._row):
            self._extend()
        row = self._row[pos : pos + n]
        return row if isinstance(row, list) else row.tolist()  # type: ignore[return-value]

    def skip(self, n: int) -> None:
        """Consume ``n`` uniforms already seen through :meth:`peek`."""
        self._pos += n

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.random()

    def exponential(self) -> float:
        """A unit-exponential draw (a cumulative-hazard budget)."""
        return -math.log1p(-self.random())


def choose(cumulative: tuple[float, ...], u: float) -> int:
    """Index of the category that uniform ``u`` falls in, given cumulative probabilities."""
    for i, c in enumerate(cumulative):
        if u < c:
            return i
    return len(cumulative) - 1
