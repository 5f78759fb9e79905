"""Real parts for the Django tests: the project in ``djangoproj/`` run as a
real user runs it, ``manage.py`` by ``manage.py`` in subprocesses.

Each test gets its own directory (``HVT_DIR``: Django's database, Huey's,
the gate file); every process runs in its own process group, every wait is
bounded, and the finalizers kill whatever is still running.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid
from typing import Optional

import pytest
from livekit import ConsumerProcess, killpg

PY = sys.executable
PROJECT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "djangoproj")
MANAGE = os.path.join(PROJECT, "manage.py")


def run(cmd, env, timeout: float = 120.0, cwd: str = PROJECT) -> subprocess.CompletedProcess:
    """``cmd`` to completion in its own process group (killed at ``timeout``)."""
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        killpg(proc)
        out, err = proc.communicate(timeout=10)
        pytest.fail(f"{' '.join(cmd)} did not end in {timeout} s\n{out}\n{err}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


class Project:
    """One variant of the test project (see ``djangoproj/proj/settings.py``)."""

    def __init__(self, directory, mode: str, *, debug: bool = False,
                 hueyviz: Optional[dict] = None, monitor: bool = True, app: bool = True):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        self.mode = mode
        self.env = dict(os.environ, HVT_DIR=self.dir, HVT_MODE=mode,
                        HVT_DEBUG="1" if debug else "0",
                        HVT_MONITOR="1" if monitor else "0",
                        HVT_HUEYVIZ_APP="1" if app else "0",
                        DJANGO_SETTINGS_MODULE="proj.settings", PYTHONUNBUFFERED="1")
        self.env.pop("HVT_HUEYVIZ", None)
        if hueyviz is not None:
            self.env["HVT_HUEYVIZ"] = json.dumps(hueyviz)
        self.consumers: list = []

    @property
    def huey_db(self) -> str:
        return os.path.join(self.dir, "huey.db")

    @property
    def db(self) -> str:
        return os.path.join(self.dir, "db.sqlite3")

    def queue_urls(self) -> list:
        """The sources hueyviz must read for this project, written out by hand."""
        queues = ["jobs"] if self.mode == "djhuey" else ["alpha", "beta"]
        return [f"sqlite:///{self.huey_db}?queue={q}" for q in queues]

    def manage(self, *args: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        return run([PY, MANAGE, *args], self.env, timeout)

    def shell(self, code: str, timeout: float = 120.0) -> subprocess.CompletedProcess:
        """``manage.py shell -c CODE``; check=True; stdout's last line is returned parsed
        as JSON in ``.result`` when it is JSON."""
        out = self.manage("shell", "-c", code, timeout=timeout)
        assert out.returncode == 0, out.stdout + out.stderr
        last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
        try:
            out.result = json.loads(last)  # type: ignore[attr-defined]
        except ValueError:
            out.result = None  # type: ignore[attr-defined]
        return out

    def consumer(self, *args: str) -> Consumer:
        c = Consumer(self, args)
        self.consumers.append(c)
        return c.start()

    def cleanup(self) -> None:
        for c in self.consumers:
            c.kill()


class Consumer(ConsumerProcess):
    """``manage.py run_huey ...`` or ``manage.py djangohuey --queue Q ...``."""

    def __init__(self, project: Project, args):
        self.project = project
        self.args = [*args, "-d", "0.01", "-m", "0.05", "-n"]
        self.log = os.path.join(project.dir, f"consumer-{uuid.uuid4().hex[:6]}.log")

    def start(self) -> Consumer:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([PY, MANAGE, *self.args], cwd=PROJECT,
                                         env=self.project.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        return self

    def stop(self, timeout: float = 30.0) -> bool:
        return super().stop(timeout)


@pytest.fixture(scope="session")
def migrated_db(tmp_path_factory):
    """Django's database with every migration applied (django-huey-monitor's
    tables), made once: each project starts from a copy."""
    d = tmp_path_factory.mktemp("django-template")
    p = Project(d, "djhuey")
    out = p.manage("migrate", "-v", "0", timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    return p.db


@pytest.fixture
def make_project(tmp_path, migrated_db):
    """``make_project(mode, **options)``: a project in its own directory;
    its consumers die at teardown."""
    projects = []

    def make(mode: str, **options) -> Project:
        p = Project(tmp_path / f"{mode}{len(projects)}", mode, **options)
        shutil.copyfile(migrated_db, p.db)
        projects.append(p)
        return p
    yield make
    for p in projects:
        p.cleanup()
