"""Task graphs shared by the tests that run them on real consumers."""
import time

from huey import MemoryHuey


def run_all(huey, limit=200):
    """Execute what ``huey`` has queued, in this thread, until it is empty."""
    for _ in range(limit):
        task = huey.dequeue()
        if task is None:
            return
        huey.execute(task)
    raise AssertionError("queue did not drain")


def chain_huey(name, leaf_work=0.0):
    """``top`` waits on ``middle``, which waits on ``leaf``: needs 3 workers.

    Returns the Huey instance and its ``top`` task.
    """
    huey = MemoryHuey(name, utc=False)

    @huey.task()
    def leaf():
        if leaf_work:
            time.sleep(leaf_work)     # the leaf's work, not synchronisation
        return "leaf"

    @huey.task()
    def middle():
        return leaf().get(blocking=True)

    @huey.task()
    def top():
        return middle().get(blocking=True)

    return huey, top
