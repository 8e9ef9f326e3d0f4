"""One execution layer for many-runs jobs (sweep points, calibration candidates, comparison
replications): serial, local processes, or a Dask cluster.

A job applies a picklable function to independent tasks; results come back as they finish (in any
order), each with its task's key, so the caller can store it at once. Every task carries its own
seed, so the results do not depend on the backend or the number of workers.

- ``serial``: in this process (debugging, tiny jobs);
- ``processes``: a local pool of ``workers`` spawned processes;
- ``dask``: a dask.distributed ``Client``, on a ``LocalCluster`` of ``workers`` single-threaded
  processes or on an existing scheduler (``scheduler="tcp://host:8786"``, e.g. started by
  dask-jobqueue on SLURM).

An :class:`Executor` keeps its pool or cluster across calls, so an analysis that runs in rounds
(root-finding, an optimiser's batches) pays the start-up once.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

BACKENDS = ("processes", "dask", "serial")
MAX_RESTARTS = 3
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def usable_cores() -> int:
    """Cores this process may run on: what "every core" means for the default number of workers.

    The CPU affinity, where the system has one (a batch scheduler or ``taskset`` may give a job
    fewer cores than the machine has), else the machine's count."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


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


def _quiet_dask_workers() -> dict:
    """Dask settings for CPU-bound single-threaded tasks: the worker's statistical profiler
    samples every task thread's stack 100 times a second and takes the GIL to do it; memory
    spilling is pointless for tasks that return a few numbers."""
    return {
        "distributed.worker.profile.enabled": False,
        "distributed.worker.profile.interval": "1000ms",
        "distributed.worker.memory.target": False,
        "distributed.worker.memory.spill": False,
        "distributed.worker.memory.pause": False,
        "distributed.worker.memory.terminate": False,
        "distributed.worker.memory.monitor-interval": "1s",
        "distributed.admin.system-monitor.interval": "2000ms",
        "distributed.admin.tick.interval": "500ms",  # the event-loop watchdog wakes the GIL
        # Dask sets MALLOC_TRIM_THRESHOLD_ in its workers, which also switches off glibc's
        # adaptive mmap threshold: every large array is then a fresh mmap to zero-fill, and a
        # simulation point took a quarter more CPU than in a plain process
        "distributed.nanny.pre-spawn-environ": dict(_ONE_THREAD),
    }


class Executor:
    """A pool of workers that lives as long as the ``with`` block."""

    def __init__(self, backend: str = "processes", workers: int | None = None,
                 scheduler: str | None = None) -> None:
        if scheduler:
            backend = "dask"
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (expected {', '.join(BACKENDS)})")
        self.workers = workers or usable_cores()
        self.backend = "serial" if backend == "processes" and self.workers == 1 else backend
        self.scheduler = scheduler
        self._pool: ProcessPoolExecutor | None = None
        self._client = self._cluster = self._config = None
        self._environ: dict[str, str | None] = {}

    def __enter__(self) -> Executor:
        if self.backend == "processes":
            # one task per core: numerical libraries in the workers must not start threads of
            # their own (the spawned workers read this at import; Dask's nanny does the same)
            self._environ = {k: os.environ.get(k) for k in _ONE_THREAD}
            os.environ.update(_ONE_THREAD)
            self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                             mp_context=multiprocessing.get_context("spawn"))
        elif self.backend == "dask":
            import dask
            from distributed import Client, LocalCluster

            self._config = dask.config.set(_quiet_dask_workers())
            self._config.__enter__()
            if self.scheduler is None:
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=None)
            self._client = Client(self._cluster if self.scheduler is None else self.scheduler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            for key, value in self._environ.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
        # the client closes before its cluster, so no worker heartbeats into a closed scheduler
        if self._client is not None:
            self._client.close()
        if self._cluster is not None:
            self._cluster.close()
        if self._config is not None:
            self._config.__exit__(None, None, None)

    def submit(self, fn: Callable, *args: Any) -> Any:
        """One call; the returned object's ``result()`` gives its value (or raises)."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        if self._client is not None:
            return self._client.submit(fn, *args, pure=False)
        done: Future = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            done.set_exception(exc)
        return done

    def map_unordered(self, fn: Callable, tasks: Iterable[tuple[str, Any]]) -> Iterator[Outcome]:
        """Apply ``fn`` to every (key, task); yield an :class:`Outcome` per task as it finishes."""
        tasks = list(tasks)
        if self.backend == "serial":
            for key, task in tasks:
                value, error = _call(fn, task)
                yield Outcome(key, value, error)
        elif self._pool is not None:
            yield from self._pool_map(fn, dict(tasks))
        else:
            from distributed import as_completed

            futures = {self._client.submit(_call, fn, task, key=f"crcsim-{key}", pure=False): key
                       for key, task in tasks}
            try:
                for fut in as_completed(list(futures)):
                    value, error = fut.result()
                    yield Outcome(futures[fut], value, error)
            finally:
                for fut in futures:
                    fut.cancel()


    def _pool_map(self, fn: Callable, tasks: dict[str, Any]) -> Iterator[Outcome]:
        """The local pool; a worker that dies (killed, out of memory) breaks the pool: a new
        one takes the unfinished tasks, up to ``MAX_RESTARTS`` times, then they are recorded as
        failed."""
        remaining = dict(tasks)
        restarts = 0
        while remaining:
            futures = {self._pool.submit(_call, fn, task): key for key, task in remaining.items()}
            pending = set(futures)
            broken = False
            try:
                while pending and not broken:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in done:
                        try:
                            value, error = fut.result()
                        except BrokenProcessPool:
                            broken = True
                            continue
                        key = futures[fut]
                        del remaining[key]
                        yield Outcome(key, value, error)
            finally:
                for fut in pending:
                    fut.cancel()
            if broken:
                self._pool.shutdown(wait=True, cancel_futures=True)
                self._pool = ProcessPoolExecutor(max_workers=self.workers,
                                                 mp_context=multiprocessing.get_context("spawn"))
                restarts += 1
                if restarts > MAX_RESTARTS:
                    for key in list(remaining):
                        del remaining[key]
                        yield Outcome(key, None, "a worker process died while running this task")


def run_tasks(fn: Callable, tasks: Iterable[tuple[str, Any]], backend: str = "processes",
              workers: int | None = None, scheduler: str | None = None) -> Iterator[Outcome]:
    """Apply ``fn`` to every (key, task) on a pool made for this job alone."""
    with Executor(backend, workers, scheduler) as executor:
        yield from executor.map_unordered(fn, tasks)
