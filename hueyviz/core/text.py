"""Untrusted text made safe for a terminal or a log line.

Task names, arguments, exception messages, worker names and file paths
come from the traced program or from a file anyone may have written.  In
SVG, HTML and DOT they are escaped for that format (``render/markup.py``);
printed to a terminal, an ESC starts a control sequence (colours, cursor
moves, OSC 8 links, a rewritten window title), a CR overwrites what was
printed, a newline forges a log line and a bidirectional override reorders
what is read.  :func:`printable` turns every such character into a visible
escape, so the text reads the same and does nothing.
"""
from __future__ import annotations

import re

__all__ = ["natural_key", "printable", "redact"]

# C0 and C1 controls, DEL, the Unicode line and paragraph separators, and
# the bidirectional embeddings, overrides and isolates ("Trojan Source").
_OTHERS = "\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069"
_ANY = re.compile(f"[\x00-\x1f{_OTHERS}]")
_NOT_NEWLINE = re.compile(f"[\x00-\x09\x0b-\x1f{_OTHERS}]")


def _escape(m: re.Match) -> str:
    c = m.group()
    if c == "\n":
        return "\\n"
    if c == "\r":
        return "\\r"
    if c == "\t":
        return "\\t"
    n = ord(c)
    return f"\\x{n:02x}" if n < 0x100 else f"\\u{n:04x}"


def printable(text: object, *, lines: bool = False) -> str:
    """``str(text)`` with control characters shown as escapes.

    ``lines=True`` keeps newlines (text the caller laid out in lines);
    otherwise the result is one line.

    >>> printable("job\\x1b]0;pwned\\x07\\r")
    'job\\\\x1b]0;pwned\\\\x07\\\\r'
    >>> printable("a\\nb"), printable("a\\nb", lines=True)
    ('a\\\\nb', 'a\\nb')
    >>> printable("caf\\u00e9 \\u2192 ok")
    'café → ok'
    """
    s = text if type(text) is str else str(text)
    pattern = _NOT_NEWLINE if lines else _ANY
    if pattern.search(s) is None:
        return s
    return pattern.sub(_escape, s)


_DIGITS = re.compile(r"(\d+)")


def natural_key(text: str) -> list:
    """Sort key so that Worker-2 comes before Worker-10.

    Text and digit runs alternate (the split keeps that parity), so two keys
    compare text with text and numbers with numbers.

    >>> sorted(["w10", "w2", "w\u00b9"], key=natural_key)
    ['w2', 'w10', 'w¹']
    """
    parts: list = _DIGITS.split(text)
    parts[1::2] = [int(p) for p in parts[1::2]]
    return parts


# scheme://user:password@ and secret query parameters (?password=..., &token=...)
_USERINFO = re.compile(r"(?i)\b([a-z][a-z0-9+.\-]*://)[^/?#@\s]*@")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:password|passwd|pwd|pass|token|access_token|auth|secret|api_?key)=)"
    r"[^&#\s]*")


def redact(text: object) -> str:
    """``str(text)`` with the credentials of every URL in it replaced by
    ``***``: a Redis URL carries its password (``redis://:PW@host/0``, the
    form Huey's ``RedisHuey(url=...)`` takes), and whatever names a source
    -- a message, a log line, a manifest, a trace header -- must not.

    The one place this is decided: everything that shows or stores a
    source calls it.

    >>> redact("cannot read redis://:s3cret@cache:6379/0?queue=app")
    'cannot read redis://***@cache:6379/0?queue=app'
    >>> redact("rediss://user:pw@h/1?ssl_cert_reqs=none&password=pw2 + trace.jsonl")
    'rediss://***@h/1?ssl_cert_reqs=none&password=*** + trace.jsonl'
    >>> redact("sqlite:////tmp/huey.db?queue=a")
    'sqlite:////tmp/huey.db?queue=a'
    """
    s = text if type(text) is str else str(text)
    if "@" not in s and "=" not in s:
        return s
    return _SECRET_PARAM.sub(r"\1***", _USERINFO.sub(r"\1***@", s))
