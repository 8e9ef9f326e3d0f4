"""Sensitivity sweeps: files that name a scenario, outputs and an analysis; points run on the
execution layer (serial, processes, Dask) and are stored one by one, so a sweep resumes."""
