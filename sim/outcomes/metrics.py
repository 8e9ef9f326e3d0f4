"""What the analyses measure, as values rather than strings.

The vocabulary (:data:`VOCABULARY`) names every outcome a comparison or a sweep reports, with how it
is computed (a rate over the patient table, a Kaplan-Meier landmark or restricted mean, a resource
figure, a hazard ratio), its unit, which way is better and what a reader calls it, so the sweep's
checks, its bootstrap, the dashboard and the terminal tables all read it from here.

A :class:`Metric` is one of those outcomes in one arm, or the difference between two arms. Results
files and sweep resume keys store it as text, which must stay as it is::

    os_36                    the metric of a single-scenario sweep
    os_36[tnt]               the metric in arm ``tnt``
    os_36[tnt - reference]   arm ``tnt`` minus arm ``reference``

``str(metric)`` is the one formatter and :meth:`Metric.parse` the one parser of that text. So that
every metric has exactly one text and every text at most one metric, each part (the name, the arm,
the reference) must be non-empty printable text with no ``[``, ``]`` or ``" - "`` in it and no
space or ``-`` at either end (``a-b`` and ``a b`` are fine, ``a - b`` and ``-a`` are not).
Anything else is refused when the metric is made. Sweep files are stricter still: an arm is named
with letters, digits and ``_`` (:mod:`sim.sweep.spec`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: Kaplan-Meier landmarks (months) and restricted-mean horizons (months) that are reported
LANDMARKS = (12, 24, 36)
RMST_HORIZONS = (36, 60)
ENDPOINTS = ("os", "pfs")
RESOURCES = ("linac", "theatre", "mdt")

Kind = Literal["rate", "landmark", "rmst", "wait", "utilisation", "log_hazard_ratio", "hazard_ratio"]
Unit = Literal["proportion", "months", "days", "log ratio", "ratio"]


@dataclass(frozen=True)
class Measure:
    """One name of the vocabulary: where its number comes from and how it reads."""

    name: str
    kind: Kind
    unit: Unit
    label: str  # a reader's name, e.g. "overall survival at 36 months"
    short: str  # for a narrow terminal column, e.g. "OS 3 years"
    lower_is_better: bool = False
    #: the patient-table column a rate averages, or the resource-summary field a resource figure is
    source: str | None = None
    endpoint: str | None = None  # "os" or "pfs" (landmarks, restricted means, hazard ratios)
    months: int | None = None  # landmark or horizon
    resource: str | None = None


def landmark_name(endpoint: str, month: int) -> str:
    return f"{endpoint}_{month}"


def rmst_name(endpoint: str, horizon: int) -> str:
    return f"rmst_{endpoint}_{horizon}"


def resource_name(resource: str, field: str) -> str:
    return f"{resource}_{field}"


def log_hr_name(endpoint: str) -> str:
    return f"log_hr_{endpoint}"


def hr_name(endpoint: str) -> str:
    return f"hazard_ratio_{endpoint}"


_ENDPOINT = {"os": ("overall survival", "OS"), "pfs": ("progression-free survival", "PFS")}
_WAIT_FOR = {"linac": "the linac", "theatre": "an operation", "mdt": "an MDT place"}


def _years(month: int) -> str:
    return f"{month // 12} year{'s' if month != 12 else ''}" if month % 12 == 0 else f"{month} months"


def _vocabulary() -> tuple[Measure, ...]:
    """Every name, in the order results list them (rates, landmarks, restricted means, resources,
    then the hazard ratios of a pair)."""
    out = [
        Measure("completion_rate", "rate", "proportion", "completed the schedule",
                "completed the schedule", source="completed"),
        Measure("grade34_toxicity_rate", "rate", "proportion", "grade 3-4 toxicity (preoperative)",
                "grade 3-4 toxicity (preoperative)", lower_is_better=True, source="grade34_toxicity"),
        Measure("grade34_toxicity_any_phase_rate", "rate", "proportion", "grade 3-4 toxicity (any phase)",
                "grade 3-4 toxicity (any phase)", lower_is_better=True,
                source="grade34_toxicity_any_phase"),
        Measure("surgical_complication_rate", "rate", "proportion", "Clavien-Dindo >= III complications",
                "surgical complications", lower_is_better=True, source="surgical_complication"),
    ]
    for e in ENDPOINTS:
        long, abbr = _ENDPOINT[e]
        out += [Measure(landmark_name(e, t), "landmark", "proportion", f"{long} at {t} months",
                        f"{abbr} {_years(t)}", endpoint=e, months=t) for t in LANDMARKS]
    for e in ENDPOINTS:
        abbr = _ENDPOINT[e][1]
        out += [Measure(rmst_name(e, t), "rmst", "months", f"restricted mean {abbr} to {t} months",
                        f"RMST {abbr} to {t} months", endpoint=e, months=t) for t in RMST_HORIZONS]
    for r in RESOURCES:
        out += [Measure(resource_name(r, "mean_wait_days"), "wait", "days", f"mean wait for {_WAIT_FOR[r]}",
                        f"{r} mean wait", lower_is_better=True, source="mean_wait_days", resource=r),
                Measure(resource_name(r, "utilisation"), "utilisation", "proportion", f"{r} utilisation",
                        f"{r} utilisation", source="utilisation", resource=r)]
    for e in ENDPOINTS:
        long, abbr = _ENDPOINT[e]
        out += [Measure(log_hr_name(e), "log_hazard_ratio", "log ratio", f"log hazard ratio of {long}",
                        f"log HR {abbr}", lower_is_better=True, endpoint=e),
                Measure(hr_name(e), "hazard_ratio", "ratio", f"hazard ratio of {long}",
                        f"hazard ratio {abbr}", lower_is_better=True, endpoint=e)]
    return tuple(out)


VOCABULARY: dict[str, Measure] = {m.name: m for m in _vocabulary()}
#: what one arm's run yields (and a sweep may ask for); the rest belong to a pair of arms
ARM_KINDS = ("rate", "landmark", "rmst", "wait", "utilisation")
ARM_OUTPUTS = tuple(m.name for m in VOCABULARY.values() if m.kind in ARM_KINDS)
#: the paired differences a comparison with parameter uncertainty relates to each drawn parameter
DEPENDENCE_METRICS = (landmark_name("os", 36), landmark_name("pfs", 36), rmst_name("os", 60),
                      log_hr_name("os"))


class MetricError(ValueError):
    """Text that is not a metric, or parts that would not read back as the same metric."""


_SEPARATOR = " - "


def _check_part(text: object, what: str) -> None:
    if not isinstance(text, str) or not text:
        raise MetricError(f"expected a non-empty {what}, got {text!r}")
    bad = ("'['" if "[" in text else "']'" if "]" in text
           else f"{_SEPARATOR!r}" if _SEPARATOR in text
           else "a space or '-' at an end" if text[0] in " -" or text[-1] in " -"
           else "a character that is not printable" if not text.isprintable() else None)
    if bad is not None:
        raise MetricError(f"expected a {what} without {bad}, got {text!r}")


@dataclass(frozen=True)
class Metric:
    """A vocabulary name, in one arm or as ``arm`` minus ``reference`` (a paired difference)."""

    name: str
    arm: str | None = None
    reference: str | None = None

    def __post_init__(self) -> None:
        _check_part(self.name, "metric name")
        if self.arm is not None:
            _check_part(self.arm, "arm name")
        if self.reference is not None:
            if self.arm is None:
                raise MetricError(f"expected an arm to set against reference {self.reference!r}")
            _check_part(self.reference, "reference arm name")

    @property
    def is_difference(self) -> bool:
        return self.reference is not None

    @property
    def measure(self) -> Measure | None:
        """The vocabulary entry of the name (None for a name this version does not know)."""
        return VOCABULARY.get(self.name)

    @property
    def arms_text(self) -> str:
        """The bracketed arm part of the text: '', '[arm]' or '[arm - reference]'."""
        if self.arm is None:
            return ""
        return f"[{self.arm}]" if self.reference is None else f"[{self.arm}{_SEPARATOR}{self.reference}]"

    def __str__(self) -> str:
        return self.name + self.arms_text

    @classmethod
    def parse(cls, text: str) -> Metric:
        """The metric whose text is ``text``; a MetricError (one line) if there is none."""
        if not isinstance(text, str):
            raise MetricError(f"expected a metric as text, got {type(text).__name__}")
        name, bracket, rest = text.partition("[")
        try:
            if not bracket:
                return cls(name)
            if not rest.endswith("]"):
                raise MetricError("expected it to end with ']'")
            arm, separator, reference = rest[:-1].partition(_SEPARATOR)
            return cls(name, arm, reference if separator else None)
        except MetricError as exc:
            raise MetricError(f"expected a metric such as os_36, os_36[arm] or "
                              f"os_36[arm - reference], got {text!r}: {exc}") from None
