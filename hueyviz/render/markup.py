"""Small, pure helpers for writing SVG/HTML text by hand.

Every renderer in this package builds markup from strings; these helpers are
the only place where untrusted text (task names, args, exception messages,
worker names) becomes markup, so escaping lives here once:

>>> esc('<script>&"')
'&lt;script&gt;&amp;"'
>>> attr('a"b<c>\\n')
'"a&quot;b&lt;c&gt;&#10;"'
>>> esc("nul\\x00byte")
'nul\\ufffdbyte'
>>> fit("subtask [ab12cd34]", 60, 11)
'subtask…'
>>> num(1.0), num(0.123456), num(-0.0)
('1', '0.12', '0')
"""
from __future__ import annotations

import hashlib
import re
from typing import Optional

__all__ = [
    "attr",
    "clean",
    "contrast_text",
    "esc",
    "fit",
    "num",
    "script_json",
    "text_width",
    "uid",
]

# Characters XML 1.0 forbids (C0 controls except tab/newline/return,
# surrogates, U+FFFE/U+FFFF): replaced, so hostile names still parse.
_BAD_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(s: object) -> str:
    """``str(s)`` with the characters XML cannot carry replaced by U+FFFD."""
    return _BAD_XML.sub("\ufffd", str(s))


def esc(s: object) -> str:
    """Escape text content for SVG/HTML (``xml.sax.saxutils.escape`` plus
    removal of characters XML 1.0 forbids)."""
    return clean(s).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def attr(s: object) -> str:
    """A double-quoted attribute value (``quoteattr`` semantics, always ``"``)."""
    v = esc(s).replace('"', "&quot;").replace("\n", "&#10;").replace(
        "\r", "&#13;").replace("\t", "&#9;")
    return f'"{v}"'


def num(x: float, digits: int = 2) -> str:
    """Fixed-precision number without trailing zeros, for coordinates."""
    s = f"{x:.{digits}f}"
    if "." in s:
        s = s.rstrip("0").rstrip(".")
    return "0" if s in ("-0", "") else s


def uid(prefix: str, *parts: object) -> str:
    """A content-derived element id: the same inputs give the same id."""
    h = hashlib.sha1("\x1f".join(map(str, parts)).encode("utf-8", "replace"))
    return f"{prefix}-{h.hexdigest()[:10]}"


# Approximate advance widths (in em) for DejaVu Sans / Helvetica-like fonts.
_NARROW = set("ijl.,:;'!|()[]{} fIt\u2009")
_WIDE = set("mwMW@%")


def text_width(s: str, size: float) -> float:
    """Estimated rendered width of ``s`` in px at font ``size``."""
    w = 0.0
    for ch in s:
        if ch in _NARROW:
            w += 0.34
        elif ch in _WIDE:
            w += 0.92
        elif ch.isupper() or ch.isdigit():
            w += 0.68
        elif ord(ch) > 0x2E80:
            w += 1.0
        else:
            w += 0.6
    return w * size


def fit(s: str, width: float, size: float) -> str:
    """``s`` truncated with an ellipsis to fit ``width`` px ('' if nothing fits)."""
    if text_width(s, size) <= width:
        return s
    budget = width - text_width("…", size)
    if budget < size * 0.9:
        return ""
    out = []
    used = 0.0
    for ch in s:
        cw = text_width(ch, size)
        if used + cw > budget:
            break
        out.append(ch)
        used += cw
    head = "".join(out).rstrip(" [(,:;-")
    return head + "…" if head else ""


def _lum(hex_colour: str) -> float:
    h = hex_colour.lstrip("#")
    rgb = [int(h[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast_text(fill: str, dark: str = "#222222", light: str = "#FFFFFF") -> str:
    """The text colour (dark or light) with more contrast on ``fill``."""
    lf = _lum(fill)
    c_dark = (lf + 0.05) / (_lum(dark) + 0.05)
    c_light = (_lum(light) + 0.05) / (lf + 0.05)
    return dark if c_dark >= c_light else light


def script_json(text: str) -> str:
    """JSON text made safe to embed inside an HTML ``<script>`` element."""
    return (text.replace("<", "\\u003c").replace(">", "\\u003e")
            .replace("&", "\\u0026").replace("\u2028", "\\u2028")
            .replace("\u2029", "\\u2029"))


def short(task_id: Optional[str], n: int = 4) -> str:
    return (task_id or "?")[:n]
