"""crcsim: a discrete-event simulator of stage IV rectal cancer treatment pathways.

The packages are the stages of one flow, read top to bottom::

    scenario/     YAML -> a frozen, validated Scenario (the one validation gate)
    population/   Scenario -> virtual patients
    model/        patients -> the simpy model -> the event log
    outcomes/     event log -> patient table, survival, resource use, summary
    compare/ sweep/ calibrate/   analyses that run the model many times
    execution/    blocks, forks, process pools and Dask: how runs are spread over cores
    io/           the one writer of results directories
    report/       dashboards and terminal tables
    cli.py        the ``crcsim`` command

The names below are the library's entry points, imported on first use so that ``import sim``
stays light.
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("crcsim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

_EXPORTS = {
    "load_scenario": "sim.scenario.loader",
    "Scenario": "sim.scenario.loader",
    "run_scenario": "sim.execution.runner",
    "analyse": "sim.outcomes.summary",
    "InputError": "sim.errors",
}

__all__ = ["__version__", *_EXPORTS]


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
