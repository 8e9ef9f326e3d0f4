"""Closed-form hazard pieces: Weibull cumulative hazards and piecewise-constant life tables.

Parameterisation (as lifelines and scipy's ``weibull_min``): a Weibull with shape k and scale
lambda has cumulative hazard H(t) = (t / lambda)^k and survival exp(-H(t)). A hazard ratio
multiplies H; it never rescales t (scaling time by a is a hazard ratio of a^-k).
"""

from __future__ import annotations

import math

DAYS_PER_MONTH = 365.25 / 12
DAYS_PER_YEAR = 365.25


def weibull_cumhaz(t: float, shape: float, scale: float) -> float:
    """H(t) = (t / scale) ** shape, for t >= 0 (same units as scale)."""
    return (t / scale) ** shape if t > 0 else 0.0


def weibull_inverse_cumhaz(h: float, shape: float, scale: float) -> float:
    """The time t with H(t) = h."""
    return scale * h ** (1.0 / shape) if h > 0 else 0.0


def weibull_median(shape: float, scale: float) -> float:
    median: float = scale * math.log(2.0) ** (1.0 / shape)  # a float's power is typed Any
    return median


def life_table_death_age(
    age_years: float, budget: float, bands: tuple[tuple[float, float], ...], first: int = 0
) -> float:
    """Age (years) at which the cumulative hazard from ``age_years`` reaches ``budget``.

    ``bands`` are (age_from, hazard per year), sorted by age; the first band also covers younger
    ages and the last one every older age (its hazard is held constant). ``first``: a band at or
    before the one that holds ``age_years`` (the bands before it are skipped unread).
    """
    remaining = budget
    age = age_years
    for i in range(first, len(bands)):
        rate = bands[i][1]
        upper = bands[i + 1][0] if i + 1 < len(bands) else math.inf
        if age >= upper:
            continue
        if rate <= 0:
            age = upper
            continue
        span = upper - age
        if rate * span >= remaining:
            return age + remaining / rate
        remaining -= rate * span
        age = upper
    return math.inf
