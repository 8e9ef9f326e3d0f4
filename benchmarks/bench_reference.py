"""Speed of crcsim (the reference scenario and TNT) against the plain-simpy yardstick, side by side.

Each measurement runs in a fresh subprocess pinned to one core (so peak memory is its own), and
the models alternate, run after run, so that machine noise hits all alike. For each crcsim
scenario four figures are timed:

- ``run``: what ``crcsim run --no-dashboard`` does, from the loaded scenario to the results
  directory (population, simulation, event log, patient table, summary, Parquet and JSON files);
- ``model``: the same in memory, without writing files (``run_scenario`` + ``analyse``);
- ``floor``: the engine's floor for that scenario. Every patient's rows of a real run are
  replayed through simpy, centre by centre, in as many engine events as the model took, and
  written as the event log's Parquet file: simpy and the log alone, with no clinical decision,
  random draw, booking, population, patient table or summary. A model of that scenario with
  that many engine events and that log cannot run faster;
- ``logfloor``: the same with every patient's rows written at its arrival (3 engine events a
  patient: arrival, start, end): the floor of the log alone, for any design with a simpy
  process a patient.

Reported: patients per second (median of the runs), the ratio to the yardstick, peak memory, and
simpy events and event-log rows per patient. These are wall times of the run inside its process;
the whole ``crcsim run`` command (imports, dashboard and exit included), in CPU time, is
``bench_command.py``'s.

    python benchmarks/bench_reference.py [--patients 10000] [--runs 5] [--scenario PATH ...]

The yardstick is ``../shared/bench/naive_pathway_simpy.py`` (found beside the project, or given
with --yardstick).
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_YARDSTICK = ROOT.parent / "shared" / "bench" / "naive_pathway_simpy.py"
DEFAULT_SCENARIOS = [ROOT / "scenarios" / "li2021_reference.yaml",
                     ROOT / "scenarios" / "tnt_scrt_consolidation.yaml"]


def _pin() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def child_crcsim(mode: str, scenario: str, patients: int, seed: int) -> dict:
    import simpy

    import sim.model.centre
    from sim.execution.runner import run_scenario
    from sim.execution.streamed import run_to_directory
    from sim.outcomes.summary import analyse
    from sim.scenario.loader import load_scenario

    engine_events = []

    class CountingEnvironment(simpy.Environment):
        def run(self, until=None):
            result = super().run(until)
            engine_events.append(next(self._eid))
            return result

    sim.model.centre.simpy.Environment = CountingEnvironment
    loaded = load_scenario(scenario, {"run.patients": patients, "run.seed": seed})
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        if mode == "run":
            summary, _ = run_to_directory(loaded, scenario, Path(tmp) / "run")
            seconds = time.perf_counter() - start
            import pyarrow.parquet as pq

            rows = pq.ParquetFile(Path(tmp) / "run" / "events.parquet").metadata.num_rows
        else:
            result = run_scenario(loaded)
            _, summary = analyse(result)
            seconds = time.perf_counter() - start
            rows = len(result.events)
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "simpy_events_per_patient": sum(engine_events) / patients,
        "log_rows_per_patient": rows / patients,
        "completion_rate": summary["completion_rate"],
    }


def _replay_centre(patients: list, flat: list, counted: list) -> None:
    """One centre of the engine floor: each patient's real rows, replayed in ``len(segments)``
    engine steps, with no decision, draw or booking in between."""
    import simpy

    env = simpy.Environment()

    def patient(pid, segments):
        for gap, rows in segments:
            if gap is not None:
                yield env.timeout(gap)
            now = env.now
            for event, phase, detail, value in rows:
                flat.extend((pid, now, event, phase, detail, value))

    def admit():
        for pid, arrival, segments in patients:
            delay = arrival - env.now
            if delay > 0:
                yield env.timeout(delay)
            env.process(patient(pid, segments))

    env.process(admit())
    env.run()
    counted.append(next(env._eid))


def _floor_inputs(scenario: str, patients: int, seed: int, steps: bool = True) -> tuple[list, float]:
    """A real run's rows per patient, split into as many engine steps as the model took at that
    patient's centre (the same simpy events per patient, the same log rows); without ``steps``,
    all of a patient's rows at its arrival (3 engine events a patient: arrival, start, end)."""
    import numpy as np
    import simpy

    import sim.model.centre
    from sim.execution.runner import run_scenario
    from sim.scenario.loader import load_scenario

    per_centre: list[int] = []

    class CountingEnvironment(simpy.Environment):
        def run(self, until=None):
            result = super().run(until)
            per_centre.append(next(self._eid))
            return result

    model_env = sim.model.centre.simpy.Environment
    sim.model.centre.simpy.Environment = CountingEnvironment
    try:
        result = run_scenario(load_scenario(scenario, {"run.patients": patients, "run.seed": seed}))
    finally:
        sim.model.centre.simpy.Environment = model_env
    events, population = result.events, result.population
    ids = events["patient_id"].to_numpy()
    cut = np.flatnonzero(np.diff(ids)) + 1
    day = np.split(events["day"].to_numpy(), cut)
    fields = list(zip(events["event"].astype(str), events["phase"].astype(str),
                      events["detail"].astype(str), events["value"].tolist(), strict=True))
    rows = np.split(np.arange(len(events)), cut)
    centres = []
    for centre, members in population.groupby("centre", sort=True).indices.items():
        n = len(members)
        # a replayed patient costs 3 engine events besides its steps: the arrival's timeout,
        # its process' start and its end; the admitting process costs 1
        base, extra = divmod(max(per_centre[centre] - 1 - 3 * n, 0) if steps else 0, n)
        patients_ = []
        for j, i in enumerate(members):
            k = base + (j < extra)
            idx, days = rows[i], day[i]
            bounds = np.linspace(0, len(idx), k + 2).round().astype(int)
            segments, previous = [], days[0]
            for s, (a, b) in enumerate(zip(bounds[:-1], bounds[1:], strict=True)):
                if a == b and s:
                    segments.append((0.0, []))
                    continue
                first = days[a] if a < len(idx) else previous
                segments.append((None if s == 0 else max(first - previous, 0.0),
                                 [fields[r] for r in idx[a:b]]))
                previous = first
            patients_.append((int(population["patient_id"].iat[i]), float(days[0]), segments))
        centres.append(patients_)
    return centres, sum(per_centre) / patients


