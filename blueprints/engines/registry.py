"""The one registry of blue/green engines. ``params`` accepts exactly the names registered here.

Adding an engine is one module (implementing ``blueprints.engines.base.Engine`` and calling
``register`` on import) plus its line in ``BUILT_IN``. Engines are imported on first use, so
the configuration models can ask for the names without importing the blueprints.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .base import Engine

# Modules of blueprints/engines/ that register an engine when imported.
BUILT_IN = ("codedeploy", "cloudformation", "ecs")
DEFAULT = "codedeploy"

_engines: dict[str, Engine] = {}
_loaded = False


def register(engine: Engine) -> Engine:
    """Make ``engine`` available under ``engine.name`` (a later registration of the name replaces it)."""
    _engines[engine.name] = engine
    return engine


def unregister(name: str) -> None:
    _engines.pop(name, None)


def _load_built_ins() -> None:
    global _loaded
    if not _loaded:
        _loaded = True
        for module in BUILT_IN:
            importlib.import_module(f"{__package__}.{module}")


def names() -> tuple[str, ...]:
    """Registered engine names, built-ins first in ``BUILT_IN`` order."""
    _load_built_ins()
    # Built-ins in BUILT_IN order whichever module was imported first, then the others as registered.
    built_in = [name for name in BUILT_IN if name in _engines]
    return (*built_in, *[name for name in _engines if name not in BUILT_IN])


def get(name: str) -> Engine:
    _load_built_ins()
    return _engines[name]
