"""Assemble the dashboard: one self-contained HTML page (plotly.js embedded once, no network).

Panels: overview cards, Kaplan-Meier OS and PFS with numbers at risk (and published landmarks
when the scenario is calibrated), the pathway Sankey, toxicity and complications, patient
timelines, resources and waits, and, when present, the comparison and the calibration fit.
A strategy selector (and a pathway filter for the timelines) shows or hides every trace tagged
with ``meta.strategy`` / ``meta.pathway``. The page around the panels is :mod:`sim.report.dashboard.shell`;
a sweep's results directory gets its own dashboard (:mod:`sim.report.dashboard.sweep_page`).
"""

from __future__ import annotations

import html
import json
from pathlib import Path

from sim.errors import InputError
from sim.report.dashboard import data as d
from sim.report.dashboard import figures as f
from sim.report.dashboard.shell import Panel, html_page, is_sweep_directory

_FILTER_JS = """
function crcsimVisible(gd) {
  const s = document.getElementById('strategy').value;
  const pw = document.getElementById('pathway').value;
  const first = document.getElementById('strategy').options[1].value;
  return gd.data.map(function (t) {
    const m = t.meta || {};
    if (!m.strategy) { return true; }
    let ok = (s === 'all') ? (!m.exclusive || m.strategy === first) : m.strategy === s;
    if (ok && m.pathway && pw !== 'all') { ok = m.pathway === pw; }
    return ok;
  });
}
function crcsimFilter() {
  const s = document.getElementById('strategy').value;
  document.querySelectorAll('.js-plotly-plot').forEach(function (gd) {
    if (gd.data) { Plotly.restyle(gd, {visible: crcsimVisible(gd)}); }
  });
  document.querySelectorAll('[data-strategy]').forEach(function (el) {
    el.style.display = (s === 'all' || el.dataset.strategy === s) ? '' : 'none';
  });
}
function crcsimAfterDraw(gd) { Plotly.restyle(gd, {visible: crcsimVisible(gd)}); }
document.getElementById('strategy').addEventListener('change', crcsimFilter);
document.getElementById('pathway').addEventListener('change', crcsimFilter);
"""

def _pct(x) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}%"


def _with_interval(r: dict) -> str:
    return f"{_pct(r['rate'])} ({_pct(r['low'])}-{_pct(r['high'])})"


def _card(i: int, s: d.Strategy) -> str:
    p = s.patients
    comp = d.rate(p["completed"])
    tox = d.rate(p["grade34_toxicity"])
    os3 = s.summary["os"]
    pfs3 = s.summary["pfs"]

    def ci(block, key="36"):
        c = (block.get("ci95") or {}).get(key)
        return f" ({_pct(c[0])}-{_pct(c[1])})" if c else ""

    rows = [
        ("patients", f"{len(p):,}"),
        ("completed the schedule", _with_interval(comp)),
        ("grade 3-4 toxicity (preoperative)", _with_interval(tox)),
        ("3-year OS", _pct(os3.get("36")) + ci(os3)),
        ("3-year PFS", _pct(pfs3.get("36")) + ci(pfs3)),
    ]
    body = "".join(f"<tr><td>{html.escape(k)}</td><td class='v'>{v}</td></tr>" for k, v in rows)
    return (f"<div class='card' data-strategy='{html.escape(s.name)}' style='--c:{f.colour(i)}'>"
            f"<h3>{html.escape(s.name)}</h3><table>{body}</table></div>")


def _published_landmarks(report_path: Path, report: dict) -> dict[str, list[dict]]:
    """The whole cohort's published Kaplan-Meier landmarks, read from the targets file the
    calibration names (``provenance.targets``, relative to the project: the folder above
    ``calibration/``); none if that file is not there."""
    from sim.calibrate.targets import KmTarget, load_targets

    marks: dict[str, list[dict]] = {"os": [], "pfs": []}
    named = (report.get("provenance") or {}).get("targets")
    path = report_path.resolve().parents[2] / named if named else None
    if path is None or not path.is_file():
        return marks
    targets, _ = load_targets(path)
    for t in targets.targets:
        if isinstance(t, KmTarget) and t.group is None and t.ci95 is not None:
            marks[t.curve].append({"month": t.month, "value": t.percent / 100,
                                   "low": t.ci95[0] / 100, "high": t.ci95[1] / 100})
    return marks


