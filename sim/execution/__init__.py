"""Performance machinery behind one seam: running a scenario's centres in blocks (``runner``),
streaming blocks to disk in bounded memory (``streamed``), and the one executor (``executor``):
every process pool and Dask client, for many-runs jobs and for the blocks of one run; the
collector's pause (``gc_pause``) and the leaner simpy environment the centres run in (``engine``).
Results never depend on how work is split or run here."""
