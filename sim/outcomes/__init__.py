"""Stage 4, the only place that turns the event log into numbers: the patient table
(``patients``), Kaplan-Meier (``survival``), resource use, sessions and waits (``resources``), the
per-patient state timeline a cost-and-utility layer integrates over (``timeline``), the run
summary (``summary``), and the documented columns of every table (``schemas``). Summaries,
dashboards, sweeps, comparisons and calibration all read their numbers from here."""
