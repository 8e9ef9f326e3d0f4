"""The only writer: results directories written atomically (``results``)."""
