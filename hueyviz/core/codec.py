"""JSON in and out, with orjson when it is installed (several times faster).

One definition for the loader, the follower and the writer.  ``loads``
turns nesting deeper than the parsers allow into :class:`ValueError`, so
a hostile line is a bad line, never a ``RecursionError``.
"""
from __future__ import annotations

import importlib
import json
from typing import Any, Callable, Optional, Union

__all__ = ["dumps", "dumps_line", "dumps_sorted", "loads"]

_orjson: Optional[Any]
try:
    _orjson = importlib.import_module("orjson")
except ImportError:  # pragma: no cover - exercised where orjson is absent
    _orjson = None

_fast_loads: Optional[Callable[[Union[bytes, str]], Any]] = (
    _orjson.loads if _orjson is not None else None)


def loads(text: Union[bytes, str]) -> Any:
    """Parse one JSON document; ``ValueError`` for anything unparsable."""
    try:
        if _fast_loads is not None:
            return _fast_loads(text)
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def _plain_dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=repr)


def dumps(obj: Any) -> str:
    """Compact JSON text; values JSON cannot hold are written as their repr."""
    if _orjson is not None:
        try:
            return _orjson.dumps(obj, default=repr).decode()
        except TypeError:        # e.g. non-string keys in data
            pass
    return _plain_dumps(obj)


def dumps_sorted(obj: Any) -> str:
    """:func:`dumps_line` with keys sorted: the same bytes every run.

    Both return text, not orjson's bytes: each of those keeps the 4 KB
    buffer it was written into, which for the millions of events of a large
    ``trace.json`` came to gigabytes.
    """
    return _ascii(obj, sort_keys=True)


def dumps_line(obj: Any) -> str:
    """One line of a trace file: compact JSON, ASCII only (U+2028 and
    friends in a task name must not split the line for readers that treat
    them as line breaks); values JSON cannot hold are written as their repr."""
    return _ascii(obj, sort_keys=False)


def _ascii(obj: Any, sort_keys: bool) -> str:
    if _orjson is not None:
        try:
            text = _orjson.dumps(obj, default=repr,
                                 option=_orjson.OPT_SORT_KEYS if sort_keys else None).decode()
            if text.isascii():
                return text
        except TypeError:        # e.g. non-string keys in data
            pass
    return json.dumps(obj, sort_keys=sort_keys, separators=(",", ":"), default=repr)
