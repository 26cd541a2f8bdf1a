import sys
from pathlib import Path

# Tests import the project's modules (blueprints, scripts) from the repository root.
ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# Local AWS endpoint (moto on 127.0.0.1) for the deploy tests: fixtures `moto_endpoint` and `moto`.
pytest_plugins = ["tests.moto_support"]
