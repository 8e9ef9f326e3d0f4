"""Calibration: fit the model's rates to a published cohort, with uncertainty.

Data flow: targets file + calibration spec -> candidate parameter vectors -> in-memory runs
(common random numbers) -> statistics -> likelihood -> best fit and a set of parameter vectors
consistent with the targets -> fitted overlay, posterior table and report. The model never imports
this package; only the CLI does.
"""
