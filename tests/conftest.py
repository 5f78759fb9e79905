import os
import sys
import threading
import time

import pytest

sys.path.insert(0, os.path.dirname(__file__))

from hueyviz.demo import rescue

# The Django test project is run in subprocesses (test_django.py), never imported here.
collect_ignore = ["djangoproj"]
if os.path.basename(os.getcwd()) == "mutants":
    # A mutation run (python3 dev.py mutate): mutmut calls every mutated
    # function through its trampoline, which the hook's call-site walk must
    # step over like its own frames.
    from mutmut.mutation import trampoline as _trampoline

    import hueyviz.record.hook as _hook
    _hook._SKIP_FILES = _hook._SKIP_FILES | {_trampoline.__file__}
    # Thousands of mutants: property tests try fewer examples each.
    from hypothesis import settings as _settings
    _settings.register_profile("mutation", max_examples=25, deadline=None)
    _settings.load_profile("mutation")


class Running:
    """A real threaded consumer that is always rescued and stopped."""

    def __init__(self, huey, workers):
        self.huey = huey
        self.consumer = huey.create_consumer(
            workers=workers, worker_type="thread", periodic=False,
            initial_delay=0.005, max_delay=0.05, check_worker_health=False)
        self.results = []

    def start(self):
        self.consumer.start()
        return self

    def wait_results(self, results, timeout=15.0):
        """Wait (bounded) until every result is ready; True if they all are."""
        idle = threading.Event()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if all(r.is_ready() for r in results):
                return True
            idle.wait(0.01)
        return False

    def stop(self):
        rescue(self.huey, self.consumer, self.results, timeout=10.0)


@pytest.fixture
def consumer():
    """``consumer(huey, workers)`` starts a consumer; teardown rescues it."""
    started = []

    def start(huey, workers=2):
        run = Running(huey, workers)
        started.append(run)
        return run.start()

    yield start
    for run in started:
        run.stop()
