"""Paired comparison of strategies on common random numbers: statistics of paired differences
(``paired``) and the ``crcsim compare`` job (``run``)."""
