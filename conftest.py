"""The gate's pytest entry point: its plugins (also named in pyproject.toml's addopts)."""
pytest_plugins = ["fixtures.results", "fixtures.plugin", "fixtures.accuracy_runs", "fixtures.load_runs",
                  "fixtures.snapshots", "fixtures.xdist_groups"]
