"""Virtual trials: a published study re-run on virtual patients at its size and calendar."""
