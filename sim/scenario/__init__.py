"""Stage 1, the one validation gate: scenario YAML -> a frozen, validated :class:`Scenario`.

``loader`` reads files and resolves ``extends:``; ``population``, ``strategy`` and ``parameters``
are the pydantic schemas of a scenario's sections; ``params`` and ``distributions`` the typed
parameter values (a hazard ratio is not an odds ratio) and their uncertainty; ``documents`` turns
any input problem into one line naming file and field. Nothing downstream reads YAML.
"""
