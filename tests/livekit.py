"""Real parts for the live tests: a private redis-server, huey_consumer
subprocesses and an app module written into a temp dir.

Every wait is bounded; every process started here is killed (its whole
process group) by the fixtures' finalizers, whatever the test did.
"""
from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from typing import Optional

import pytest

PY = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(pred, timeout: float, step: float = 0.02) -> bool:
    idle = threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return True
        if time.monotonic() >= deadline:
            return False
        idle.wait(step)


class RedisServer:
    """``redis-server --port P --save '' --appendonly no`` in its own dir."""

    def __init__(self, directory, *args: str, password: Optional[str] = None):
        exe = shutil.which("redis-server")
        if exe is None:
            pytest.fail("redis-server is not installed: the live tests need it "
                        "(apt-get install -y redis-server)", pytrace=False)
        self.exe = exe
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.port = free_port()
        self.args = args            # more server options (``--maxmemory 1mb``...)
        self.password = password    # --requirepass: its URL carries it, as Huey's takes it
        if password is not None:
            self.args = (*args, "--requirepass", password)
        self.proc = None

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password is not None else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        log = open(os.path.join(self.dir, "redis.log"), "ab")
        self.proc = subprocess.Popen(
            [self.exe, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", self.dir, *self.args],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        import redis
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2, password=self.password)

        def up():
            if self.proc.poll() is not None:
                raise RuntimeError(f"redis-server exited: see {self.dir}/redis.log")
            try:
                return client.ping()
            except redis.RedisError:
                return False
        if not wait_until(up, 10.0):
            self.stop()
            raise RuntimeError("redis-server did not answer within 10 s")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                pass
        self.proc = None

    def client(self):
        import redis
        return redis.Redis(port=self.port, socket_timeout=10, password=self.password)


@pytest.fixture
def redis_server(tmp_path):
    srv = RedisServer(tmp_path / "redis").start()
    yield srv
    srv.stop()


APP_HEADER = """\
import os, time
import hueyviz
from huey import {cls}

huey = {cls}({args})
hueyviz.install(huey{install})
{extra}

@huey.task()
def sleepy(i, seconds=0.0):
    if seconds:
        time.sleep(seconds)
    return i

@huey.task()
def sub(i):
    time.sleep(0.01)
    return i

def _wait_for_file(name):
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), name)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not os.path.exists(path):
        time.sleep(0.01)


@huey.task()
def main(n, gate=0, go=None):
    # gate=k: wait (bounded) until k mains run at once, so that a test's
    # deadlock does not depend on who wins the race to the queue.
    # go=NAME: then wait (bounded) until the test creates that file.
    if gate:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gate")
        with open(path, "a") as f:
            f.write("x\\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with open(path) as f:
                if len(f.read().split()) >= gate:
                    break
            time.sleep(0.01)
    if go:
        _wait_for_file(go)
    # The anti-pattern: block on subtasks from inside a task.
    return sum(r.get(blocking=True) for r in [sub(i) for i in range(n)])
"""


class App:
    """An app module ``app.py`` in its own directory, plus its consumers."""

    def __init__(self, directory, cls: str, args: str, install: str = "", extra: str = ""):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.path = os.path.join(self.dir, "app.py")
        with open(self.path, "w") as f:
            f.write(APP_HEADER.format(cls=cls, args=args, install=install, extra=extra))
        self.consumers: list = []
        self._module = None

    @property
    def module(self):
        """The app imported into the test process (a producer)."""
        if self._module is None:
            # Imported under the name the consumers use ("app"): Huey's task
            # registry keys tasks by module name.  Removed from sys.modules
            # again so that the next test's app is a fresh module.
            saved = sys.modules.pop("app", None)
            sys.path.insert(0, self.dir)
            try:
                self._module = importlib.import_module("app")
            finally:
                sys.path.remove(self.dir)
                sys.modules.pop("app", None)
                if saved is not None:
                    sys.modules["app"] = saved
        return self._module

    def consumer(self, workers: int, kind: str = "thread", *extra: str) -> Consumer:
        c = Consumer(self, workers, kind, extra)
        self.consumers.append(c)
        return c.start()

    def cleanup(self) -> None:
        for c in self.consumers:
            c.kill()
        if self._module is not None:
            import hueyviz
            guard = getattr(self._module, "guard", None)
            if hasattr(guard, "remove"):          # an app that guards itself
                guard.remove()
            tracer = getattr(self._module.huey, "_hueyviz_tracer", None)
            hueyviz.uninstall(self._module.huey)
            if tracer is not None:
                tracer.sink.close()


def killpg(proc) -> None:
    """kill -9 of a process's whole group (a consumer's workers included)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:  # pragma: no cover
        pass


class ConsumerProcess:
    """A consumer in its own process group, its output in ``log``."""

    proc: Optional[subprocess.Popen] = None
    log: str = ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 15.0) -> bool:
        """Graceful stop (SIGINT: huey finishes running tasks); True if it ended."""
        if not self.alive():
            return True
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            self.kill()
            return False

    def kill(self) -> None:
        if self.proc is not None:
            killpg(self.proc)

    def output(self) -> str:
        """The end of the log, for an assertion's message."""
        return self.log_text()[-6000:]

    def log_text(self) -> str:
        """The whole log, to look for a line in: other receivers' tracebacks
        (django-huey-monitor's "database is locked" on SQLite under load) can
        push it out of the last few thousand characters."""
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""


class Consumer(ConsumerProcess):
    """``huey_consumer app.huey -w N -k KIND``."""

    def __init__(self, app: App, workers: int, kind: str, extra=()):
        self.app, self.workers, self.kind, self.extra = app, workers, kind, tuple(extra)
        self.log = os.path.join(app.dir, f"consumer-{uuid.uuid4().hex[:6]}.log")

    def start(self) -> Consumer:
        args = ["app.huey", "-w", str(self.workers), "-k", self.kind, "-n",
                "-d", "0.01", "-m", "0.05", *self.extra]
        if self.kind == "greenlet":
            cmd = [PY, "-c", "from gevent import monkey; monkey.patch_all()\n"
                   "import sys\nfrom huey.bin.huey_consumer import consumer_main\n"
                   f"sys.argv = ['huey_consumer'] + {args!r}\nconsumer_main()"]
        else:
            cmd = [PY, "-m", "huey.bin.huey_consumer", *args]
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            [self.app.dir] + [p for p in sys.path if p]))
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=self.app.dir, env=env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@pytest.fixture
def make_app(tmp_path):
    """``make_app(cls, args, install="")`` writes an app; consumers die at teardown."""
    apps = []

    def make(cls: str, args: str, install: str = "", name: str = "app", extra: str = "") -> App:
        app = App(tmp_path / f"{name}{len(apps)}", cls, args, install, extra)
        apps.append(app)
        return app
    yield make
    for app in apps:
        app.cleanup()


def kinds(trace, kind: str):
    return [e for e in trace if e.kind == kind]
