"""A tiny script language for hand-built event sequences in unit tests."""
from hueyviz.core.event import Event, Worker


class Story:
    """Events with a clock that ticks by one second per event.

    Workers are numbered 0..n-1 in the default queue (``None``); more
    queues come with :meth:`add_queue`, their workers numbered after.
    A task's queue is set by its first enqueue (``q=``) or start.

    >>> s = Story(workers=1)
    >>> s.start("a", 0); s.finish("a")
    >>> [e.kind for e in s.events]
    ['worker_up', 'executing', 'complete']
    """

    def __init__(self, workers=2, announce=True, host="h", pid=1, queue=None):
        self.t = 0.0
        self.events = []
        self.workers = []
        self.worker_queue = []
        self.main = Worker(host, pid, "MainThread")
        self.names = {}
        self.task_queue = {}
        self.host, self.pid = host, pid
        self.default = queue
        self.add_queue(queue, workers, announce)

    def add_queue(self, queue, workers, announce=True, pid=None):
        """Workers of another queue (another consumer: its own pid)."""
        first = len(self.workers)
        pid = self.pid if pid is None else pid
        for i in range(workers):
            self.workers.append(Worker(self.host, pid, f"Worker-{i + 1}"))
            self.worker_queue.append(queue)
        if announce:
            for i in range(first, first + workers):
                self._add("worker_up", None, None, self.workers[i], None, q=queue)
        return list(range(first, first + workers))

    def _add(self, kind, task, name, worker, data, dt=1.0, q=None):
        self.t += dt
        self.events.append(Event(self.t, kind, task, name, worker, data, q))

    def _name(self, task):
        return self.names.get(task, task.rstrip("0123456789") or task)

    def _q(self, task, w=None):
        if task in self.task_queue:
            return self.task_queue[task]
        if w is not None and w < len(self.worker_queue):
            return self.worker_queue[w]
        return self.default

    def worker(self, w):
        return self.main if w is None else self.workers[w]

    def enqueue(self, task, parent=None, by=None, q="default-queue", **data):
        if parent is not None:
            data["parent"] = parent
        queue = self.default if q == "default-queue" else q
        self.task_queue.setdefault(task, queue)
        self._add("enqueued", task, self._name(task), self.worker(by), data or None,
                  q=self.task_queue[task])

    def start(self, task, w):
        self.task_queue.setdefault(task, self._q(task, w))
        self._add("executing", task, self._name(task), self.worker(w), None,
                  q=self.task_queue[task])

    def block(self, task, on, w, timeout=None, task_timeout=None):
        data = {"waits_on": on}
        if timeout is not None:
            data["timeout"] = timeout
        if task_timeout is not None:
            data["task_timeout"] = task_timeout
        q = self._q(task, w) if task else self._q(on)
        if task and on in self.task_queue and self.task_queue[on] != q:
            data["waits_on_queue"] = self.task_queue[on]
        self._add("block", task, self._name(task) if task else None, self.worker(w), data,
                  q=q)

    def unblock(self, task, on, w, outcome="result", consumed=False):
        q = self._q(task, w) if task else self._q(on)
        data = {"waits_on": on, "outcome": outcome}
        if consumed:
            data["consumed"] = True
        self._add("unblock", task, self._name(task) if task else None, self.worker(w),
                  data, q=q)

    def read(self, task, on, w, consumed=True):
        """A get() that found the result of ``on`` stored (and removed it)."""
        q = self._q(task, w) if task else self._q(on)
        data = {"waits_on": on}
        if consumed:
            data["consumed"] = True
        self._add("read", task, self._name(task) if task else None, self.worker(w), data, q=q)

    def finish(self, task, outcome="complete", w=None, stored=True, **data):
        if outcome == "complete" and not stored:
            data["stored"] = False
        self._add(outcome, task, self._name(task), None if w is None else self.worker(w),
                  data or None, q=self._q(task))

    def kind(self, kind, task=None, w=None, q=None, **data):
        queue = q if q is not None else (self._q(task, w) if task or w is not None
                                         else self.default)
        self._add(kind, task, None, None if w is None else self.worker(w), data or None,
                  q=queue)


def attached_late(workers=4):
    """huey #618 as events: a consumer of ``workers`` threads was running
    before the tracer attached (no announcements); each main task blocks on
    its subtask before the next main starts."""
    s = Story(workers, announce=False)
    for i in range(workers):
        s.enqueue(f"main{i}")
    for i in range(workers):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i)
    return s
