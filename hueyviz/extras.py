"""Optional dependencies: import one, or say which extra installs it.

>>> require("json", "none", "Reading JSON").__name__
'json'
>>> try:
...     require("no_such_module", "redis", "Redis support")
... except MissingExtra as exc:
...     print(exc)
Redis support needs the 'no_such_module' package, which is not installed: pip install 'hueyviz[redis]'
"""
import importlib

__all__ = ["MissingExtra", "require", "redis"]


class MissingExtra(ImportError):
    """An optional dependency is missing; the message names the extra."""


def require(module: str, extra: str, what: str):
    """``module``, imported; if it is not installed, :class:`MissingExtra`
    saying ``pip install 'hueyviz[<extra>]'``.  A module that is installed
    but fails to import raises its own error, not a misleading hint."""
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        raise MissingExtra(f"{what} needs the {module!r} package, which is not installed: "
                           f"pip install 'hueyviz[{extra}]'") from None


def redis():
    """redis-py, for ``redis://`` sinks and sources (the ``redis`` extra)."""
    return require("redis", "redis", "Redis support")
