"""Stage 2: virtual patients, drawn from a cohort's published marginals or resampled from a
user CSV (``sample``), and a protocol's eligibility waterfall (``screening``)."""
