"""django-huey tasks on two queues, waiting across them."""
from django_huey import task


@task(queue="alpha")
def leaf_a(i):
    return i


@task(queue="beta")
def leaf_b(i):
    return i


@task(queue="alpha")
def ask_beta(i):
    # alpha waits for beta: fine while beta has a free worker.
    return leaf_b(i).get(blocking=True) + 1


@task(queue="beta")
def mid(i):
    # beta waits for alpha...
    return leaf_a(i).get(blocking=True)


@task(queue="alpha")
def top(i):
    # ...while alpha's worker waits for beta: with one worker each, a knot.
    return mid(i).get(blocking=True)
