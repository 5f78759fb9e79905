"""core/event.py: every field of the schema takes its type and nothing else.

Exact oracles: a wrong-typed value is refused naming the field, through the
file loader (both its typed decoder and its careful path) and through
``from_json_dict``; a right-typed one is accepted.  Booleans are not
numbers here, though Python's ``bool`` is an ``int``.
"""
import json

import pytest

from hueyviz import Trace
from hueyviz.core.errors import TraceFormatError
from hueyviz.core.event import FIELD_TYPES, KIND_FIELDS, from_json_dict

# For each field type: values of every other type, and one value of its own.
WRONG = {
    "string": [1, 1.5, True, [], {"a": 1}],
    "seconds": ["1", True, False, [], {}, -1, 1e21],
    "number": ["1", True, False, [], {}],
    "flag": [1, 0, "true", [], 1.0],
    "ids": ["a", 1, True, [1], [None], {"a": 1}],
    "count": [-1, 1.5, "1", True, False, []],
    "workers": [-1, 1.5, "2", True, False, 10 ** 9],
}
RIGHT = {"string": "x", "seconds": 2.5, "number": -3, "flag": True, "ids": ["a", "b"],
         "count": 3, "workers": 4}


def _line(kind, field, value):
    obj = {"t": 1.0, "kind": kind, "task": "a", "name": "job"}
    for req in KIND_FIELDS[kind][1]:
        obj[req] = RIGHT[FIELD_TYPES[req]]
    obj[field] = value
    return obj


CASES = [(kind, field) for kind, (fields, _) in sorted(KIND_FIELDS.items())
         for field in fields]


@pytest.mark.parametrize("kind,field", CASES)
def test_every_field_refuses_every_other_type(tmp_path, kind, field):
    for value in WRONG[FIELD_TYPES[field]]:
        obj = _line(kind, field, value)
        with pytest.raises(TraceFormatError, match=f"field '{field}' must be"):
            from_json_dict(dict(obj))
        path = tmp_path / "t.jsonl"
        # A block of good lines around it: the typed decoder sees it first.
        good = [json.dumps(_line(kind, field, RIGHT[FIELD_TYPES[field]]))] * 3
        path.write_text("\n".join([json.dumps({"format": "hueyviz-trace", "version": 1}),
                                   *good, json.dumps(obj), *good]) + "\n")
        with pytest.raises(TraceFormatError, match=f":5: field '{field}' must be"):
            Trace.load(str(path))


@pytest.mark.parametrize("kind,field", CASES)
def test_every_field_takes_its_own_type(kind, field):
    e = from_json_dict(_line(kind, field, RIGHT[FIELD_TYPES[field]]))
    assert e.kind == kind and e.get(field) == RIGHT[FIELD_TYPES[field]]
