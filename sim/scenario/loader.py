"""Scenario files: load YAML, resolve ``extends:``, apply overrides, validate once, freeze.

This is the single validation gate (fill out, then validate, then build): the model never sees raw
YAML and never re-checks input. Any problem becomes one :class:`~sim.errors.InputError` naming the
file where the offending key was written, the field path and what was expected.
"""

from __future__ import annotations

import copy
import csv
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sim.errors import InputError
from sim.scenario.documents import Origins, origin_of, read_yaml_mapping, validate_document
from sim.scenario.parameters import Parameters
from sim.scenario.population import Population
from sim.scenario.strategy import Strategy


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Calendar(_Frozen):
    """A resource's opening days and capacity: slots per open day (day 0 is a Monday)."""

    weekdays: list[int] = Field(min_length=1, description="0 = Monday ... 6 = Sunday")
    slots_per_day: int = Field(ge=1)
    note: str | None = None

    @field_validator("weekdays")
    @classmethod
    def _days(cls, v: list[int]) -> list[int]:
        bad = [d for d in v if not 0 <= d <= 6]
        if bad:
            raise ValueError(f"expected weekdays in 0 (Monday) .. 6 (Sunday), got {bad}")
        return sorted(set(v))


class Resources(_Frozen):
    """Capacities available to this pathway at one centre."""

    linac: Calendar = Field(description="one slot = one radiotherapy fraction")
    theatre: Calendar = Field(description="one slot = one operation or ablation session")
    mdt: Calendar = Field(description="one slot = one case discussed at a meeting")


class PoissonArrivals(_Frozen):
    type: Literal["poisson"]
    per_week: float = Field(gt=0, description="mean new patients per week at each centre")
    source: str | None = None
    note: str | None = None


class AllAtStart(_Frozen):
    type: Literal["all_at_start"]


class Run(_Frozen):
    patients: int = Field(ge=1)
    seed: int = Field(ge=0)
    horizon_months: float = Field(gt=0, description="follow-up of each patient from first treatment")
    arrivals: PoissonArrivals | AllAtStart = Field(discriminator="type")
    centre_size: int = Field(
        ge=1,
        description="patients are split, in order, into independent centres of this size, each "
        "with its own resources; fixed by the scenario so results never depend on workers",
    )


class Scenario(_Frozen):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    description: str | None = None
    calibration: str | None = Field(
        None,
        description="fitted parameters (written by crcsim calibrate) applied on top of this file",
    )
    population: Population
    strategy: Strategy
    parameters: Parameters
    resources: Resources
    run: Run

    @model_validator(mode="after")
    def _attributes_exist(self) -> Scenario:
        """Parameters that depend on a population attribute name one the population has."""
        from sim.scenario.population import BASE_CATEGORICAL

        known = set(BASE_CATEGORICAL) | set(self.population.attributes)
        p = self.parameters
        uses = []
        if p.assignment.regimen_by is not None:
            uses.append(("parameters.assignment.regimen_by.attribute", p.assignment.regimen_by.attribute))
        if p.response.partial_odds_ratio_by is not None:
            uses.append(("parameters.response.partial_odds_ratio_by.attribute",
                         p.response.partial_odds_ratio_by.attribute))
        for section in ("progression", "death_after_progression"):
            for key in getattr(p.disease, section).covariate_hazard_ratios:
                if "=" in key:
                    uses.append((f"parameters.disease.{section}.covariate_hazard_ratios",
                                 key.split("=", 1)[0]))
        for where, name in uses:
            if name not in known:
                raise ValueError(f"{where}: unknown population attribute {name!r} "
                                 f"(expected one of {sorted(known)})")
        return self

    def with_run(self, **changes) -> Scenario:
        """The same scenario with run settings changed (seed, patients), already validated."""
        return self.model_copy(update={"run": self.run.model_copy(update=changes)})


# --------------------------------------------------------------------------------------- loading

def _record(node: Any, prefix: tuple, file: str, origins: Origins) -> None:
    origins[prefix] = file
    if isinstance(node, dict):
        for key, value in node.items():
            _record(value, prefix + (key,), file, origins)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _record(value, prefix + (i,), file, origins)


_TAGS = ("distribution", "type", "step")


def _same_kind(base: dict, override: dict) -> bool:
    """A mapping that changes its kind (another distribution, say) replaces, not merges."""
    return all(override[t] == base.get(t) for t in _TAGS if t in override)


#: mappings that are one value (a categorical distribution): an override replaces them whole
_WHOLE = ("counts", "probabilities")


