"""Stage 3, the simpy model and nothing else: one centre's environment and arrivals
(``centre``), what it is given about each patient (``inputs``), the patient process and its waits
(``patient``), the disease clock (``disease``, ``hazards``), booking calendars (``calendars``),
what step runners share (``context``), the pathway interpreter (``pathway``, ``plans``), one
module per treatment step (``treatments/``), the event rows and vocabulary (``events``) and the
keyed random streams (``rng``).

It sees only validated, compiled inputs (typed: a :class:`~sim.scenario.loader.Scenario`, compiled
parameter records, :class:`~sim.model.inputs.PatientInputs`) and writes only event rows: no YAML,
pandas, plotly or files. Its code, with the packages that make a run's numbers, is the model's fingerprint
(:data:`sim.calibrate.evaluate.RESULT_PACKAGES`).
"""
