"""``parameters.palliative_therapy``: lines of palliative systemic therapy.

Metastatic colorectal cancer that cannot be treated locally is treated with lines of
chemotherapy: a first line (induction, then a break or maintenance) while the disease is
controlled, a second and sometimes a third line after each progression, then best supportive
care. The disease model has one progression (the first); the lines after it are described by
how long they last, and the cancer death hazard runs at the supportive-care ratio once they end.
Without this section the ``palliative`` step is restaging only, as in earlier versions.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from sim.scenario.params import Months, Probability


class LaterLine(BaseModel):
    """A line of chemotherapy after a detected progression."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    probability: Probability = Field(description="P(the patient is fit for and accepts it)")
    mean_months: Months = Field(
        description="mean time on the line (exponential): until the next progression, death or "
        "intolerance")


class PalliativeTherapy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    first_line_months: Months = Field(
        description="planned length of the first line for controlled disease, after which a "
        "treatment break (restaging, off treatment) lasts until progression")
    later_lines: list[LaterLine] = Field(description="after each detected progression, in order")
    relapse_line: LaterLine | None = Field(
        None, description="a first palliative line for a relapse found in surveillance after "
        "treatment ended (before the later lines); none: the later lines only")
    reintroduction_line: LaterLine | None = Field(
        None, description="the first line's regimen reintroduced after a progression found in "
        "the break that followed it (before the later lines); none: the later lines only")
    source: str | None = None
