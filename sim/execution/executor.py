"""The one executor: every process pool and Dask client of the package, for many-runs jobs (sweep
points, calibration candidates, comparison replications) and for the blocks of one large run.

A job applies a picklable function to independent tasks. Every task carries its own seed (or its
own patients' streams), so results do not depend on the backend or the number of workers.

- ``serial``: in this process (debugging, tiny jobs);
- ``processes``: a local pool of ``workers`` processes, spawned, or forked where that is safe
  (``start="fork"``);
- ``dask``: a dask.distributed ``Client``, on a ``LocalCluster`` of ``workers`` single-threaded
  processes or on an existing scheduler (``scheduler="tcp://host:8786"``, e.g. started by
  dask-jobqueue on SLURM).

Two ways to hand results back: :meth:`Executor.map_unordered` yields each task's outcome as it
finishes, with its key, so an analysis can store it at once; :meth:`Executor.ordered` yields results
in the tasks' order, with this process working beside the pool (the blocks of a parallel run).
An :class:`Executor` keeps its pool or cluster across calls, so an analysis that runs in rounds
(root-finding, an optimiser's batches) pays the start-up once.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import pickle
import sys
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, TypeVar

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

T = TypeVar("T")
R = TypeVar("R")

BACKENDS = ("processes", "dask", "serial")
MAX_RESTARTS = 3
_ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}

#: how ``start="fork"`` workers start. On Linux a forked worker has the model already imported and
#: starts at once; a spawned one first imports it (about 0.9 s, during which only this process
#: works). Forked workers only simulate, and a forked child keeps only the forking thread; a run's
#: other threads (OpenBLAS's idle pools in numpy and scipy, Arrow's jemalloc background thread)
#: belong to libraries that prepare for a fork. Python 3.12+ still warns that forking a process
#: with threads can deadlock (a DeprecationWarning, hidden by default).
#: Elsewhere fork is unsafe (macOS) or absent (Windows). Results are the same either way.
_FORK_WHERE_SAFE = "fork" if sys.platform == "linux" else "spawn"


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


def _call(fn: Callable[[Any], Any], task: Any) -> tuple[Any, str | None]:
    try:
        return fn(task), None
    except Exception as exc:  # a failing task is recorded, the job goes on
        return None, f"{exc.__class__.__name__}: {exc}"


def _spooled(fn: Callable[[T], Any], spool: str, task: T) -> str:
    """``fn(task)`` handed back as a file in ``spool``; only its path goes through the pool's pipe.

    Sent through the pipe, a large result (a block of a run: 10 MB) is read 64 kB at a time by a
    thread of this process that must win the GIL from the working main thread for every read,
    while the worker waits on the full pipe; from a file it is one read."""
    result = fn(task)
    with tempfile.NamedTemporaryFile(dir=spool, suffix=".pickle", delete=False) as file:
        pickle.dump(result, file, protocol=pickle.HIGHEST_PROTOCOL)
    return file.name


def _unspool(path: str) -> Any:
    """A worker's result back from its file, which is then removed."""
    with open(path, "rb") as file:
        result = pickle.load(file)
    os.unlink(path)
    return result


