"""Performance machinery behind one seam: running a scenario's centres in blocks, in this process
or forked helpers (``runner``), streaming blocks to disk in bounded memory (``streamed``), and
the one executor of many-runs jobs on processes or Dask (``executor``). Results never depend on
how work is split here."""
