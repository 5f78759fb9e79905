"""read/follower.py: every loss is counted exactly, wherever it falls.

A writer numbers every record it sends (events and its ``alive``
announcements) and announces, cumulatively, how many announcements it made
(``meta``) and how many events it lost before numbering them (``dropped``).
The reader counts a number that never arrives as a lost event, unless a
later announcement shows the missing number was an announcement.

The records here are rows of a real SQLite sink table, read by the real
reader; the writer's side is written out by hand so that each loss falls
exactly where the matrix puts it.  Expected counts come from the rules
above, not from the follower.
"""
import json
import sqlite3

import pytest

import hueyviz
from hueyviz.record.sqlitesink import _SCHEMA, TABLE

# Each loss is said in a warning too; here the counts are what is checked.
pytestmark = pytest.mark.filterwarnings("ignore::hueyviz.core.trace.TraceWarning")

SENDER = "h/7/abc"
# What one writer sent, in order: (kind, meta) -- meta for announcements.
SENT = [("alive", 1), ("event", None), ("event", None), ("alive", 2),
        ("event", None), ("event", None), ("alive", 3)]
ANNOUNCEMENTS = {i for i, (kind, _) in enumerate(SENT) if kind == "alive"}


def _rows(lost_positions, dropped_last=0):
    rows = []
    for i, (kind, meta) in enumerate(SENT):
        seq = i + 1
        if i in lost_positions:
            continue
        if kind == "alive":
            obj = {"t": 100.0 + i, "kind": "alive", "proc": "h/7", "sent": seq + 1,
                   "meta": meta, "dropped": dropped_last if i == len(SENT) - 1 else 0}
        else:
            obj = {"t": 100.0 + i, "kind": "executing", "task": f"t{i}", "name": "job",
                   "host": "h", "pid": 7, "worker": "Worker-1"}
        rows.append(("q", SENDER, seq, json.dumps(obj)))
    return rows


def _expected(lost_positions):
    """From the rules: a lost event counts; a lost announcement does not, when
    a later announcement arrives to show what the number was; a number after
    the last record that arrives is never seen missing."""
    last_seen = max(i for i in range(len(SENT)) if i not in lost_positions)
    later_alive = {i for i in ANNOUNCEMENTS if i not in lost_positions}
    n = 0
    for i in lost_positions:
        if i > last_seen:
            continue                      # nothing after it arrived: no gap to see
        if SENT[i][0] == "event":
            n += 1
        elif not any(j > i for j in later_alive):
            n += 1                        # an unexplained gap: counted as an event
    return n


def _read(tmp_path, rows):
    path = tmp_path / "ev.db"
    with sqlite3.connect(path) as db:
        db.execute(_SCHEMA)
        db.executemany(f"INSERT INTO {TABLE} (queue, sender, seq, event) VALUES (?, ?, ?, ?)",
                       rows)
    return hueyviz.Trace.read(f"sqlite:///{path}?queue=q")


MATRIX = [()] + [(i,) for i in range(len(SENT))] + [
    (1, 2), (3, 4), (2, 3), (3, 4, 5), (0, 1), (4, 5, 6), (3, 6)]


@pytest.mark.parametrize("lost", MATRIX, ids=lambda p: "lost-" + "-".join(map(str, p))
                         if p else "all-arrive")
def test_each_loss_is_counted_exactly_where_it_falls(tmp_path, lost):
    tr = _read(tmp_path, _rows(set(lost)))
    events = sum(1 for i, (k, _) in enumerate(SENT) if k == "event" and i not in lost)
    assert len([e for e in tr if e.kind == "executing"]) == events
    assert tr.dropped == _expected(set(lost)), (lost, tr.warnings)


def test_the_matrix_covers_each_kind_of_loss():
    # event lost / announcement lost / both / nothing: between two that arrive
    assert _expected({1}) == 1 and _expected({3}) == 0 and _expected({3, 4}) == 1
    assert _expected(set()) == 0 and _expected({6}) == 0


@pytest.mark.parametrize("lost", [(), (3,), (1,)])
def test_losses_a_writer_announces_are_added_once(tmp_path, lost):
    tr = _read(tmp_path, _rows(set(lost), dropped_last=4))
    assert tr.dropped == 4 + _expected(set(lost))