def deep_merge(base: dict, override: dict) -> dict:
    """``override`` on top of ``base``: mappings merge key by key, anything else replaces, and so
    do a mix's ``counts`` or ``probabilities`` (a category left out means none of it)."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key in _WHOLE and isinstance(value, dict) and isinstance(base, dict):
            out.pop("counts", None)
            out.pop("probabilities", None)
            out[key] = copy.deepcopy(value)
        elif isinstance(value, dict) and isinstance(out.get(key), dict) and _same_kind(out[key], value):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve(path: Path, chain: tuple[Path, ...], origins: Origins,
             use_calibration: bool | Path = True) -> dict:
    """Read ``path`` and everything it extends; ``path`` is kept as the user wrote it for messages.

    A file's fitted overlay (``calibration:``) goes on top of that file, so a file extending it
    still overrides whatever it sets."""
    real = path.resolve()
    if real in chain:
        cycle = " -> ".join(p.name for p in (*chain, real))
        raise InputError(str(path), "extends", f"expected no cycle, got {cycle}")
    raw = read_yaml_mapping(path)
    parent = raw.pop("extends", None)
    if parent is None:
        _record(raw, (), str(path), origins)
        merged = _absolutise_paths(raw, real)
    else:
        if not isinstance(parent, str):
            raise InputError(str(path), "extends", f"expected a file name, got {parent!r}")
        parent_path = path.parent / parent
        if not parent_path.is_file():
            raise InputError(str(path), "extends", f"expected an existing file, got {parent!r}")
        base = _resolve(parent_path, (*chain, real), origins, use_calibration)
        if isinstance(raw.get("strategy"), dict) and "start" in raw["strategy"]:
            # a file that says where its pathway starts gives a whole new strategy: it replaces
            # the parent's rather than inheriting phases it never reaches; without ``start`` the
            # keys merge (a tweak of the parent's pathway)
            base.pop("strategy", None)
        _record(raw, (), str(path), origins)
        merged = deep_merge(base, _absolutise_paths(raw, real))
    overlay = raw.get("calibration")
    if isinstance(overlay, str) and _applies(use_calibration, overlay):
        _apply_overlay(merged, Path(overlay), origins, str(path))
    return merged


def _applies(use_calibration: bool | Path, overlay: str) -> bool:
    """True: every fitted overlay; False: none; a path: all but that one (the file being fitted,
    so a calibration of a scenario that extends a calibrated one keeps the parent's fit)."""
    if isinstance(use_calibration, Path):
        return Path(overlay).resolve() != use_calibration.resolve()
    return bool(use_calibration)


_PATH_FIELDS = (
    ("population", "csv"), ("parameters", "disease", "background_mortality", "csv"), ("calibration",),
)


def _absolutise_paths(raw: dict, file: Path) -> dict:
    """Paths inside a file are relative to that file, whichever file extends it."""
    for keys in _PATH_FIELDS:
        node: Any = raw
        for key in keys[:-1]:
            node = node.get(key) if isinstance(node, dict) else None
        if isinstance(node, dict) and isinstance(node.get(keys[-1]), str):
            node[keys[-1]] = str((file.parent / node[keys[-1]]).resolve())
    return raw


def set_by_path(raw: dict, dotted: str, value: Any) -> None:
    """Set ``a.b.c`` in a raw scenario dict, creating mappings on the way."""
    keys = dotted.split(".")
    node = raw
    for key in keys[:-1]:
        if not isinstance(node.get(key, {}), dict):
            node[key] = {"value": node[key]}  # a parameter written as a bare number
        node = node.setdefault(key, {})
    node[keys[-1]] = value


def _read_life_table(path: str, origin: str) -> tuple[tuple[float, float, float], ...]:
    field = "parameters.disease.background_mortality.csv"
    p = Path(path)
    if not p.is_file():
        raise InputError(origin, field, f"expected an existing CSV file, got {path!r}")
    rows = []
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        need = {"age_from", "death_rate_per_1000_male", "death_rate_per_1000_female"}
        if not need <= set(reader.fieldnames or ()):
            raise InputError(str(p), None, f"expected columns {sorted(need)}")
        for i, row in enumerate(reader, start=2):
            try:
                age = float(row["age_from"])
                male = float(row["death_rate_per_1000_male"]) / 1000.0
                female = float(row["death_rate_per_1000_female"]) / 1000.0
            except ValueError:
                raise InputError(str(p), f"line {i}", "expected numbers") from None
            if male < 0 or female < 0:
                raise InputError(str(p), f"line {i}", "expected non-negative death rates")
            rows.append((age, male, female))
    if not rows:
        raise InputError(str(p), None, "expected at least one age band")
    rows.sort()
    return tuple(rows)


def load_raw(path: str | Path, use_calibration: bool | Path = True) -> tuple[dict, Origins]:
    """The merged raw scenario (extends resolved, life table read, fitted overlay applied)."""
    path = Path(path)
    origins: Origins = {}
    raw = _resolve(path, (), origins, use_calibration)
    bm = raw.get("parameters", {}).get("disease", {}).get("background_mortality")
    if isinstance(bm, dict) and isinstance(bm.get("csv"), str):
        origin = origin_of(origins, ("parameters", "disease", "background_mortality", "csv"), path)
        bm["table"] = _read_life_table(bm["csv"], origin)
    return raw, origins


def _apply_overlay(raw: dict, overlay: Path, origins: Origins, named_in: str) -> None:
    """Fitted parameters (``calibration: fitted.yaml``) go on top of everything else."""
    if not overlay.is_file():
        raise InputError(named_in, "calibration", f"expected an existing fitted file, got {str(overlay)!r}")
    data = read_yaml_mapping(overlay)
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise InputError(str(overlay), "parameters", "expected a mapping of fitted parameters")
    _record({"parameters": params}, (), str(overlay), origins)
    raw["parameters"] = deep_merge(raw.get("parameters", {}), params)


def build_scenario(raw: dict, origins: Origins, path: str | Path, overrides: dict | None = None):
    """Validate a copy of ``raw`` with ``overrides`` (dotted paths) applied."""
    raw = copy.deepcopy(raw)
    for dotted, value in (overrides or {}).items():
        set_by_path(raw, dotted, value)
    return validate_raw(raw, origins, Path(path))


def load_scenario(
    path: str | Path, overrides: dict[str, Any] | None = None, use_calibration: bool | Path = True
) -> Scenario:
    """Read, merge, override and validate a scenario file; raise InputError on any problem.

    ``use_calibration=False`` ignores the fitted overlays; a path ignores only that fitted file
    (a calibration starts from the scenario's own values, on top of its parents' fits)."""
    raw, origins = load_raw(path, use_calibration)
    return build_scenario(raw, origins, path, overrides)


def validate_raw(raw: dict, origins: Origins, path: Path) -> Scenario:
    return validate_document(Scenario, raw, path, origins)
