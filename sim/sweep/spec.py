"""Sweep files: the scenario, the outputs of interest and the analysis, checked before any run.

    name: reference_tornado
    scenario: ../li2021_reference.yaml
    patients: 2000            # per point
    seed: 11                  # the same for every point: common random numbers
    outputs: [completion_rate, os_36, pfs_36, rmst_os_60]
    analysis:
      type: one_way           # each parameter low and high, the others at their base value
      parameters:
        - {path: parameters.disease.progression.cure_probability_all_sites_treated, low: 0.1, high: 0.35}
    # or type: grid, parameters with values: [...], every combination
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.comparison import LANDMARKS, RATES, RMST_HORIZONS
from sim.documents import read_yaml_mapping, validate_document
from sim.errors import InputError
from sim.scenario import load_scenario

OUTPUTS = (*RATES, *(f"{e}_{t}" for e in ("os", "pfs") for t in LANDMARKS),
           *(f"rmst_{e}_{t}" for e in ("os", "pfs") for t in RMST_HORIZONS))


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Varied(_Frozen):
    path: str = Field(description="a scenario parameter, e.g. parameters.mdt.refusal_probability")
    low: float | None = None
    high: float | None = None
    values: list[float] | None = Field(None, min_length=1)

    @model_validator(mode="after")
    def _range(self) -> Varied:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError("expected either low and high, or values")
        if self.low is not None and self.high is not None and self.high <= self.low:
            raise ValueError(f"expected low < high, got {self.low:g} and {self.high:g}")
        return self

    def levels(self) -> list[float]:
        return list(self.values) if self.values is not None else [self.low, self.high]


class Analysis(_Frozen):
    type: Literal["one_way", "grid"]
    parameters: list[Varied] = Field(min_length=1)


class SweepSpec(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    scenario: str
    patients: int = Field(ge=10)
    seed: int = Field(0, ge=0)
    outputs: list[Literal[OUTPUTS]] = Field(min_length=1)  # type: ignore[valid-type]
    analysis: Analysis


class Sweep:
    """A checked sweep: its scenario resolved, every varied path a parameter, every level in its
    domain."""

    def __init__(self, spec: SweepSpec, path: Path) -> None:
        self.spec, self.path = spec, path
        self.scenario_path = (path.parent / spec.scenario).resolve()

    def points(self) -> list[dict[str, float]]:
        """Overrides of each point; the base point (no override) first."""
        params = self.spec.analysis.parameters
        if self.spec.analysis.type == "one_way":
            pts: list[dict[str, float]] = [{}]
            for v in params:
                pts.extend({f"{v.path}.value": level} for level in v.levels())
            return pts
        combos = itertools.product(*(v.levels() for v in params))
        return [{f"{v.path}.value": level for v, level in zip(params, combo, strict=True)}
                for combo in combos]


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every problem is an InputError before anything runs."""
    from sim.calibrate.spec import _resolve_param

    path = Path(path)
    spec = validate_document(SweepSpec, read_yaml_mapping(path), path)
    sweep = Sweep(spec, path)
    if not sweep.scenario_path.is_file():
        raise InputError(str(path), "scenario", f"expected an existing file, got {spec.scenario!r}")
    scenario = load_scenario(sweep.scenario_path)
    for i, v in enumerate(spec.analysis.parameters):
        field = f"analysis.parameters[{i}]"
        try:
            param = _resolve_param(scenario, v.path)
        except KeyError as exc:
            raise InputError(str(path), f"{field}.path", f"unknown parameter path ({exc.args[0]})") from None
        for level in v.levels():
            if not param.in_domain(level):
                raise InputError(str(path), field, f"expected levels within the parameter's domain "
                                 f"({param.domain[4]}), got {level:g}")
    return sweep
