"""Sweep files: the scenario (or the arms of a comparison), the outputs of interest and one
analysis, all checked before any run.

    name: sbrt_pd1_threshold
    arms:                       # or scenario: ../li2021_reference.yaml for one strategy
      control: ../crlm_r1_adjuvant_chemo.yaml
      sbrt_pd1: ../crlm_r1_sbrt_pd1.yaml
    reference: control          # differences are arm minus reference [default: the first arm]
    patients: 2000              # per arm and point
    seed: 11                    # the same for every point and arm: common random numbers
    outputs: [pfs_24, os_36]
    analysis:
      type: threshold           # one_way | grid | psa | sobol | morris | threshold
      parameter: {path: parameters.effects.progression_hazard_ratio, low: 0.3, high: 1.2, arms: [sbrt_pd1]}
      output: pfs_24
      target: 0.10

A varied ``path`` is a scenario parameter (its ``value`` is set) or a plain number of the
scenario, such as ``resources.linac.slots_per_day`` or ``run.arrivals.per_week``; ``arms``
restricts it to some arms (an effect that only the experimental arm has).
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.errors import InputError
from sim.outcomes.metrics import ARM_OUTPUTS, Metric
from sim.scenario.documents import read_yaml_mapping, validate_document
from sim.scenario.loader import build_scenario, load_raw
from sim.scenario.params import Param

Output = Literal[ARM_OUTPUTS]  # type: ignore[valid-type]
#: arm names are written into the stored output names (``os_36[arm - reference]``): identifiers
#: only, a stricter rule than a Metric's, so no arm name can make an output name ambiguous
ARM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Varied(_Frozen):
    path: str = Field(description="a scenario parameter, e.g. parameters.mdt.refusal_probability")
    low: float | None = None
    high: float | None = None
    values: list[float] | None = Field(None, min_length=1)
    arms: list[str] | None = Field(None, min_length=1, description="only these arms [default: all]")

    @model_validator(mode="after")
    def _range(self) -> Varied:
        if (self.values is None) == (self.low is None or self.high is None):
            raise ValueError("expected either low and high, or values")
        if self.low is not None and self.high is not None and self.high <= self.low:
            raise ValueError(f"expected low < high, got {self.low:g} and {self.high:g}")
        return self

    def levels(self) -> list[float]:
        if self.values is not None:
            return list(self.values)
        assert self.low is not None and self.high is not None  # one or the other, as _range checks
        return [self.low, self.high]


class Bounded(Varied):
    """A parameter with a range (global analyses and thresholds need one)."""

    @model_validator(mode="after")
    def _bounds(self) -> Bounded:
        if self.low is None or self.high is None:
            raise ValueError("expected low and high")
        return self


class OneWay(_Frozen):
    type: Literal["one_way"]
    parameters: list[Varied] = Field(min_length=1)


class Grid(_Frozen):
    type: Literal["grid"]
    parameters: list[Varied] = Field(min_length=1)


class Psa(_Frozen):
    """Probabilistic analysis: every draw takes one calibration posterior set and a draw of every
    other parameter's uncertainty distribution, the same draw in every arm."""

    type: Literal["psa"]
    draws: int = Field(ge=2)
    posterior: bool = Field(True, description="fitted parameters from the calibration posterior")
    parameters: Literal["all"] | list[str] = Field(
        "all", description="'all' parameters with an uncertainty distribution, or these paths")


class GlobalSensitivity(_Frozen):
    """Sobol (Saltelli sampling, first-order and total indices) or Morris elementary effects,
    through SALib, over uniform ranges."""

    type: Literal["sobol", "morris"]
    parameters: list[Bounded] = Field(min_length=2)
    samples: int = Field(ge=2, description="Sobol: base samples N (a power of 2), N(D+2) points; "
                                           "Morris: trajectories, N(D+1) points")
    levels: int = Field(4, ge=2, description="Morris grid levels")


