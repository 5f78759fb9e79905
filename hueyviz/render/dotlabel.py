"""Text for DOT: plain labels that nothing can inject into, stable ids.

Labels are never HTML-like (the in-process wasm Graphviz has no HTML-label
support, and plain labels are easier to make safe): each untrusted line is
cleaned of characters XML forbids, its backslashes doubled so no escString
(``\\N``, ``\\G``, ``\\l``) expands, and ``&`` written as ``&amp;`` because
Graphviz decodes entities in labels; ``graphviz.nohtml`` stops a
``<...>`` string from becoming an HTML label, and ``graphviz`` quotes ``"``.
"""
from __future__ import annotations

import re
from typing import Optional

import graphviz

from . import palette
from .markup import contrast_text, uid

__all__ = ["clean_text", "ink", "label", "stable_id", "tooltip"]

_CTRL = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def clean_text(text, limit: Optional[int] = None) -> str:
    """``text`` as a printable one-line string: control characters and lone
    surrogates become ``\\xNN`` escapes (XML forbids them); cut to ``limit``.

    >>> print(clean_text("a\\nb\\x1b" + "c" * 10, limit=8))
    a\\nb\\x1…
    """
    s = _CTRL.sub(lambda m: ("\\n" if m.group() == "\n" else
                             f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                             f"\\u{ord(m.group()):04x}"), str(text))
    if limit is not None and len(s) > limit:
        s = s[:max(0, limit - 1)] + "\u2026"
    return s


def _esc(text: str) -> str:
    """One line of a plain DOT label.  Backslashes are doubled (no escString
    such as ``\\N`` expands) and ``&`` becomes ``&amp;`` (Graphviz decodes
    entities in labels and would write a decoded ``&#x1;`` raw into the SVG)."""
    return text.replace("\\", "\\\\").replace("&", "&amp;")


def label(*lines: str, left: bool = False) -> str:
    """A plain (never HTML-like) DOT label from cleaned lines: centred, or
    left-justified with ``left``.  ``graphviz`` quotes the ``"``."""
    sep = "\\l" if left else "\\n"
    text = sep.join(_esc(clean_text(line)) for line in lines)
    return graphviz.nohtml(text + sep if left else text)


def tooltip(text: str) -> str:
    # Graphviz expands escapes in tooltips twice; keep backslashes out of them.
    return graphviz.nohtml(_esc(clean_text(text, 300).replace("\\", "\u29f5")))


def stable_id(prefix: str, key: str) -> str:
    """``prefix-<first 10 hex of sha1(key)>``: an element id that depends only
    on ``key`` (a task id or worker key), the same scheme as the lanes.

    >>> stable_id("task", "abc")
    'task-a9993e3647'
    """
    return uid(prefix, key)


def ink(fill: str) -> str:
    return contrast_text(fill, dark=palette.TEXT)

