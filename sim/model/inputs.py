"""What the model is given about each patient: the population's attributes it decides on, and the
patient's disease covariates, already turned into numbers (hazard ratios) by the population stage.

The model reads these by name and never changes them; it sees no population table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import NamedTuple


class PatientAttributes(NamedTuple):
    """One patient's attributes as the treatment steps read them.

    A NamedTuple: immutable and as cheap to build as a dict (a frozen dataclass costs about a
    microsecond more a patient, in its field-by-field ``__setattr__``)."""

    response_odds_ratio: float
    """odds ratio of a partial response at reassessment (1: the population's own)"""
    regimen: str
    """assigned chemotherapy regimen"""
    radiotherapy_course: str
    """assigned pelvic radiotherapy course"""
    sequence: str
    """local-treatment sequence when the rectum and metastases are both treated"""
    sites: tuple[str, ...]
    """tumour sites, the rectum first"""
    has_liver: bool
    has_lung: bool
    n_liver_metastases: int
    tumour_height: str
    """low, middle or high"""
    modality: Mapping[str, str]
    """metastatic site -> planned local treatment of it (liver, lung, distant_lymph_nodes)"""


@dataclass(frozen=True, slots=True)
class PatientInputs:
    """A centre's (or a block of centres') patients, one entry a patient in each list, in
    patient order: the columns the model needs, as Python lists (read one patient at a time)."""

    patient_id: list[int]
    attrs: list[PatientAttributes]
    age_years: list[float]
    male: list[bool]
    progression_hr: list[float]
    """covariate hazard ratio of progression"""
    death_hr: list[float]
    """covariate hazard ratio of cancer death"""
    treated_at_entry: list[tuple[str, ...]]
    """sites the patient enters with treated (the scenario's ``treated_at_entry`` but those a
    residual criterion leaves untreated, e.g. after an R2 resection)"""

    def __len__(self) -> int:
        return len(self.patient_id)

    def slice(self, start: int, stop: int) -> PatientInputs:
        """Patients ``start .. stop-1`` (positions in these lists, not patient ids)."""
        return PatientInputs(
            self.patient_id[start:stop], self.attrs[start:stop], self.age_years[start:stop],
            self.male[start:stop], self.progression_hr[start:stop], self.death_hr[start:stop],
            self.treated_at_entry[start:stop],
        )
