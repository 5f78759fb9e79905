"""The wire format of the widget's view data: typed columns in one buffer.

A view model is JSON metadata plus named columns, each of one *table*
(``task.end`` is a column of the table ``task``; all columns of a table
have one length).  Columns are of three kinds:

- ``int``: whole numbers (indices, counts; -1 for none), packed as the
  smallest of ``u1 u2 u4 i1 i2 i4`` that holds them;
- ``time``: instants as whole *ticks* (``ticks_per_s`` of them a second)
  from ``t0 + time_base / ticks_per_s``, unsigned, the dtype's largest
  value standing for None.  Sorted columns go as differences
  (``delta``), an end as its distance from its start (``after:<column>``),
  which deflate then packs to a byte or two each;
- ``text``: strings (task ids, args, errors while a trace is small),
  carried in the JSON, never packed.

``pack`` lays the packed columns one after the other (each at a multiple
of 8 bytes, so the browser views them as typed arrays without a copy) and
deflates the whole (zlib format: the browser's
``DecompressionStream("deflate")``).  ``unpack`` is its inverse, used by
the tests and by ``TraceView.status``.  ``diff`` and ``apply_delta`` carry
a live view forward: rows appended to each table and the few values that
changed in rows already sent (a span that has ended, a wait answered).

>>> cols = {"span.start": ("time", [0, 5, 9]), "span.end": ("time", [4, None, 12]),
...         "span.task": ("int", [2, -1, 0])}
>>> meta, buf = pack(to_logical(cols), refs={"span.end": "span.start"})
>>> [(c["name"], c["dtype"], c["encoding"]) for c in meta["columns"]]
[('span.start', 'u1', 'delta'), ('span.end', 'u1', 'after:span.start'), ('span.task', 'i1', 'raw')]
>>> got = unpack(meta, buf)
>>> got["span.end"], got["span.task"]
([4, None, 12], [2, -1, 0])
"""
from __future__ import annotations

import sys
import zlib
from array import array
from itertools import accumulate, islice
from operator import sub
from typing import Dict, List, Optional, Sequence, Tuple

__all__ = [
    "COMPRESS_MIN",
    "NONE_TIME",
    "apply_delta",
    "diff",
    "pack",
    "pack_delta",
    "table_of",
    "to_logical",
    "unpack",
]

Columns = Dict[str, Tuple[str, list]]   # name -> (kind, values)
NONE_TIME = 0xFFFFFFFF          # a None instant in the logical (unpacked) form
COMPRESS_MIN = 512              # smaller buffers are sent as they are
_LEVEL = 1                      # zlib: 100k tasks, 3.3 MB in 0.1 s (level 6: 3.2 MB in 0.5 s)
_TYPECODE = {"u1": "B", "u2": "H", "u4": "I", "i1": "b", "i2": "h", "i4": "i"}
_MAX = {"u1": 0xFF, "u2": 0xFFFF, "u4": 0xFFFFFFFF}
_CHUNK = 2048                   # diff compares this many values at once


def table_of(name: str) -> str:
    """``task.end`` -> ``task``."""
    return name.split(".", 1)[0]


def to_logical(cols: Dict[str, Tuple[str, Sequence]]) -> Columns:
    """Columns in the form :func:`pack` and :func:`diff` take: lists of
    ints, an instant None as ``NONE_TIME``; text as it is."""
    out: Columns = {}
    for name, (kind, values) in cols.items():
        if kind == "time":
            out[name] = (kind, [NONE_TIME if v is None else v for v in values])
        else:
            out[name] = (kind, list(values))
    return out


def _int_dtype(values) -> str:
    lo, hi = (min(values), max(values)) if len(values) else (0, 0)
    if lo >= 0:
        for dt in ("u1", "u2", "u4"):
            if hi <= _MAX[dt]:
                return dt
    for dt, bits in (("i1", 7), ("i2", 15), ("i4", 31)):
        if -(1 << bits) <= lo and hi < (1 << bits):
            return dt
    raise ValueError(f"a column holds {lo}..{hi}: more than 32 bits")


def positions(xs: list, x) -> List[int]:
    """Where ``xs`` holds ``x`` (list.index runs in C)."""
    out: List[int] = []
    i = -1
    for _ in range(xs.count(x)):
        i = xs.index(x, i + 1)
        out.append(i)
    return out