def child_floor(scenario: str, patients: int, seed: int, steps: bool = True) -> dict:
    """The engine's floor for this scenario: simpy and the event log alone, at the model's own
    counts of engine events and log rows per patient, into the same Parquet file (without
    ``steps``: the log's floor, every row written at the patient's arrival)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.outcomes.schemas import events_frame

    centres, model_events = _floor_inputs(scenario, patients, seed, steps)
    gc.collect()
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        flat: list = []
        counted: list[int] = []
        gc.disable()  # as a run does while it simulates (sim/execution/gc_pause.py)
        for centre in centres:
            _replay_centre(centre, flat, counted)
        gc.enable()
        engine = time.perf_counter() - start
        events = events_frame(flat)
        pq.write_table(pa.Table.from_pandas(events, preserve_index=False), Path(tmp) / "events.parquet")
        seconds = time.perf_counter() - start
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "simpy_events_per_patient": sum(counted) / patients,
        "model_simpy_events_per_patient": model_events,
        "engine_and_log_seconds": engine,
        "log_rows_per_patient": len(events) / patients,
    }


def child_yardstick(path: str, patients: int, seed: int) -> dict:
    spec = importlib.util.spec_from_file_location("naive_pathway_simpy", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    summary, seconds = module.run_cohort(patients, seed)
    return {
        "seconds": seconds,
        "peak_rss_mb": _peak_rss_mb(),
        "simpy_events_per_patient": summary["simpy_events_per_patient"],
        "log_rows_per_patient": summary["logged_events_per_patient"],
    }


def measure(kind: str, scenario: Path | None, args, seed: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, "--patients", str(args.patients),
           "--seed", str(seed), "--yardstick", str(args.yardstick)]
    if scenario is not None:
        cmd += ["--scenario", str(scenario)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", type=Path, nargs="+", default=DEFAULT_SCENARIOS)
    parser.add_argument("--yardstick", type=Path, default=DEFAULT_YARDSTICK)
    parser.add_argument("--seed", type=int, default=1)
    modes = ["run", "model", "floor", "logfloor"]
    parser.add_argument("--modes", nargs="+", default=modes, choices=modes)
    parser.add_argument("--child", choices=[*modes, "yardstick"])
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()

    if args.child:
        _pin()
        if args.child == "yardstick":
            out = child_yardstick(str(args.yardstick), args.patients, args.seed)
        elif args.child in ("floor", "logfloor"):
            out = child_floor(str(args.scenario[0]), args.patients, args.seed, args.child == "floor")
        else:
            out = child_crcsim(args.child, str(args.scenario[0]), args.patients, args.seed)
        print(json.dumps(out))
        return

    if not args.yardstick.is_file():
        sys.exit(f"yardstick not found: {args.yardstick} (give --yardstick PATH)")
    kinds = [("yardstick", "yardstick", None)] + [
        (f"{mode} {path.stem}", mode, path) for path in args.scenario for mode in args.modes
    ]
    runs: dict[str, list[dict]] = {label: [] for label, _, _ in kinds}
    for i in range(args.runs):
        for label, kind, path in kinds:
            r = measure(kind, path, args, args.seed + i)
            runs[label].append(r)
            print(f"run {i + 1}/{args.runs} {label:34s} {args.patients / r['seconds']:>9,.0f} patients/s "
                  f"({r['seconds']:.2f} s, peak {r['peak_rss_mb']:.0f} MB)", flush=True)
    report: dict = {"patients": args.patients, "runs": args.runs, "load_average": os.getloadavg()}
    for label, rs in runs.items():
        report[label] = {
            "patients_per_s": args.patients / statistics.median(r["seconds"] for r in rs),
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "simpy_events_per_patient": statistics.median(r["simpy_events_per_patient"] for r in rs),
            "log_rows_per_patient": statistics.median(r["log_rows_per_patient"] for r in rs),
        }
    yard = report["yardstick"]["patients_per_s"]
    print()
    print(f"{'':36s}{'patients/s':>12s}{'ratio':>8s}{'peak MB':>10s}{'simpy ev/pt':>13s}{'log rows/pt':>13s}")
    for label, _, _ in kinds:
        r = report[label]
        r["ratio"] = r["patients_per_s"] / yard
        print(f"{label:36s}{r['patients_per_s']:>12,.0f}{r['ratio']:>8.2f}{r['peak_rss_mb']:>10.0f}"
              f"{r['simpy_events_per_patient']:>13.1f}{r['log_rows_per_patient']:>13.1f}")
    print(f"(median of {args.runs} runs each, {args.patients:,} patients, one core; "
          f"load average at the end {report['load_average'][0]:.2f})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
