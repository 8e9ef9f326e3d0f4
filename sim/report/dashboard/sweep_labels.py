"""How the sweep dashboard names and formats outputs and parameters.

Outputs are named as the sweep stores them: the metric (``os_36``) for one scenario, and
``metric[arm]`` / ``metric[arm - reference]`` for a comparison. Proportions are shown as
percentages (differences in percentage points), waits in days, restricted means in months.
"""

from __future__ import annotations

import math

_RATES = {"completion_rate": "completed the schedule",
          "grade34_toxicity_rate": "grade 3-4 toxicity (preoperative)",
          "grade34_toxicity_any_phase_rate": "grade 3-4 toxicity (any phase)",
          "surgical_complication_rate": "Clavien-Dindo >= III complications"}
_WAITS = {"linac": "the linac", "theatre": "an operation", "mdt": "an MDT place"}


def metric(output: str) -> str:
    return output.split("[", 1)[0]


def is_difference(output: str) -> bool:
    return " - " in output


def unit(output: str) -> str:
    """'share', 'days' or 'months': what the output's numbers are."""
    m = metric(output)
    return "days" if m.endswith("_days") else "months" if m.startswith("rmst_") else "share"


def label(output: str) -> str:
    """A reader's name for an output, e.g. 'overall survival at 36 months [tnt - reference]'."""
    m = metric(output)
    parts = m.split("_")
    if m in _RATES:
        text = _RATES[m]
    elif parts[0] in ("os", "pfs"):
        text = f"{'overall' if parts[0] == 'os' else 'progression-free'} survival at {parts[1]} months"
    elif parts[0] == "rmst":
        text = f"restricted mean {parts[1].upper()} to {parts[2]} months"
    elif m.endswith("_mean_wait_days"):
        text = f"mean wait for {_WAITS.get(parts[0], parts[0])}"
    else:
        text = f"{parts[0]} utilisation"
    return text + (output[len(m):].replace("[", " [") if "[" in output else "")


def axis_title(output: str, what: str | None = None, wrap: int = 45) -> str:
    """The output's name and unit, over two or three lines when too long for an axis."""
    u = unit(output)
    name = what or label(output)
    if is_difference(output):
        text = f"{name} (difference, {'percentage points' if u == 'share' else u})"
    else:
        text = f"{name} ({'%' if u == 'share' else u})"
    return text if len(text) <= wrap else text.replace(" [", "<br>[", 1).replace(" (", "<br>(", 1)


def tickformat(output: str) -> str:
    sign = "+" if is_difference(output) else ""
    return {"share": f"{sign}.1~%", "days": f"{sign},.0f", "months": f"{sign}.1f"}[unit(output)]


def hoverformat(output: str) -> str:
    sign = "+" if is_difference(output) else ""
    return {"share": f"{sign}.1%", "days": f"{sign},.1f", "months": f"{sign}.2f"}[unit(output)]


def value_text(output: str, x: float | None, signed: bool | None = None) -> str:
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
