"""CPU time of the whole ``crcsim run`` process against the plain-simpy yardstick, side by side.

What a user waits for is the whole command: the interpreter's start, the imports, loading the
scenario, the run, the files, the dashboard and the interpreter's exit. Each measurement here is
one fresh process, pinned to one core (``taskset``, where there is one), and its CPU time (user +
system, from ``os.wait4``) is what counts: the machine is shared, so wall time mostly measures the
neighbours. The kinds alternate, run after run, so that slow phases of the machine hit all alike.

- ``yardstick``: ``../shared/bench/naive_pathway_simpy.py``'s ``run_cohort(patients, seed)`` in a
  fresh interpreter (its whole process: start, ``import simpy``, the cohort, exit);
- ``dashboard``: ``crcsim run SCENARIO --patients N --seed S --workers 1 --out TMP --force``, the
  default command (it writes ``dashboard.html``; output goes to a file, not a terminal);
- ``no-dashboard``: the same with ``--no-dashboard``;
- ``memory``: the library in memory in a fresh interpreter: ``load_scenario``, ``run_scenario``
  and ``analyse`` (no file written).

Bytecode is written by the untimed first run of each kind and read by the timed ones, as an
installed crcsim reads its own (a ``PYTHONDONTWRITEBYTECODE`` of the calling shell is dropped);
``--uncached`` compiles every module in every run instead.

With ``--tree NAME=PATH`` (a source tree of another version of crcsim, e.g. from ``git archive``;
repeatable), each crcsim kind is also timed on that tree, in the same rotation: before and after,
side by side.

Reported per kind: the median CPU seconds of the runs, patients per CPU-second, and the ratio to
the yardstick, i.e. (patients / crcsim's CPU s) / (patients / the yardstick's CPU s), the
yardstick's CPU time over crcsim's for the same number of patients; also the median wall time
and the peak resident memory.

    python benchmarks/bench_command.py [--patients 20000] [--runs 5] [--kinds dashboard ...]
                                       [--tree before=/tmp/crcsim-before ...] [--uncached]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: ``shared/bench/`` beside the project (or beside the folder of its work trees)
DEFAULT_YARDSTICK = next((p for p in (d / "shared" / "bench" / "naive_pathway_simpy.py"
                                      for d in ROOT.parents) if p.is_file()),
                         ROOT.parent / "shared" / "bench" / "naive_pathway_simpy.py")
DEFAULT_SCENARIO = ROOT / "scenarios" / "li2021_reference.yaml"
KINDS = ["yardstick", "dashboard", "no-dashboard", "memory"]

YARDSTICK = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("naive_pathway_simpy", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
module.run_cohort(int(sys.argv[2]), int(sys.argv[3]))
"""

MEMORY = """
import sys
from sim.execution.runner import run_scenario
from sim.outcomes.summary import analyse
from sim.scenario.loader import load_scenario
loaded = load_scenario(sys.argv[1], {"run.patients": int(sys.argv[2]), "run.seed": int(sys.argv[3])})
analyse(run_scenario(loaded))
"""


def _crcsim() -> list[str]:
    """The installed ``crcsim`` script beside this interpreter, else ``python -m sim``."""
    script = Path(sys.executable).parent / "crcsim"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "sim"]


def command(kind: str, args, seed: int, out: Path) -> list[str]:
    if kind == "yardstick":
        return [sys.executable, "-c", YARDSTICK, str(args.yardstick), str(args.patients), str(seed)]
    if kind == "memory":
        return [sys.executable, "-c", MEMORY, str(args.scenario), str(args.patients), str(seed)]
    return [*_crcsim(), "run", str(args.scenario), "--patients", str(args.patients), "--seed", str(seed),
            "--workers", "1", "--out", str(out), "--force",
            *(["--no-dashboard"] if kind == "no-dashboard" else [])]


#: compile every module in every run (``--uncached``), as in a shell that sets
#: ``PYTHONDONTWRITEBYTECODE``; by default such a setting is dropped, so the untimed first run
#: writes the bytecode that an installed crcsim has and later runs read it
UNCACHED = {"PYTHONDONTWRITEBYTECODE": "1"}


