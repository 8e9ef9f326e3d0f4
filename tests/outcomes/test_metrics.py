"""Metrics as values (sim/outcomes/metrics.py): the one formatter and the one parser of the text
that results files and sweep resume keys store, what text they refuse, and the vocabulary that
comparisons, sweeps, the dashboard and the terminal tables read their names and units from."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from sim.compare.paired import arm_metrics, paired_metrics
from sim.errors import InputError
from sim.outcomes.metrics import ARM_OUTPUTS, DEPENDENCE_METRICS, VOCABULARY, Metric, MetricError
from sim.report.dashboard import sweep_labels as sl
from sim.sweep.spec import load_sweep

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "scenarios" / "li2021_reference.yaml"
TNT = ROOT / "scenarios" / "tnt_scrt_consolidation.yaml"

# a part's ends may not be a space or '-'; inside, spaces, hyphens, underscores, dots and other
# scripts are fine as long as " - " (the arm separator) does not appear
_ENDS = st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), blacklist_characters="[]-")
_INSIDE = st.one_of(st.sampled_from(" -_."), st.characters(
    blacklist_categories=("Cc", "Cs", "Zl", "Zp", "Zs"), blacklist_characters="[]"))


@st.composite
def parts(draw) -> str:
    text = draw(_ENDS) + "".join(draw(st.lists(_INSIDE, max_size=12)))
    if len(text) > 1 or draw(st.booleans()):
        text += draw(_ENDS)
    assume(" - " not in text and text.isprintable())
    return text


def test_the_stored_text_is_as_before():
    assert str(Metric("os_36")) == "os_36"
    assert str(Metric("os_36", "tnt")) == "os_36[tnt]"
    assert str(Metric("os_36", "tnt", "reference")) == "os_36[tnt - reference]"
    assert Metric.parse("rmst_os_60[sbrt_pd1 - control]") == Metric("rmst_os_60", "sbrt_pd1", "control")
    assert Metric.parse("os_36[tnt - reference]").is_difference
    assert not Metric.parse("os_36[tnt]").is_difference


@given(name=parts(), arm=st.none() | parts(), reference=st.none() | parts())
def test_names_with_spaces_hyphens_and_underscores_are_metrics_that_read_back(name, arm, reference):
    assume(arm is not None or reference is None)
    metric = Metric(name, arm, reference)
    assert Metric.parse(str(metric)) == metric


_ANY = st.text(alphabet=st.sampled_from(list("ab_- []")), max_size=6)


@given(name=_ANY, arm=st.none() | _ANY, reference=st.none() | _ANY)
@example(name="x", arm="a -", reference="b")
@example(name="x", arm="a", reference=" - b")
@settings(max_examples=400)
def test_every_metric_that_can_be_made_reads_back_as_itself(name, arm, reference):
    """Parts that would make two metrics share a text (an arm 'a -' against 'a', reference '- b')
    are refused when the metric is made, so format then parse is the identity on all metrics."""
    try:
        metric = Metric(name, arm, reference)
    except MetricError as exc:
        assert "\n" not in str(exc)
        return
    assert Metric.parse(str(metric)) == metric


@given(st.text(alphabet=st.sampled_from(list("ab_-. []")), max_size=16))
def test_any_text_parses_to_the_metric_it_is_the_text_of_or_is_refused(text):
    """The parser never reads two texts as one metric: what it accepts formats back unchanged."""
    try:
        metric = Metric.parse(text)
    except MetricError as exc:
        assert "\n" not in str(exc) and repr(text) in str(exc)
        return
    assert str(metric) == text


@pytest.mark.parametrize("text", [
    "", "[tnt]", "os_36[", "os_36]", "os_36[]", "os_36[tnt", "os_36[tnt]x", "os_36[tnt]]",
    "os_36[[tnt]]", "os_36[a - b - c]", "os_36[a - ]", "os_36[ - b]", "os_36[a -  - b]",
    "os_36 [tnt]", "os_36[tnt ]", "os_36[-tnt]", "os_36[tnt - ref-]", "os\n36",
])
def test_malformed_text_is_refused_in_one_line(text):
    with pytest.raises(MetricError) as info:
        Metric.parse(text)
    message = str(info.value)
    assert "\n" not in message and repr(text) in message and "os_36[arm - reference]" in message


@pytest.mark.parametrize("args", [("os_36", "a - b"), ("os_36", "tnt", "x - y"), ("os_36", None, "ref"),
                                  ("a - b",), ("os_36", "t]"), ("os_36", "")])
def test_parts_that_would_not_read_back_are_refused_when_made(args):
    with pytest.raises(MetricError):
        Metric(*args)


def test_the_texts_of_a_hyphenated_arm_and_a_difference_stay_apart():
    """'a-b' is an arm, 'a - b' a difference: the separator is space, hyphen, space."""
    assert Metric.parse("os_36[a-b]") == Metric("os_36", "a-b")
    assert Metric.parse("os_36[a - b]") == Metric("os_36", "a", "b")
    assert Metric.parse("os_36[a b - c d]") == Metric("os_36", "a b", "c d")


def _sweep_file(tmp_path: Path, arms: dict[str, Path], outputs: list[str]) -> Path:
    data = {"name": "metric_names", "arms": {k: str(v) for k, v in arms.items()}, "patients": 100,
            "outputs": outputs, "analysis": {"type": "one_way", "parameters": [
                {"path": "parameters.mdt.refusal_probability", "low": 0.0, "high": 0.02}]}}
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("arm", ["a - b", "tnt-scrt", "tnt scrt", "1st", "tnt[2]", "_tnt"])
def test_a_sweep_refuses_arm_names_other_than_identifiers_in_one_line(tmp_path, arm):
    with pytest.raises(InputError) as info:
        load_sweep(_sweep_file(tmp_path, {"reference": REFERENCE, arm: TNT}, ["os_36"]))
    line = info.value.one_line()
    assert "\n" not in line and "arms" in line and "letters, digits and '_'" in line and repr(arm) in line


def test_a_comparison_sweep_stores_every_arm_then_every_difference(tmp_path):
    sweep = load_sweep(_sweep_file(tmp_path, {"reference": REFERENCE, "tnt": TNT},
                                   ["os_36", "completion_rate"]))
    assert sweep.output_names() == ["os_36[reference]", "os_36[tnt]", "completion_rate[reference]",
                                    "completion_rate[tnt]", "os_36[tnt - reference]",
                                    "completion_rate[tnt - reference]"]
    assert [Metric.parse(n) for n in sweep.output_names()] == sweep.metrics()


def _patients(n: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(4)
    frame = {m.source: rng.random(n) < 0.3 for m in VOCABULARY.values() if m.kind == "rate"}
    for endpoint in ("os", "pfs"):
        frame[f"{endpoint}_months"] = rng.uniform(1, 70, n)
        frame[f"{endpoint}_event"] = rng.random(n) < 0.6
    return pd.DataFrame(frame)


def test_an_arm_yields_the_vocabulary_and_a_pair_adds_the_log_hazard_ratios():
    a, b = _patients(), _patients().assign(os_months=lambda f: f["os_months"] * 1.2)
    values = arm_metrics(a)
    assert sorted(values) == sorted(n for n in ARM_OUTPUTS if VOCABULARY[n].resource is None)
    assert list(values)[4:9] == ["os_12", "os_24", "os_36", "rmst_os_36", "rmst_os_60"]
    assert values["completion_rate"] == pytest.approx(a["completed"].mean())
    assert list(paired_metrics(a, b)) == [*values, "log_hr_os", "log_hr_pfs"]
    assert paired_metrics(a, b)["log_hr_os"] < 0  # longer survival in b: a hazard ratio below 1
    assert set(DEPENDENCE_METRICS) <= set(paired_metrics(a, b))


def test_units_directions_and_short_labels_of_the_vocabulary():
    unit = {n: m.unit for n, m in VOCABULARY.items()}
    assert unit["os_36"] == unit["completion_rate"] == unit["theatre_utilisation"] == "proportion"
    assert unit["rmst_pfs_60"] == "months" and unit["linac_mean_wait_days"] == "days"
    lower = {n for n in ARM_OUTPUTS if VOCABULARY[n].lower_is_better}
    assert lower == {"grade34_toxicity_rate", "grade34_toxicity_any_phase_rate",
                     "surgical_complication_rate", "linac_mean_wait_days", "theatre_mean_wait_days",
                     "mdt_mean_wait_days"}
    assert VOCABULARY["os_12"].short == "OS 1 year" and VOCABULARY["pfs_36"].short == "PFS 3 years"


def test_the_sweep_dashboard_names_and_units_come_from_the_vocabulary():
    assert sl.label("os_36[tnt - reference]") == "overall survival at 36 months [tnt - reference]"
    assert sl.label(Metric("theatre_mean_wait_days")) == "mean wait for an operation"
    assert sl.unit("rmst_os_60[tnt]") == "months" and sl.unit("mdt_mean_wait_days") == "days"
    assert sl.value_text("completion_rate[a - b]", -0.034) == "-3.4 pp"
    assert sl.value_text("linac_mean_wait_days", 12.34) == "12.3 days"
