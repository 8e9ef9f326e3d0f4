"""The only place that imports plotly or rich: dashboards (``dashboard/``) and terminal tables
(``console``). Renders numbers derived in :mod:`sim.outcomes` and the analyses; derives none."""
