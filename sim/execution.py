"""One execution layer for many-runs jobs: serial, local processes, or a Dask cluster.

A job is a picklable function applied to independent tasks; results come back as they finish
(in any order), each with its task's key, so the caller can store it at once. Every task carries
its own seed, so the results do not depend on the backend or the number of workers.

- ``serial``: in this process (debugging, tiny jobs);
- ``processes``: a local pool of ``workers`` spawned processes;
- ``dask``: a dask.distributed ``Client``, on a ``LocalCluster`` of ``workers`` processes or on an
  existing scheduler (``scheduler="tcp://host:8786"``, e.g. started by dask-jobqueue on SLURM).
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from typing import Any


@dataclass
class Outcome:
    key: str
    value: Any = None
    error: str | None = None


def _call(fn: Callable, task: Any) -> tuple[Any, str | None]:
    try:
        return fn(task), None
    except Exception as exc:  # a failing task is recorded, the job goes on
        return None, f"{exc.__class__.__name__}: {exc}"


def run_tasks(fn: Callable, tasks: Iterable[tuple[str, Any]], backend: str = "processes",
              workers: int | None = None, scheduler: str | None = None) -> Iterator[Outcome]:
    """Apply ``fn`` to every (key, task); yield an :class:`Outcome` per task as it finishes."""
    tasks = list(tasks)
    workers = workers or os.cpu_count() or 1
    if backend == "serial" or (backend == "processes" and workers == 1):
        for key, task in tasks:
            value, error = _call(fn, task)
            yield Outcome(key, value, error)
    elif backend == "processes":
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
            futures = {pool.submit(_call, fn, task): key for key, task in tasks}
            pending = set(futures)
            try:
                while pending:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        value, error = fut.result()
                        yield Outcome(futures[fut], value, error)
            finally:
                for fut in pending:
                    fut.cancel()
    elif backend == "dask":
        from contextlib import nullcontext

        from distributed import Client, LocalCluster, as_completed

        cluster = (LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                dashboard_address=None) if scheduler is None else nullcontext())
        # the client closes before its cluster, so no worker heartbeats into a closed scheduler
        with cluster, Client(cluster if scheduler is None else scheduler) as client:
            futures = {client.submit(_call, fn, task, key=f"crcsim-{key}", pure=False): key
                       for key, task in tasks}
            for fut in as_completed(list(futures)):
                value, error = fut.result()
                yield Outcome(futures[fut], value, error)
    else:
        raise ValueError(f"unknown backend {backend!r} (expected serial, processes or dask)")
