"""The gate's pytest entry point: everything lives in the fixtures plugin."""
pytest_plugins = ["fixtures.results", "fixtures.plugin", "fixtures.accuracy_runs", "fixtures.load_runs",
                  "fixtures.snapshots", "fixtures.xdist_groups"]