def _quiet_dask_workers() -> dict[str, object]:
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
    """A pool of workers that lives as long as the ``with`` block.

    ``start="fork"`` forks the pool's processes where that is safe (see ``_FORK_WHERE_SAFE``), for
    jobs whose tasks need what this process has already imported. With ``with_caller``, this
    process counts as one of the ``workers`` (it works in :meth:`ordered`), so the pool has one
    process fewer."""

    def __init__(self, backend: str = "processes", workers: int | None = None,
                 scheduler: str | None = None, *, start: Literal["spawn", "fork"] = "spawn",
                 with_caller: bool = False) -> None:
        if scheduler:
            backend = "dask"
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} (expected {', '.join(BACKENDS)})")
        self.workers = workers or usable_cores()
        self.backend = "serial" if backend == "processes" and self.workers == 1 else backend
        self.scheduler = scheduler
        self._start = _FORK_WHERE_SAFE if start == "fork" else "spawn"
        self._pool_size = self.workers - 1 if with_caller else self.workers
        self._pool: ProcessPoolExecutor | None = None
        self._client: Client | None = None
        self._cluster: LocalCluster | None = None
        self._config: Any = None  # dask's configuration context, undone on exit
        self._environ: dict[str, str | None] = {}

    def _new_pool(self) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(max_workers=self._pool_size,
                                   mp_context=multiprocessing.get_context(self._start))

    def __enter__(self) -> Executor:
        if self.backend == "processes":
            if self._start == "spawn":
                # one task per core: numerical libraries in the workers must not start threads of
                # their own (spawned workers read this at import; Dask's nanny does the same).
                # Forked workers inherit this process's libraries as they are, and this process's
                # own (Arrow's lazily sized pool) must not see the setting.
                self._environ = {k: os.environ.get(k) for k in _ONE_THREAD}
                os.environ.update(_ONE_THREAD)
            self._pool = self._new_pool()
        elif self.backend == "dask":
            import dask
            from distributed import Client, LocalCluster

            self._config = dask.config.set(_quiet_dask_workers())
            self._config.__enter__()
            if self.scheduler is None:
                # the scheduler's HTTP server on a free port: None still meant 8787, which a
                # second Dask job on the machine (a sweep beside a calibration) found taken
                self._cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1,
                                             processes=True, dashboard_address=":0")
            self._client = Client(self._cluster if self.scheduler is None else self.scheduler)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None
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

    def submit(self, fn: Callable[..., Any], *args: Any) -> Any:
        """One call; the returned object's ``result()`` gives its value (or raises)."""
        if self._pool is not None:
            return self._pool.submit(fn, *args)
        if self._client is not None:
            return self._client.submit(fn, *args, pure=False)
        done: Future[Any] = Future()
        try:
            done.set_result(fn(*args))
        except Exception as exc:  # noqa: BLE001 - handed to the caller through the future
            done.set_exception(exc)
        return done

    def map_unordered(self, fn: Callable[[Any], Any],
                      tasks: Iterable[tuple[str, Any]]) -> Iterator[Outcome]:
        """Apply ``fn`` to every (key, task); yield an :class:`Outcome` per task as it finishes."""
        tasks = list(tasks)
        if self.backend == "serial":
            for key, task in tasks:
                value, error = _call(fn, task)
                yield Outcome(key, value, error)
        elif self._pool is not None:
            yield from self._pool_map(fn, dict(tasks))
        else:
            yield from self._dask_map(fn, tasks)

    def _dask_map(self, fn: Callable[[Any], Any], tasks: list[tuple[str, Any]]) -> Iterator[Outcome]:
        from distributed import as_completed

        assert self._client is not None, "the executor is used outside its with block"
        futures = {self._client.submit(_call, fn, task, key=f"crcsim-{key}", pure=False): key
                   for key, task in tasks}
        try:
            for fut in as_completed(list(futures)):
                value, error = fut.result()
                yield Outcome(futures[fut], value, error)
        finally:
            for fut in futures:
                fut.cancel()

    def _pool_map(self, fn: Callable[[Any], Any], tasks: dict[str, Any]) -> Iterator[Outcome]:
        """The local pool; a worker that dies (killed, out of memory) breaks the pool: a new
        one takes the unfinished tasks, up to ``MAX_RESTARTS`` times, then they are recorded as
        failed."""
        remaining = dict(tasks)
        restarts = 0
        while remaining:
            assert self._pool is not None, "the executor is used outside its with block"
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
                self._pool = self._new_pool()
                restarts += 1
                if restarts > MAX_RESTARTS:
                    for key in list(remaining):
                        del remaining[key]
                        yield Outcome(key, None, "a worker process died while running this task")

    def ordered(self, fn: Callable[[T], R], tasks: Sequence[T], sizes: Sequence[int],
                local: Callable[[T], R] | None = None) -> Iterator[R]:
        """``fn(task)`` of every task, yielded in the tasks' order, computed by the pool and this
        process (serially without a pool).

        This process takes the next task itself (through ``local``, which must return what ``fn``
        does, e.g. with a cache the pool has not) whenever the one it must hand on is not ready:
        it needs no start-up and keeps the cores busy while the consumer works. Tasks begun and
        not yet handed on weigh at most ``4 * workers`` largest tasks (``sizes`` weigh them, e.g.
        in patients), so a job of any length keeps a bounded amount in memory; counting weight,
        not tasks, lets this process go on through several small tasks while a pool process ends
        a large one. Pool processes hand results back through files (see ``_spooled``).
        """
        local = local or fn
        if self.backend == "serial":
            yield from map(local, tasks)
            return
        pool = self._pool
        if pool is None:
            raise ValueError("ordered results come from a local process pool (or serially)")
        starts = list(itertools.accumulate(sizes, initial=0))  # each task's offset in weight
        window = 4 * self.workers * max(sizes, default=0)
        n = len(tasks)
        with tempfile.TemporaryDirectory(prefix="crcsim-spool-") as spool:
            futures: dict[int, Future[str]] = {}
            done: dict[int, R] = {}
            begun = 0
            try:
                for i in range(n):
                    while i not in done:
                        while (begun < n and starts[begun] - starts[i] < window
                               and len(futures) < 2 * self._pool_size):
                            futures[begun] = pool.submit(_spooled, fn, spool, tasks[begun])
                            begun += 1
                        if i in futures and futures[i].done():
                            done[i] = _unspool(futures.pop(i).result())
                        elif begun < n and starts[begun] - starts[i] < window:
                            done[begun] = local(tasks[begun])
                            begun += 1
                        else:
                            done[i] = _unspool(futures.pop(i).result())
                    yield done.pop(i)
            finally:  # abandoned early: no worker may still write into the spool when it goes
                for fut in futures.values():
                    fut.cancel()
                wait(futures.values())


def run_tasks(fn: Callable[[Any], Any], tasks: Iterable[tuple[str, Any]], backend: str = "processes",
              workers: int | None = None, scheduler: str | None = None) -> Iterator[Outcome]:
    """Apply ``fn`` to every (key, task) on a pool made for this job alone."""
    with Executor(backend, workers, scheduler) as executor:
        yield from executor.map_unordered(fn, tasks)
