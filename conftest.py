"""The gate's pytest entry point in a checkout: the plugins of fixtures/gate.py (also the installed entry point)."""
pytest_plugins = ["fixtures.gate"]