def _time_encode(values: list, ref: Optional[Tuple[str, list]], plain: bool):
    """(encoding, dtype, values to pack) of one time column: the plain
    ticks, their differences (a sorted column without None), or their
    distances from a reference column (an end from its start)."""
    nones = positions(values, NONE_TIME)
    if not plain and not nones and len(values) > 1:
        d = [values[0]]
        d.extend(map(sub, islice(values, 1, None), values))
        if min(d) >= 0:
            return "delta", _uint_dtype(d, False), d
    if ref is not None and not plain and len(values) and NONE_TIME not in ref[1]:
        d = list(map(sub, values, ref[1]))
        for i in nones:
            d[i] = 0
        if min(d) >= 0:
            dt = _uint_dtype(d, True)
            m = _MAX[dt]
            for i in nones:
                d[i] = m
            return f"after:{ref[0]}", dt, d
    if nones:
        real = list(values)
        for i in nones:
            real[i] = 0
        dt = _uint_dtype(real, True)
        m = _MAX[dt]
        for i in nones:
            real[i] = m
        return "raw", dt, real
    return "raw", _uint_dtype(values, True), values


def _uint_dtype(values, need_none: bool) -> str:
    """The smallest unsigned dtype holding ``values`` (and, with
    ``need_none``, its largest value left free to stand for None)."""
    hi = max(values) if len(values) else 0
    for dt in ("u1", "u2", "u4"):
        if hi < _MAX[dt] or (hi == _MAX[dt] and not need_none):
            return dt
    raise ValueError("an instant out of range of the time base")


def _bytes(dtype: str, values) -> bytes:
    arr = array(_TYPECODE[dtype], values)
    if sys.byteorder == "big":      # the wire is little-endian (as every browser is)
        arr.byteswap()
    return arr.tobytes()


def pack(cols: Columns, refs: Optional[Dict[str, str]] = None,
         compress: Optional[bool] = None, plain: bool = False) -> Tuple[dict, bytes]:
    """Pack the ``int`` and ``time`` columns (logical form, see
    :func:`to_logical`) into one buffer.  Returns ``({"columns": manifest,
    "compression": "deflate" or "none", "nbytes": raw size}, buffer)``;
    ``text`` columns are left out (they travel in the JSON).  Deterministic:
    the same columns give the same bytes.  ``compress`` None: deflate when
    the buffer is at least ``COMPRESS_MIN`` bytes.  ``plain``: every
    instant as it is (the parts of a live delta)."""
    refs = refs or {}
    manifest: List[dict] = []
    parts: List[bytes] = []
    offset = 0
    for name, (kind, values) in cols.items():
        if kind == "text":
            continue
        if kind == "int":
            enc, dt, vals = "raw", _int_dtype(values), values
        else:
            ref = refs.get(name)
            enc, dt, vals = _time_encode(values, (ref, cols[ref][1]) if ref in cols else None, plain)
        raw = _bytes(dt, vals)
        pad = (-offset) % 8
        if pad:
            parts.append(b"\0" * pad)
            offset += pad
        manifest.append({"name": name, "kind": kind, "dtype": dt, "length": len(values),
                         "offset": offset, "encoding": enc})
        parts.append(raw)
        offset += len(raw)
    buf = b"".join(parts)
    deflate = len(buf) >= COMPRESS_MIN if compress is None else compress
    out = zlib.compress(buf, _LEVEL) if deflate else buf
    return {"columns": manifest, "compression": "deflate" if deflate else "none",
            "nbytes": len(buf)}, out


def unpack(meta: dict, buffer: bytes, logical: bool = False,
           tables: Optional[Sequence[str]] = None) -> Dict[str, list]:
    """The columns of ``pack``'s buffer, by name: ints as ints, instants as
    ticks (None for none); ``logical=True``: in :func:`to_logical`'s form.
    ``tables``: only the columns of tables whose names start so."""
    raw = zlib.decompress(buffer) if meta.get("compression") == "deflate" else bytes(buffer)
    out: Dict[str, list] = {}
    wanted = [c for c in meta["columns"]
              if tables is None or table_of(c["name"]).startswith(tuple(tables))]
    names = {c["name"] for c in wanted}
    # an end counts from its start: that column too
    wanted = [c for c in meta["columns"] if c["name"] in names or
              any(w["encoding"] == "after:" + c["name"] for w in wanted)]
    for c in wanted:
        dt = c["dtype"]
        arr = array(_TYPECODE[dt])
        size = arr.itemsize * c["length"]
        arr.frombytes(raw[c["offset"]:c["offset"] + size])
        if sys.byteorder == "big":
            arr.byteswap()
        enc = c["encoding"]
        if c["kind"] == "int":
            vals: list = arr.tolist()
        elif enc == "delta":
            vals = list(accumulate(arr))
        else:
            m = _MAX[dt]
            if enc.startswith("after:"):
                base = out[enc[6:]]
                vals = [None if x == m else b + x for b, x in zip(base, arr)]
            else:
                vals = [None if x == m else x for x in arr]
        out[c["name"]] = vals
    if logical:
        kinds = {c["name"]: c["kind"] for c in meta["columns"]}
        return {k: [NONE_TIME if x is None else x for x in v] if kinds[k] == "time" else v
                for k, v in out.items()}
    return out


