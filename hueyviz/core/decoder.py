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

from itertools import compress, groupby, repeat
from operator import attrgetter, is_, is_not, methodcaller, ne
from typing import Annotated, Any, Dict, List, Optional, Sequence, Tuple, Union

import msgspec
from msgspec import UNSET, Meta, UnsetType

from .event import FIELD_TYPES, KIND_FIELDS, KINDS, MAX_COUNT, MAX_LIST, MAX_POOL, MAX_SECONDS, Event, Worker

__all__ = ["Block", "Columns", "columns_of", "decode_block", "events_of"]

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
_HEAD_COLUMNS = attrgetter("t", "task", "name", "queue", "host", "pid", "worker")


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
# and the fields the kind requires.
_FIELDS: Dict[type, Tuple[Tuple[str, ...], Any, Any, Tuple[str, ...]]] = {}
for _k, _st in _STRUCTS.items():
    if _k in KIND_FIELDS:
        _names, _required = KIND_FIELDS[_k]
        _FIELDS[_st] = (_names, attrgetter(*_names),
                        UNSET if len(_names) == 1 else (UNSET,) * len(_names), _required)
# The fields holding task ids, which are interned like the events' own.
_INTERNED_BY = {names: tuple(f for f in ("waits_on", "parent") if f in names)
                for names, *_ in _FIELDS.values()}


# An event's fields, one sequence each, in Event's order.
Columns = Tuple[Sequence, Sequence, Sequence, Sequence, Sequence, Sequence, Sequence]


class Block:
    """What :func:`decode_block` got from one block: its events as
    ``columns`` (each field a sequence, in block order), and the losses its
    ``dropped`` events count."""

    __slots__ = ("columns", "losses")

    def __init__(self, columns: Columns, losses: int) -> None:
        self.columns = columns
        self.losses = losses

    @property
    def events(self) -> List[Event]:
        return events_of(self.columns)


def events_of(columns: Columns) -> List[Event]:
    """The events whose fields ``columns`` holds."""
    return list(map(Event, *columns))


_EVENT_FIELDS = attrgetter(*Event.__struct_fields__)


def columns_of(events: Sequence[Event]) -> Columns:
    """The fields of ``events`` as columns (:func:`events_of` undone)."""
    if not events:
        return ((), (), (), (), (), (), ())
    return tuple(zip(*map(_EVENT_FIELDS, events)))      # type: ignore[return-value]


def decode_block(data: bytes, workers: dict, strings: dict,
                 intern_ids: bool = True) -> Optional[Block]:
    """The events of ``data`` (complete JSON Lines, blank lines allowed),
    or None when any line needs the careful path.

    ``workers`` and ``strings`` intern :class:`Worker` values, task names
    and queue names across blocks, as in
    :func:`~hueyviz.core.event.from_json_dict`; task ids too unless
    ``intern_ids`` is False (a stream that is not kept: its ids would only
    pile up in ``strings``).

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
    if not rows:
        return Block(((), (), (), (), (), (), ()), 0)
    structs = list(map(type, rows))
    kinds = list(map(_KIND_OF.__getitem__, structs))
    ts, tasks, names, queues, hosts, pids, wnames = zip(*map(_HEAD_COLUMNS, rows))
    sd = strings.setdefault
    if intern_ids:
        tasks = tuple(map(sd, tasks, tasks))
    names = tuple(map(sd, names, names))
    queues = tuple(map(sd, queues, queues))
    keys = list(zip(hosts, pids, wnames))
    found = list(map(workers.get, keys, repeat(False)))
    if False in found:
        for i in compress(range(len(found)), map(is_, found, repeat(False))):
            key = keys[i]
            w = workers.get(key, False)
            if w is False:
                w = workers[key] = None if key[2] is None else Worker(*key)
            found[i] = w
    got = _data_of(rows, structs, kinds, sd if intern_ids else None)
    if got is None:
        return None
    datas, losses = got
    return Block((ts, kinds, tasks, names, found, datas, queues), losses)


def _data_of(rows: list, structs: list, kinds: list, intern: Any
             ) -> Optional[Tuple[List[Optional[dict]], int]]:
    """Each row's kind-specific fields as a dict (None where it has none),
    and the losses its ``dropped`` rows count; None when a row lacks a
    field its kind requires.  Rows are taken a kind at a time, and every
    step is a ``map`` over them, not a Python loop per row."""
    n = len(rows)
    ids = list(map(id, structs))
    order = sorted(compress(range(n), map(_FIELDS.__contains__, structs)), key=ids.__getitem__)
    placed: Dict[int, dict] = {}
    losses = 0
    for _, group in groupby(order, key=ids.__getitem__):
        idx = list(group)
        names_, get, none, required = _FIELDS[structs[idx[0]]]
        values = list(map(get, map(rows.__getitem__, idx)))
        given = list(map(ne, values, repeat(none)))
        if required and not all(given):
            return None             # the careful path says which field is missing
        idx = list(compress(idx, given))
        values = list(compress(values, given))
        if len(names_) == 1:
            dicts = list(map(dict, zip(zip(repeat(names_[0]), values))))
        else:
            dicts = list(map(dict, map(compress, map(zip, repeat(names_), values),
                                       map(map, repeat(is_not), values, repeat(repeat(UNSET))))))
        for k in required:
            if None in map(methodcaller("get", k), dicts):
                return None
        if intern is not None and _INTERNED_BY[names_]:
            for d in dicts:
                for k in _INTERNED_BY[names_]:
                    v = d.get(k)
                    if v is not None:
                        d[k] = intern(v, v)
        if kinds[idx[0]] == "dropped" if idx else False:
            losses += sum(d["count"] for d in dicts)
        placed.update(zip(idx, dicts))
    if not placed:
        return [None] * n, losses
    return list(map(placed.get, range(n))), losses
