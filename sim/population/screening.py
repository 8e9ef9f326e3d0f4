"""Eligibility screening: how many candidates of a scenario's source population qualify, and
which criterion excludes how many: the first question a trial designer asks.

A pure function of the scenario: candidates are drawn exactly as a run draws them (same seed, same
streams), so the screened cohort is the one the simulation treats.
"""

from __future__ import annotations

import numpy as np

from sim.population.sample import draw_candidates


def _rule(criterion) -> str:
    if criterion.allowed is not None:
        return f"{criterion.attribute} in {{{', '.join(criterion.allowed)}}}"
    if criterion.min is not None and criterion.max is not None:
        return f"{criterion.min:g} <= {criterion.attribute} <= {criterion.max:g}"
    if criterion.min is not None:
        return f"{criterion.attribute} >= {criterion.min:g}"
    return f"{criterion.attribute} <= {criterion.max:g}"


def screen(scenario, candidates: int) -> dict:
    """Per criterion, in protocol order: candidates failing it (whatever the others say) and
    candidates it excludes after the earlier criteria (a CONSORT-style waterfall)."""
    df = draw_candidates(scenario, 0, candidates)
    remaining = np.ones(len(df), dtype=bool)
    rows = []
    for c in scenario.population.eligibility:
        ok = c.passes(df[c.attribute])
        excluded = int(np.sum(remaining & ~ok))
        remaining &= ok
        rows.append({
            "criterion": c.label, "rule": _rule(c), "source": c.source,
            "failing": int(np.sum(~ok)), "failing_fraction": float(np.mean(~ok)),
            "excluded_in_order": excluded, "remaining": int(remaining.sum()),
        })
    eligible = int(remaining.sum())
    return {
        "scenario": scenario.name, "seed": scenario.run.seed, "candidates": int(len(df)),
        "eligible": eligible, "eligible_fraction": eligible / len(df) if len(df) else 0.0,
        "criteria": rows,
        "candidates_per_patient": len(df) / eligible if eligible else None,
    }
