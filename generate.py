#!/usr/bin/env python3
"""Generate out/ from params/ (both beside this file): the same as ``fargate-generate``.

The generator is the ``blueprints`` package (blueprints/cli.py); ``make generate`` installs it.
"""

import sys
from pathlib import Path

from blueprints.cli import main

if __name__ == "__main__":
    sys.exit(main(root=Path(__file__).resolve().parent))