class Threshold(_Frozen):
    """The value of one parameter at which an arm's difference from the reference on one output
    reaches ``target``: a bracketing grid, then rounds of k-section search on the paired
    difference (common random numbers make it close to monotone)."""

    type: Literal["threshold"]
    parameter: Bounded
    output: Output
    arm: str | None = Field(None, description="the arm compared [default: the first non-reference]")
    target: float = 0.0
    target_source: str | None = None
    initial_points: int = Field(5, ge=3, description="the bracketing grid, ends included")
    points_per_round: int = Field(2, ge=1, description="k-section: points added inside the bracket "
                                  "each round (fixed, so the result does not depend on the workers)")
    tolerance: float = Field(gt=0, description="stop when the bracket is this narrow")
    max_rounds: int = Field(8, ge=0)


Analysis = Annotated[OneWay | Grid | Psa | GlobalSensitivity | Threshold, Field(discriminator="type")]


class SweepSpec(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    scenario: str | None = None
    arms: dict[str, str] | None = Field(None, min_length=2)
    reference: str | None = None
    patients: int = Field(ge=10)
    seed: int = Field(0, ge=0)
    bootstrap: int = Field(200, ge=20, description="paired bootstrap resamples for MC errors")
    outputs: list[Output] = Field(min_length=1)
    analysis: Analysis

    @field_validator("arms")
    @classmethod
    def _arm_names(cls, arms: dict[str, str] | None) -> dict[str, str] | None:
        for name in arms or {}:
            if not ARM_NAME.fullmatch(name):
                raise ValueError("expected arm names of letters, digits and '_' that start with a "
                                 f"letter (they name outputs such as os_36[arm - reference]), got {name!r}")
        return arms

    @model_validator(mode="after")
    def _arms(self) -> SweepSpec:
        if (self.scenario is None) == (self.arms is None):
            raise ValueError("expected either scenario or arms")
        if self.arms is None:
            if self.reference is not None:
                raise ValueError("reference needs arms")
            if isinstance(self.analysis, Threshold):
                raise ValueError("a threshold analysis compares arms: expected arms")
            return self
        names = list(self.arms)
        if self.reference is not None and self.reference not in names:
            raise ValueError(f"expected reference to be one of the arms {names}, got {self.reference!r}")
        if isinstance(self.analysis, Threshold) and self.analysis.arm is not None:
            if self.analysis.arm not in names or self.analysis.arm == self.reference_arm:
                raise ValueError("expected analysis.arm to be a non-reference arm, "
                                 f"got {self.analysis.arm!r}")
        return self

    @property
    def reference_arm(self) -> str | None:
        return None if self.arms is None else (self.reference or next(iter(self.arms)))

    def scenario_file(self) -> str:
        """The one scenario of a sweep without arms."""
        assert self.scenario is not None  # a scenario or arms, as _arms checks
        return self.scenario


class Sweep:
    """A checked sweep: its arms' scenarios resolved; every varied path a parameter or a number of
    each arm it applies to, every level valid there."""

    def __init__(self, spec: SweepSpec, path: Path) -> None:
        self.spec, self.path = spec, path
        files = spec.arms if spec.arms is not None else {"": spec.scenario_file()}
        self.arm_paths = {arm: (path.parent / f).resolve() for arm, f in files.items()}
        self.comparison = spec.arms is not None
        #: per arm, the raw scenario (extends resolved) and its origins, as load_scenario reads it
        self.raw: dict[str, tuple[dict, dict]] = {}
        #: per arm, varied path -> the override key (``path.value`` for a parameter)
        self.keys: dict[str, dict[str, str]] = {}

    @property
    def arms(self) -> list[str]:
        return list(self.arm_paths)

    @property
    def reference(self) -> str:
        return self.spec.reference_arm or ""

    def scenario(self, arm: str, overrides: dict | None = None):
        raw, origins = self.raw[arm]
        return build_scenario(raw, origins, self.arm_paths[arm], overrides)

    def metrics(self) -> list[Metric]:
        """Stored outputs, in the order results list them: the metrics themselves for one
        scenario; every metric per arm, then per other arm its difference from the reference,
        for a comparison."""
        if not self.comparison:
            return [Metric(m) for m in self.spec.outputs]
        out = [Metric(m, a) for m in self.spec.outputs for a in self.arms]
        out += [Metric(m, a, self.reference) for m in self.spec.outputs
                for a in self.arms if a != self.reference]
        return out

    def output_names(self) -> list[str]:
        return [str(m) for m in self.metrics()]

    def varied(self) -> list[Varied]:
        a = self.spec.analysis
        if isinstance(a, Threshold):
            return [a.parameter]
        return list(getattr(a, "parameters", [])) if not isinstance(a, Psa) else []

    def overrides(self, values: dict[str, float], arm_of: dict[str, list[str] | None]) -> dict:
        """Per arm, the override keys of one point's ``values`` (path -> value)."""
        out: dict[str, dict[str, float]] = {arm: {} for arm in self.arms}
        for path, value in values.items():
            for arm in arm_of.get(path) or self.arms:
                out[arm][self.keys[arm][path]] = value
        return out

    def design_points(self) -> list[dict[str, float]]:
        """One-way and grid points as path -> value (the base point, no change, first)."""
        params = self.varied()
        if self.spec.analysis.type == "one_way":
            pts: list[dict[str, float]] = [{}]
            for v in params:
                pts.extend({v.path: level} for level in v.levels())
            return pts
        combos = itertools.product(*(v.levels() for v in params))
        return [{v.path: level for v, level in zip(params, combo, strict=True)} for combo in combos]

    def points(self) -> list[dict]:
        """One-way and grid points as per-arm overrides."""
        arm_of = {v.path: v.arms for v in self.varied()}
        return [self.overrides(p, arm_of) for p in self.design_points()]


def _resolve(scenario, path: str) -> tuple[str, object]:
    """The override key of ``path`` in a loaded scenario and what it points at."""
    node = scenario
    walked: list[str] = []
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, BaseModel) and part in type(node).model_fields:
            node = getattr(node, part)
        else:
            raise KeyError(f"no key {part!r} in {'.'.join(walked) or 'the scenario'}")
        walked.append(part)
    if isinstance(node, Param):
        return f"{path}.value", node
    if isinstance(node, bool) or not isinstance(node, int | float):
        raise KeyError(f"{path} is neither a parameter with a value nor a number")
    return path, node