def measure(cmd: list[str], core: int | None, log: Path, tree: Path = ROOT,
            uncached: bool = False) -> dict:
    """One process, running the crcsim of ``tree``: its CPU seconds (user + system, its own and
    those of the processes it waited for), wall seconds and peak memory."""
    if core is not None and shutil.which("taskset"):
        cmd = ["taskset", "-c", str(core), *cmd]
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env.update({"PYTHONPATH": str(tree), **(UNCACHED if uncached else {})})
    with open(log, "w") as sink:
        start = time.perf_counter()
        # run from the log's folder: ``python -c`` puts its working directory first on sys.path,
        # where a checkout's own sim/ would shadow ``tree``'s
        proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=log.parent)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{log.read_text()[-2000:]}")
    return {"cpu_s": usage.ru_utime + usage.ru_stime, "user_s": usage.ru_utime,
            "system_s": usage.ru_stime, "wall_s": wall, "peak_rss_mb": usage.ru_maxrss / 1024.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patients", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--scenario", type=Path, default=DEFAULT_SCENARIO)
    parser.add_argument("--yardstick", type=Path, default=DEFAULT_YARDSTICK)
    parser.add_argument("--seed", type=int, default=1, help="seed of the first run (then +1 a run)")
    parser.add_argument("--kinds", nargs="+", default=KINDS[1:], choices=KINDS[1:],
                        help="crcsim kinds to time (the yardstick always runs)")
    parser.add_argument("--core", type=int, default=None,
                        help="pin to this core [default: the last usable one]")
    parser.add_argument("--tree", action="append", default=[], metavar="NAME=PATH",
                        help="also time the crcsim of the source tree PATH, labelled NAME")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--uncached", action="store_true",
                        help="compile the modules in every run (no bytecode written or read "
                             "from the trees' __pycache__), as PYTHONDONTWRITEBYTECODE=1 does")
    args = parser.parse_args()
    args.scenario, args.yardstick = args.scenario.resolve(), args.yardstick.resolve()
    if not args.yardstick.is_file():
        sys.exit(f"yardstick not found: {args.yardstick} (give --yardstick PATH)")
    core = args.core
    if core is None and hasattr(os, "sched_getaffinity"):
        core = max(os.sched_getaffinity(0))
    trees = {"": ROOT}
    for item in args.tree:
        name, _, path = item.partition("=")
        trees[f"{name} "] = Path(path).resolve()
    kinds = ["yardstick", *(f"{tag}{kind}" for kind in args.kinds for tag in trees)]
    runs: dict[str, list[dict]] = {kind: [] for kind in kinds}

    def tag_of(kind: str) -> str:
        return next((t for t in trees if t and kind.startswith(t)), "")

    def in_tree(tag: str, run_args: argparse.Namespace) -> argparse.Namespace:
        """The arguments with the scenario file of that tree (its own copy of a file of this
        checkout: scenario files change with the code that reads them)."""
        own = args.scenario
        if args.scenario.is_relative_to(ROOT):
            own = trees[tag] / args.scenario.relative_to(ROOT)
        return argparse.Namespace(**{**vars(run_args), "scenario": own})

    with tempfile.TemporaryDirectory() as tmp:
        # one small untimed run of each kind first: bytecode compiled, files in the page cache
        for kind in kinds:
            tag = tag_of(kind)
            warm = argparse.Namespace(**{**vars(args), "patients": 200})
            measure(command(kind.removeprefix(tag), in_tree(tag, warm), args.seed, Path(tmp) / "run"), core,
                    Path(tmp) / "log.txt", trees[tag], args.uncached)
        for i in range(args.runs):
            for kind in kinds:
                tag = tag_of(kind)
                cmd = command(kind.removeprefix(tag), in_tree(tag, args), args.seed + i, Path(tmp) / "run")
                r = measure(cmd, core, Path(tmp) / "log.txt", trees[tag], args.uncached)
                runs[kind].append(r)
                print(f"run {i + 1}/{args.runs} {kind:21s} {r['cpu_s']:6.2f} CPU s "
                      f"({r['user_s']:.2f} user, {r['system_s']:.2f} system), {r['wall_s']:6.2f} s wall, "
                      f"peak {r['peak_rss_mb']:.0f} MB", flush=True)
    report: dict = {"patients": args.patients, "runs": args.runs, "scenario": str(args.scenario),
                    "load_average": os.getloadavg(), "bytecode": "uncached" if args.uncached else "cached"}
    for kind, rs in runs.items():
        cpu = statistics.median(r["cpu_s"] for r in rs)
        report[kind] = {"cpu_s": cpu, "cpu_s_min": min(r["cpu_s"] for r in rs),
                        "patients_per_cpu_s": args.patients / cpu,
                        "wall_s": statistics.median(r["wall_s"] for r in rs),
                        "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
                        "cpu_s_runs": [round(r["cpu_s"], 3) for r in rs]}
    yard = report["yardstick"]
    print(f"\n{'':21s}{'CPU s':>8s}{'min':>7s}{'patients/CPU s':>16s}{'ratio':>8s}{'per-run ratios':>16s}"
          f"{'wall s':>9s}{'peak MB':>9s}")
    for kind in kinds:
        r = report[kind]
        r["ratio"] = r["patients_per_cpu_s"] / yard["patients_per_cpu_s"]
        pairs = [y["cpu_s"] / c["cpu_s"] for y, c in zip(runs["yardstick"], runs[kind], strict=True)]
        r["ratio_range"] = [min(pairs), max(pairs)]
        print(f"{kind:21s}{r['cpu_s']:>8.2f}{r['cpu_s_min']:>7.2f}{r['patients_per_cpu_s']:>16,.0f}"
              f"{r['ratio']:>8.2f}{f'{min(pairs):.2f}-{max(pairs):.2f}':>16s}{r['wall_s']:>9.2f}"
              f"{r['peak_rss_mb']:>9.0f}")
    print(f"(median of {args.runs} alternating runs, {args.patients:,} patients, whole processes "
          f"pinned to core {core}; bytecode {report['bytecode']}; load average at the end "
          f"{report['load_average'][0]:.2f})")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
