"""A barrier across worker threads and processes, in a file of the test's
directory: ``wait(k)`` returns once k callers arrived (bounded: 20 s), so a
test's deadlock does not depend on which task reaches a worker first."""
import os
import threading


def wait(k: int) -> None:
    if not k:
        return
    path = os.path.join(os.environ["HVT_DIR"], "gate")
    with open(path, "a") as f:
        f.write("x\n")
    idle = threading.Event()
    for _ in range(2000):
        with open(path) as f:
            if len(f.read().split()) >= k:
                return
        idle.wait(0.01)