def _km_targets(strategies: list[d.Strategy]) -> tuple[dict[str, list[dict]], list[dict]]:
    """Published Kaplan-Meier landmarks (and all calibration rows) of the first calibrated arm."""
    for s in strategies:
        fitted = (s.manifest.get("scenario") or {}).get("calibration")
        if not fitted:
            continue
        report_path = Path(fitted).with_name(f"{Path(fitted).stem}_report.json")
        if not report_path.is_file():
            continue
        report = json.loads(report_path.read_text(encoding="utf-8"))
        return _published_landmarks(report_path, report), report.get("targets", [])
    return {"os": [], "pfs": []}, []


def _event_scope(strategies: list[d.Strategy]) -> tuple[str, str]:
    """What the event panels cover: an axis label, and a note for those panels ('' when every
    strategy's panels show all its patients)."""
    scopes = {s.scope for s in strategies}
    if scopes == {None}:
        return "all centres", ""
    only = next(iter(scopes))
    label = only.centres if len(scopes) == 1 and only is not None else "centres as noted above"
    shown = "; ".join(f"{s.name}: {s.scope or 'all patients'}" if len(strategies) > 1
                      else str(s.scope) for s in strategies)
    return label, (f"<p class='note'>From the event log of {html.escape(shown)} only: the whole "
                   "log of so large a run is not read.</p>")


def build_figures(loaded: d.Loaded) -> list[Panel]:
    """(panel id, heading, figure or None for HTML, html) in page order."""
    strategies = loaded.strategies
    panels: list[Panel] = []
    cards = "".join(_card(i, s) for i, s in enumerate(strategies))
    notes = "".join(f"<p class='note'>{html.escape(n)}</p>" for n in loaded.notes)
    panels.append(("overview", "1. Overview", None, f"<div class='cards'>{cards}</div>{notes}"))
    centres, scope_note = _event_scope(strategies)
    marks, calibration_rows = _km_targets(strategies)
    horizon = max(float(s.patients["os_months"].max()) for s in strategies)
    for endpoint in ("os", "pfs"):
        curves = {s.name: d.km_curve(s.patients, endpoint, horizon) for s in strategies}
        panels.append((f"km-{endpoint}", f"2. Kaplan-Meier {endpoint.upper()}",
                       f.km_figure(curves, endpoint, marks[endpoint]), ""))
        panels.append((f"at-risk-{endpoint}", "", f.at_risk_figure(curves, endpoint), ""))
    panels.append(("sankey", "3. The pathway", f.sankey_figure(
        {s.name: d.pathway_flows(s.patients) for s in strategies}), ""))
    tox = {s.name: d.toxicity_rates(s.patients) for s in strategies}
    panels.append(("toxicity", "4. Toxicity and complications", f.rates_figure(
        tox, "Grade 3-4 toxicity by type (preoperative phases), with 95% intervals",
        "CTCAE type"), ""))
    by_phase: dict[str, dict[str, dict]] = {}
    for s in strategies:
        frame = d.toxicity_by_phase(s.events, s.panel_patients)
        by_phase[s.name] = {f"{r.type} ({r.phase})": {"rate": r.rate, "low": r.low, "high": r.high,
                                                       "count": r.count, "n": r.n}
                            for r in frame.itertuples()}
    panels.append(("toxicity-phase", "", f.rates_figure(
        by_phase, "Grade 3-4 toxicity by type and phase, with 95% intervals", "type (phase)"), scope_note))
    comps: dict[str, dict[str, dict]] = {}
    for s in strategies:
        frame = d.complications_by_type(s.events, s.panel_patients)
        comps[s.name] = {str(r.type).replace("_", " "): {"rate": r.rate, "low": r.low, "high": r.high,
                                                     "count": r.count, "n": r.n}
                         for r in frame.itertuples()}
    panels.append(("complications", "", f.rates_figure(
        comps, "Clavien-Dindo >= III complications by type, with 95% intervals",
        "complication"), ""))
    panels.append(("swimmer", "5. Patient timelines", f.swimmer_figure(
        {s.name: d.swimmer_rows(s.events, s.panel_patients) for s in strategies}), scope_note))
    centre_counts = {s.name: int(s.panel_patients["centre"].nunique()) for s in strategies}
    weekly = {s.name: {res: d.weekly_use(s.events, event, centre_counts[s.name])
                       for res, event in (("linac", "rt_fraction"), ("theatre", "procedure"),
                                          ("MDT", "mdt"))} for s in strategies}
    res = (strategies[0].manifest.get("scenario") or {}).get("resources", {})
    capacity = {}
    for key, name in (("linac", "linac"), ("theatre", "theatre"), ("mdt", "MDT")):
        if key in res:
            capacity[name] = len(res[key]["weekdays"]) * res[key]["slots_per_day"]
    panels.append(("resources", "6. Resources", f.resources_figure(weekly, capacity, centres),
                   scope_note))
    queues = {s.name: d.queue_lengths(s.events, centre_counts[s.name]) for s in strategies}
    panels.append(("queues", "", f.queues_figure(queues, centres), ""))
    panels.append(("waits", "", f.waits_figure({s.name: d.waits(s.events) for s in strategies}), ""))
    if loaded.comparison:
        pairs = dict(loaded.comparison.get("pairs", {}))
        # beside each contrast, the same with every assumed strategy effect at 1
        mechanisms = loaded.comparison.get("mechanisms_only") or {}
        pairs |= {f"{name} (mechanisms only)": block
                  for name, block in mechanisms.get("pairs", {}).items()}
        panels.append(("differences", "7. Differences between strategies",
                       f.differences_figure(pairs), ""))
        panels.append(("forest", "", f.forest_figure(pairs), ""))
    if calibration_rows:
        panels.append(("calibration", "8. Calibration fit", f.calibration_figure(calibration_rows),
                       "<p class='note'>The calibration's verification run against the published "
                       "figures it was fitted to (and those kept back for validation).</p>"))
    return panels