# -- live: what changed --------------------------------------------------------------
def _changed(old: list, new: list, n: int) -> List[int]:
    """Indices below ``n`` where the two columns differ (compared a chunk
    at a time: most chunks are equal, and list equality runs in C)."""
    out: List[int] = []
    for a in range(0, n, _CHUNK):
        b = min(n, a + _CHUNK)
        if old[a:b] != new[a:b]:
            out.extend(i for i in range(a, b) if old[i] != new[i])
    return out


def diff(old: Columns, new: Columns,
         most: float = 0.5) -> Optional[dict]:
    """What turns the columns ``old`` into ``new``: per table, rows appended
    and values changed in rows that were there.  None when the change is no
    such thing (a column or table came or went, a table shrank) or rewrites
    more than ``most`` of a column's values already there: send everything then.

    Returns ``{"tables": {table: [old rows, new rows]}, "cols": {name:
    (kind, changed indices, their new values, appended values)}}``.
    """
    if list(old) != list(new) or any(old[k][0] != new[k][0] for k in old):
        return None
    rows: Dict[str, List[int]] = {}
    for name, (_, values) in new.items():
        t = table_of(name)
        n_old, n_new = len(old[name][1]), len(values)
        if t in rows and rows[t] != [n_old, n_new]:
            return None
        rows[t] = [n_old, n_new]
        if n_new < n_old:
            return None
    cols: Dict[str, tuple] = {}
    for name, (kind, values) in new.items():
        n_old, _ = rows[table_of(name)]
        ov = old[name][1]
        idx = _changed(ov, values, n_old)
        if len(idx) > most * max(n_old, 64):
            return None
        added = values[n_old:]
        if idx or len(added):
            cols[name] = (kind, idx, [values[i] for i in idx], added)
    return {"tables": {t: r for t, r in rows.items() if r[0] != r[1] or
                       any(table_of(c) == t for c in cols)}, "cols": cols}


def pack_delta(d: dict) -> Tuple[dict, bytes]:
    """A :func:`diff` as JSON content and one buffer: per column ``name@i``
    (changed rows), ``name@v`` (their values), ``name+`` (appended rows);
    text columns in the content."""
    cols: Columns = {}
    text: Dict[str, dict] = {}
    for name, (kind, idx, vals, added) in d["cols"].items():
        if kind == "text":
            text[name] = {"i": idx, "v": vals, "+": list(added)}
            continue
        if idx:
            cols[name + "@i"] = ("int", idx)
            cols[name + "@v"] = (kind, vals)
        if len(added):
            cols[name + "+"] = (kind, added)
    meta, buf = pack(cols, plain=True)
    meta.update(tables=d["tables"], text=text)
    return meta, buf


def apply_delta(cols: Dict[str, list], meta: dict, buffer: bytes) -> None:
    """Apply a packed delta (:func:`pack_delta`) to unpacked columns
    (:func:`unpack`, text columns as lists), in place: what the browser
    does with each live message."""
    got = unpack(meta, buffer) if meta["columns"] else {}
    names = {n[:-2] for n in got if n.endswith("@i")} | {n[:-1] for n in got if n.endswith("+")}
    for name in sorted(names):
        col = cols[name]
        for i, v in zip(got.get(name + "@i", ()), got.get(name + "@v", ())):
            col[i] = v
        col.extend(got.get(name + "+", ()))
    for name, t in meta.get("text", {}).items():
        col = cols[name]
        for i, v in zip(t["i"], t["v"]):
            col[i] = v
        col.extend(t["+"])
