"""A tiny script language for hand-built event sequences in unit tests."""
from hueyviz.core.event import Event, Worker


class Story:
    """Events with a clock that ticks by one second per event.

    >>> s = Story(workers=1)
    >>> s.start("a", 0); s.finish("a")
    >>> [e.kind for e in s.events]
    ['worker_up', 'executing', 'complete']
    """

    def __init__(self, workers=2, announce=True, host="h", pid=1):
        self.t = 0.0
        self.events = []
        self.workers = [Worker(host, pid, f"Worker-{i + 1}") for i in range(workers)]
        self.main = Worker(host, pid, "MainThread")
        self.names = {}
        if announce:
            for w in self.workers:
                self._add("worker_up", None, None, w, None)

    def _add(self, kind, task, name, worker, data, dt=1.0):
        self.t += dt
        self.events.append(Event(self.t, kind, task, name, worker, data))

    def _name(self, task):
        return self.names.get(task, task.rstrip("0123456789") or task)

    def worker(self, w):
        return self.main if w is None else self.workers[w]

    def enqueue(self, task, parent=None, by=None, **data):
        if parent is not None:
            data["parent"] = parent
        self._add("enqueued", task, self._name(task), self.worker(by), data or None)

    def start(self, task, w):
        self._add("executing", task, self._name(task), self.worker(w), None)

    def block(self, task, on, w, timeout=None):
        data = {"waits_on": on}
        if timeout is not None:
            data["timeout"] = timeout
        self._add("block", task, self._name(task) if task else None, self.worker(w), data)

    def unblock(self, task, on, w, outcome="result"):
        self._add("unblock", task, self._name(task) if task else None, self.worker(w),
                  {"waits_on": on, "outcome": outcome})

    def finish(self, task, outcome="complete", w=None, stored=True, **data):
        if outcome == "complete" and not stored:
            data["stored"] = False
        self._add(outcome, task, self._name(task), None if w is None else self.worker(w),
                  data or None)

    def kind(self, kind, task=None, w=None, **data):
        self._add(kind, task, None, None if w is None else self.worker(w), data or None)