def render(loaded: d.Loaded, title: str = "crcsim dashboard") -> str:
    panels = build_figures(loaded)
    names = [s.name for s in loaded.strategies]
    pathways = sorted({str(p) for s in loaded.strategies for p in s.patients["pathway"].unique()})
    options = "".join(f"<option value='{html.escape(n)}'>{html.escape(n)}</option>" for n in names)
    path_opts = "".join(f"<option value='{html.escape(p)}'>{html.escape(p.replace('_', ' '))}</option>"
                        for p in pathways)
    sources = "; ".join(f"{html.escape(s.name)}: {s.summary.get('n_patients', len(s.patients)):,} "
                        f"patients, seed {s.summary.get('seed')}" for s in loaded.strategies)
    header = f"""<label>Strategy <select id="strategy"><option value="all">all strategies</option>{options}
</select></label>
<label>Timelines: pathway <select id="pathway"><option value="all">all pathways</option>{path_opts}
</select></label>
<span class="note">{sources}</span>"""
    footer = ("Made by crcsim from results directories; every number is derived from the simulated "
              "event logs. Intervals: 95%, binomial (Wilson) for rates, Greenwood for Kaplan-Meier.")
    return html_page(title, header, panels, footer, _FILTER_JS)


def write_dashboard(directories: list[Path], out: Path, title: str | None = None) -> tuple[Path, int]:
    """Load, render and write atomically; returns the path and its size in bytes. A sweep's
    results directory gets the sweep dashboard (so ``crcsim dashboard`` takes either)."""
    from sim.io.atomic import atomic_write
    sweeps = [p for p in map(Path, directories) if is_sweep_directory(p)]
    if sweeps:
        from sim.report.dashboard.sweep_page import write_sweep_dashboard  # plotly.py: only then

        if len(directories) > 1:
            raise InputError(str(sweeps[0]), None, "expected a sweep results directory on its own, "
                             "not with other directories")
        return write_sweep_dashboard(sweeps[0], out, title)
    loaded = d.load_strategies(directories)
    names = ", ".join(s.name for s in loaded.strategies)
    text = render(loaded, title or f"crcsim: {names}")
    atomic_write(Path(out), text)
    return Path(out), Path(out).stat().st_size
