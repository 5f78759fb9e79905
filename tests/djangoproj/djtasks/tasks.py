"""djhuey tasks: the classic nested-task deadlock."""
from huey.contrib.djhuey import task

from djtasks import gate


@task()
def sub(i):
    return i


@task()
def main(n, together=0):
    gate.wait(together)
    # The anti-pattern: block on subtasks from inside a task.
    return sum(r.get(blocking=True) for r in [sub(i) for i in range(n)])
