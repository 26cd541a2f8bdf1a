# The project is installed (make test: pip install -e ".[test]"): tests import blueprints,
# deployer and lintgate as packages, and tests.* from the repository root (pytest's rootdir).
# Local AWS endpoint (moto on 127.0.0.1) for the deploy tests: fixtures `moto_endpoint` and `moto`.
pytest_plugins = ["tests.moto_support"]
