"""Remembering the last call of a costly drawing step.

Exporting every format of one trace asks for the same lane model, lane
drawing and wait-for snapshots several times; each is remembered for the last
arguments only, so at most one trace is kept alive.
"""
import functools
import inspect

__all__ = ["remember_last"]


def remember_last(same: int):
    """Decorator: return the last result again when called alike.

    The first ``same`` arguments (immutable model objects: a trace, a
    diagnosis, a timeline) must be the very same objects; the others (after
    defaults are filled in) equal.  Callers must not mutate the result.

    >>> calls = []
    >>> @remember_last(1)
    ... def size(obj, scale=1):
    ...     calls.append(obj)
    ...     return len(obj) * scale
    >>> a = [1, 2]
    >>> size(a), size(a, scale=1), size(a, 2), len(calls)
    (2, 2, 4, 2)
    """
    def decorate(fn):
        signature = inspect.signature(fn)
        last: list = [None]

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            values = tuple(bound.arguments.values())
            objs, rest = values[:same], values[same:]
            memo = last[0]
            if (memo is not None and all(a is b for a, b in zip(memo[0], objs))
                    and memo[1] == rest):
                return memo[2]
            out = fn(*args, **kwargs)
            last[0] = (objs, rest, out)
            return out
        return wrapper
    return decorate
