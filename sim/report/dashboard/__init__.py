"""Interactive dashboards: figures (pure, data -> plotly) and page assembly, one HTML file."""
