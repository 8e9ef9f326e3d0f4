"""A pause of the cyclic garbage collector around simulation, the run's one piece of memory tuning.

A simulation allocates many short-lived tuples and generators and few reference cycles (a
patient's exit drops its own): the collector's passes, each through the whole heap, cost more than
they free while it runs. Reference counting still frees everything that is not a cycle.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic collection inside the block; the collector is back as it was afterwards."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()
