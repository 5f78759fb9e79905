"""Optional dependencies: import one, or say which extra installs it.

>>> require("json", "none", "Reading JSON").__name__
'json'
>>> try:
...     require("no_such_module", "redis", "Redis support")
... except MissingDependency as exc:
...     print(exc)
Redis support needs the 'no_such_module' package: pip install 'hueyviz[redis]'
"""
from __future__ import annotations

import importlib
from types import ModuleType

from .errors import MissingDependency

__all__ = ["redis", "require"]


def require(module: str, extra: str, what: str) -> ModuleType:
    """``module``, imported; if it is not installed, :class:`MissingDependency`
    saying ``pip install 'hueyviz[<extra>]'``.  A module that is installed
    but fails to import raises its own error, not a misleading hint."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise MissingDependency(module, extra, what) from None


def redis() -> ModuleType:
    """redis-py, for ``redis://`` sinks and sources (the ``redis`` extra)."""
    return require("redis", "redis", "Redis support")
