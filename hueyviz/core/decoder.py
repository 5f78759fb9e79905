"""Trace lines to events at C speed, for the lines that need no explaining.

:func:`decode_block` turns a block of complete JSON Lines into
:class:`~hueyviz.core.event.Event` values through one typed msgspec
decoder, generated from the event schema (``FIELD_TYPES`` and
``KIND_FIELDS`` in :mod:`hueyviz.core.event`): JSON parsing, every type
and range check, and picking the struct of the event's kind all happen in
C; the columns are then interned and zipped into events with ``map``.

It vouches only for what it fully understands.  A block holding anything
else -- a bad line, an unknown kind or field, a value beyond what the
typed decoder checks (an integer past 64 bits) -- makes it return None,
and the caller reads that block line by line through
:func:`~hueyviz.core.event.from_json_dict`, which accepts or rejects each
line and says what is wrong where.  Both build equal events from the
lines this one accepts (``tests/test_decoder.py`` checks it on random
lines), so the fast path changes how fast a file loads, never what it
holds.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Annotated, Any, Dict, List, Optional, Tuple, Union

import msgspec
from msgspec import UNSET, Meta, UnsetType

from .event import FIELD_TYPES, KIND_FIELDS, KINDS, MAX_COUNT, MAX_LIST, MAX_POOL, MAX_SECONDS, Event, Worker

__all__ = ["Block", "decode_block"]

_INT64 = Annotated[int, Meta(ge=-2 ** 63, le=2 ** 63 - 1)]
# The typed form of each field type of the schema.  Absent is UNSET, so a
# field given as null (allowed for seconds only) is told from one not given.
_TYPES: Dict[str, Any] = {
    "string": Union[str, UnsetType],
    "seconds": Union[Annotated[float, Meta(ge=0, le=MAX_SECONDS)], None, UnsetType],
    "number": Union[_INT64, Annotated[float, Meta(ge=-MAX_SECONDS, le=MAX_SECONDS)], UnsetType],
    "flag": Union[bool, UnsetType],
    "ids": Union[Annotated[List[str], Meta(max_length=MAX_LIST)], UnsetType],
    "count": Union[Annotated[int, Meta(ge=0, le=MAX_COUNT)], UnsetType],
    "workers": Union[Annotated[int, Meta(ge=0, le=MAX_POOL)], UnsetType],
}
# The fields every event may have.  ``host`` and ``pid`` are checked even
# without a ``worker`` (the careful path ignores them then): a block where
# that matters goes the careful way.
_HEAD: List[Tuple[Any, ...]] = [
    ("t", Annotated[float, Meta(ge=-MAX_SECONDS, le=MAX_SECONDS)]),
    ("task", Optional[str], None),
    ("name", Optional[str], None),
    ("queue", Optional[str], None),
    ("host", str, ""),
    ("pid", Annotated[int, Meta(ge=0)], 0),
    ("worker", Optional[str], None),
]


def _struct(kind: str) -> type:
    fields = KIND_FIELDS.get(kind, ((), ()))[0]
    return msgspec.defstruct(
        "Line_" + kind.replace("-", "_"),
        _HEAD + [(f, _TYPES[FIELD_TYPES[f]], UNSET) for f in fields],
        tag_field="kind", tag=kind, forbid_unknown_fields=True, gc=False)


_STRUCTS = {kind: _struct(kind) for kind in sorted(KINDS)}
_KIND_OF = {st: kind for kind, st in _STRUCTS.items()}
_DECODER = msgspec.json.Decoder(Union[tuple(_STRUCTS.values())])
# Per struct with kind-specific fields: their names, a getter of their
# values (one value, or a tuple of them), the values when none is given,
# the fields the kind requires, and those holding task ids (interned like
# the events' own).
_FIELDS: Dict[type, Tuple[Tuple[str, ...], Any, Any, Tuple[str, ...], Tuple[str, ...]]] = {}
for _k, _st in _STRUCTS.items():
    if _k in KIND_FIELDS:
        _names, _required = KIND_FIELDS[_k]
        _FIELDS[_st] = (_names, attrgetter(*_names),
                        UNSET if len(_names) == 1 else (UNSET,) * len(_names), _required,
                        tuple(f for f in ("waits_on", "parent") if f in _names))
_DROPPED = _STRUCTS["dropped"]


class Block:
    """What :func:`decode_block` got from one block: its ``events`` in
    block order, and the losses its ``dropped`` events count."""

    __slots__ = ("events", "losses")

    def __init__(self, events: List[Event], losses: int) -> None:
        self.events = events
        self.losses = losses


def decode_block(data: bytes, workers: dict, strings: dict,
                 intern: bool = True) -> Optional[Block]:
    """The events of ``data`` (complete JSON Lines, blank lines allowed),
    or None when any line needs the careful path.

    ``workers`` interns :class:`Worker` values across blocks; ``strings``
    task ids and names, as :func:`~hueyviz.core.event.from_json_dict`
    does, unless ``intern`` is False (a stream that is not kept: its
    strings would only pile up there).

    >>> b = decode_block(b'{"t": 1, "kind": "block", "task": "a", "waits_on": "b"}\\n', {}, {})
    >>> b.events[0].t, b.events[0].data
    (1.0, {'waits_on': 'b'})
    >>> decode_block(b'{"t": 1, "kind": "block", "task": "a"}\\n', {}, {}) is None
    True
    """
    try:
        rows = _DECODER.decode_lines(data)
    except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None         # deep nesting too: the careful path calls it a bad line
    # One plain loop: fields read at slot speed and the event built by one
    # call cost less than a dozen map() passes over the block's columns.
    out: List[Event] = []
    add = out.append
    known = workers.get
    fields_of = _FIELDS.get
    kind_of = _KIND_OF.__getitem__
    sd = strings.setdefault
    losses = 0
    for row in rows:
        st = type(row)
        wname = row.worker
        if wname is None:
            worker = None
        else:
            key = (row.host, row.pid, wname)
            worker = known(key)
            if worker is None:
                worker = workers[key] = Worker(*key)
        task, name, queue = row.task, row.name, row.queue
        f = fields_of(st)
        if f is None:
            d = None
        else:
            names, get, none, required, ids = f
            values = get(row)
            if values == none:
                d = None
            elif len(names) == 1:
                d = {names[0]: values}
            else:
                d = {k: v for k, v in zip(names, values) if v is not UNSET}
            for k in required:
                if d is None or d.get(k) is None:
                    return None     # the careful path says which field is missing
            if d is not None:
                if st is _DROPPED:
                    losses += d["count"]
                if intern:
                    for k in ids:
                        v = d.get(k)
                        if v is not None:
                            d[k] = sd(v, v)
        if intern:
            if task is not None:
                task = sd(task, task)
            if name is not None:
                name = sd(name, name)
            if queue is not None:
                queue = sd(queue, queue)
        add(Event(row.t, kind_of(st), task, name, worker, d, queue))
    return Block(out, losses)
