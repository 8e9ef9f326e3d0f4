"""Treatment step types: one module per kind of step.

Each module has a ``build(spec, ctx)`` that turns a validated step of the strategy into a runner:
a function ``runner(patient)`` returning a simpy generator, whose return value is the name of the
next phase (for routing steps) or ``None``.
"""