def _check_varied(sweep: Sweep, v: Varied, field: str) -> None:
    file = str(sweep.path)
    if v.arms and not sweep.comparison:
        raise InputError(file, f"{field}.arms", "expected no arms: the sweep has one scenario")
    for arm in v.arms or []:
        if arm not in sweep.arms:
            raise InputError(file, f"{field}.arms", f"expected arms among {sweep.arms}, got {arm!r}")
    for arm in v.arms or sweep.arms:
        base = sweep.scenario(arm)
        try:
            key, node = _resolve(base, v.path)
        except KeyError as exc:
            where = f" in arm {arm}" if arm else ""
            raise InputError(file, f"{field}.path",
                             f"unknown parameter path{where} ({exc.args[0]})") from None
        sweep.keys[arm][v.path] = key
        for level in v.levels():
            if isinstance(node, Param):
                if not node.in_domain(level):
                    raise InputError(file, field, f"expected levels within the parameter's domain "
                                     f"({node.domain[4]}), got {level:g}")
                continue
            if isinstance(node, int) and level != int(level):
                raise InputError(file, field, f"expected whole numbers for {v.path}, got {level:g}")
            try:
                sweep.scenario(arm, {key: int(level) if isinstance(node, int) else level})
            except InputError as exc:
                raise InputError(file, field, f"expected levels the scenario accepts: {v.path} = "
                                 f"{level:g} gives {exc.expected}") from None


def load_sweep(path: str | Path) -> Sweep:
    """Read and check a sweep file; every problem is an InputError before anything runs."""
    path = Path(path)
    spec = validate_document(SweepSpec, read_yaml_mapping(path), path)
    sweep = Sweep(spec, path)
    for arm, file in sweep.arm_paths.items():
        field = f"arms.{arm}" if arm else "scenario"
        if not file.is_file():
            raise InputError(str(path), field, f"expected an existing file, got {str(file)!r}")
        sweep.raw[arm] = load_raw(file)
        sweep.scenario(arm)  # a bad scenario is reported as its own file's problem
        sweep.keys[arm] = {}
    analysis = spec.analysis
    if isinstance(analysis, Threshold):
        _check_varied(sweep, analysis.parameter, "analysis.parameter")
    elif isinstance(analysis, Psa):
        from sim.sweep.designs import check_psa_parameters

        check_psa_parameters(sweep)
    else:
        for i, v in enumerate(analysis.parameters):
            _check_varied(sweep, v, f"analysis.parameters[{i}]")
    return sweep
