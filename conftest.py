"""The gate's pytest entry point is its plugin, fixtures/gate.py: the installed pytest11 entry point
`fixtures.gate`, or `-p fixtures.gate` from pyproject.toml's addopts in a checkout that was not installed.
It names no pytest_plugins here: pytest refuses them in a conftest.py that is not at its rootdir, which this
one is not when a thresholds copy elsewhere moves the rootdir."""
