"""Import rliable even where its dependency ``arch`` fails to import.

rliable only needs ``arch.bootstrap``, but ``import arch`` runs ``arch/__init__.py``, which imports
``arch.univariate``; arch 7.2 fails there with pandas >= 3 (``deprecate_kwarg() missing 1 required
positional argument``). When that happens, ``arch`` is registered as a bare namespace package so that
``arch.bootstrap`` is imported without the univariate models.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types


def _import_arch_bootstrap() -> None:
    try:
        import arch.bootstrap  # noqa: F401
    except TypeError:
        for name in [m for m in sys.modules if m == "arch" or m.startswith("arch.")]:
            del sys.modules[name]
        spec = importlib.util.find_spec("arch")
        if spec is None or spec.submodule_search_locations is None:
            raise
        package = types.ModuleType("arch")
        package.__path__ = list(spec.submodule_search_locations)
        sys.modules["arch"] = package
        importlib.import_module("arch.bootstrap")


_import_arch_bootstrap()

from rliable import library as rly
from rliable import metrics

__all__ = ["metrics", "rly"]
