"""How the sweep dashboard names and formats outputs and parameters.

Outputs are named as the sweep stores them (:class:`sim.outcomes.metrics.Metric`): the metric
(``os_36``) for one scenario, and ``metric[arm]`` / ``metric[arm - reference]`` for a comparison.
What each metric is called and its unit come from the vocabulary there. Proportions are shown as
percentages (differences in percentage points), waits in days, restricted means in months.
"""

from __future__ import annotations

import math

from sim.outcomes.metrics import Metric

#: how the dashboard writes each unit of the vocabulary
_UNITS = {"proportion": "share", "days": "days", "months": "months"}


def _metric(output: str | Metric) -> Metric:
    return output if isinstance(output, Metric) else Metric.parse(output)


def is_difference(output: str | Metric) -> bool:
    return _metric(output).is_difference


def unit(output: str | Metric) -> str:
    """'share', 'days' or 'months': what the output's numbers are."""
    measure = _metric(output).measure
    return _UNITS.get(measure.unit, "share") if measure is not None else "share"


def label(output: str | Metric) -> str:
    """A reader's name for an output, e.g. 'overall survival at 36 months [tnt - reference]'."""
    m = _metric(output)
    text = m.measure.label if m.measure is not None else m.name
    return f"{text} {m.arms_text}" if m.arms_text else text


def axis_title(output: str | Metric, what: str | None = None, wrap: int = 45) -> str:
    """The output's name and unit, over two or three lines when too long for an axis."""
    u = unit(output)
    name = what or label(output)
    if is_difference(output):
        text = f"{name} (difference, {'percentage points' if u == 'share' else u})"
    else:
        text = f"{name} ({'%' if u == 'share' else u})"
    return text if len(text) <= wrap else text.replace(" [", "<br>[", 1).replace(" (", "<br>(", 1)


def tickformat(output: str | Metric) -> str:
    sign = "+" if is_difference(output) else ""
    return {"share": f"{sign}.1~%", "days": f"{sign},.0f", "months": f"{sign}.1f"}[unit(output)]


def hoverformat(output: str | Metric) -> str:
    sign = "+" if is_difference(output) else ""
    return {"share": f"{sign}.1%", "days": f"{sign},.1f", "months": f"{sign}.2f"}[unit(output)]


def value_text(output: str | Metric, x: float | None, signed: bool | None = None) -> str:
    """A value with its unit; signed (and in percentage points) for a difference, unless
    ``signed`` says otherwise (an MC SE has no sign)."""
    if x is None or not math.isfinite(x):
        return "-"
    sign = "+" if (is_difference(output) if signed is None else signed) else ""
    u = unit(output)
    if u == "share":
        return f"{100 * x:{sign}.1f}{' pp' if is_difference(output) else '%'}"
    return f"{x:{sign},.1f} days" if u == "days" else f"{x:{sign}.2f} months"


def short(path: str) -> str:
    """A parameter path short enough for an axis (the full path is in the hover)."""
    name = path.removeprefix("parameters.")
    return name if len(name) <= 42 else "…" + ".".join(name.split(".")[-2:])[-41:]


def short_names(paths: list[str]) -> list[str]:
    """:func:`short` names, lengthened where two of them would be the same: the shortest dotted
    ending that tells each path from the others (bars sharing a name would be drawn as one)."""
    names = [short(p) for p in paths]
    parts = [p.removeprefix("parameters.").split(".") for p in paths]
    for i, name in enumerate(names):
        if names.count(name) == 1:
            continue
        for k in range(2, len(parts[i]) + 1):
            if all(q[-k:] != parts[i][-k:] for j, q in enumerate(parts) if j != i):
                break
        names[i] = ("" if k == len(parts[i]) else "…") + ".".join(parts[i][-k:])
    return names
