"""Tracing must not change Huey's behaviour: Huey's own test suite, from the
sdist of the installed Huey version, gives the same result with a tracer
attached to every Huey instance it creates as without.

Both runs are subprocesses (``python -m pytest huey/tests`` in the extracted
sdist); the traced one loads a small pytest plugin that wraps
``huey.api.Huey.__init__`` to call ``hueyviz.trace(self)`` -- in that
subprocess only.  The sdist is downloaded once with ``pip download`` and
cached (``$HUEYVIZ_CACHE_DIR``, default ``~/.cache/hueyviz``); to run
offline, put ``huey-<version>.tar.gz`` there or point ``$HUEYVIZ_HUEY_SDIST``
at it.

Tests that need services this machine may not have, or that would share
them with other test runs (Redis on localhost:6379, PostgreSQL, Django), are
deselected in both runs alike.
"""
from __future__ import annotations

import glob
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import xml.etree.ElementTree as ET

import pytest

HUEY_VERSION = importlib.metadata.version("huey")
CACHE_DIR = os.environ.get("HUEYVIZ_CACHE_DIR") or os.path.join(
    os.path.expanduser("~"), ".cache", "hueyviz")
RUN_TIMEOUT = 600

# Node-id prefixes (a trailing "::" keeps a class from matching its longer-named
# siblings such as TestRedisStorageOffline, which needs no server and runs).
DESELECT = (
    "huey/tests/test_storage.py::TestRedisStorage::",
    "huey/tests/test_storage.py::TestRedisStorageWaitResult::",
    "huey/tests/test_storage.py::TestRedisExpireStorage::",
    "huey/tests/test_storage.py::TestPriorityRedisStorage::",
    "huey/tests/test_storage.py::TestPriorityRedisStorageNotBlocking::",
    "huey/tests/test_storage.py::TestValkeyGlideStorage::",
    "huey/tests/test_helpers.py::TestLockTaskSemaphore::",
    "huey/tests/test_postgres.py",
    "huey/tests/test_django_tasks.py",
)

PLUGIN = '''\
"""pytest plugin (traced run only): a hueyviz tracer on every Huey instance."""
import atexit, json, os

import hueyviz
from huey import api

_orig_init = api.Huey.__init__
_stats = {"instances": 0, "events": 0, "errors": 0}
_tracers = []


def _traced_init(self, *args, **kwargs):
    _orig_init(self, *args, **kwargs)
    tracer = hueyviz.trace(self)
    _stats["instances"] += 1
    _tracers.append(tracer)


api.Huey.__init__ = _traced_init


def pytest_sessionfinish(session, exitstatus):
    _stats["events"] = sum(len(t.sink) + t.sink.dropped for t in _tracers)
    _stats["errors"] = sum(t.errors for t in _tracers)
    with open(os.environ["HUEYVIZ_SUITE_STATS"], "w") as f:
        json.dump(_stats, f)
'''


def _fetch_sdist() -> str:
    """Path of huey-<version>.tar.gz, downloading it into the cache once."""
    given = os.environ.get("HUEYVIZ_HUEY_SDIST")
    if given:
        if not os.path.isfile(given):
            pytest.fail(f"HUEYVIZ_HUEY_SDIST={given} is not a file")
        return given
    os.makedirs(CACHE_DIR, exist_ok=True)
    found = glob.glob(os.path.join(CACHE_DIR, f"huey-{HUEY_VERSION}.tar.gz"))
    if found:
        return found[0]
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
           "--disable-pip-version-check", "--no-input", f"huey=={HUEY_VERSION}",
           "-d", CACHE_DIR]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        ok = proc.returncode == 0
        why = (proc.stderr or proc.stdout).strip()[-600:]
    except (OSError, subprocess.TimeoutExpired) as exc:
        ok, why = False, repr(exc)
    found = glob.glob(os.path.join(CACHE_DIR, f"huey-{HUEY_VERSION}.tar.gz"))
    if not ok or not found:
        pytest.fail(
            f"cannot fetch the sdist of huey {HUEY_VERSION} (needed to run Huey's own "
            f"test suite): {' '.join(cmd)} failed:\n{why}\n"
            f"Fix: run that command with network access, or put huey-{HUEY_VERSION}.tar.gz "
            f"into {CACHE_DIR}, or set HUEYVIZ_HUEY_SDIST=/path/to/it.", pytrace=False)
    return found[0]


@pytest.fixture(scope="module")
def huey_src() -> str:
    """The extracted sdist (cached next to the tarball)."""
    sdist = _fetch_sdist()
    dest = os.path.join(CACHE_DIR, f"huey-{HUEY_VERSION}-src")
    root = os.path.join(dest, f"huey-{HUEY_VERSION}")
    if not os.path.isdir(os.path.join(root, "huey", "tests")):
        os.makedirs(CACHE_DIR, exist_ok=True)
        tmp = tempfile.mkdtemp(dir=CACHE_DIR, prefix=".extract-")
        with tarfile.open(sdist) as tar:
            if hasattr(tarfile, "data_filter"):
                tar.extractall(tmp, filter="data")
            else:  # pragma: no cover - Python without extraction filters
                tar.extractall(tmp)
        shutil.rmtree(dest, ignore_errors=True)
        os.replace(tmp, dest)
    if not os.path.isdir(os.path.join(root, "huey", "tests")):
        pytest.fail(f"{sdist} has no huey/tests directory", pytrace=False)
    return root


def _run_suite(src: str, work: str, label: str, traced: bool, only=()) -> dict:
    """Run huey's tests; return {test id: passed|failed|skipped} and stats."""
    xml = os.path.join(work, f"{label}.xml")
    stats = os.path.join(work, f"{label}-stats.json")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTEST_", "HUEY_"))}
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"     # same plugins in both runs: none
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["HUEYVIZ_SUITE_STATS"] = stats
    paths = [work] if traced else []
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    cmd = [sys.executable, "-m", "pytest", *(only or ["huey/tests"]), "-q",
           "-p", "no:cacheprovider", f"--junitxml={xml}", "-o", "junit_family=xunit2"]
    for prefix in DESELECT:
        cmd += ["--deselect", prefix]
    if traced:
        cmd += ["-p", "hueyviz_trace_all"]
    proc = subprocess.run(cmd, cwd=src, env=env, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT)
    if not os.path.exists(xml):
        pytest.fail(f"{label} run of huey's tests produced no report (exit "
                    f"{proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}",
                    pytrace=False)
    outcomes = {}
    for case in ET.parse(xml).getroot().iter("testcase"):
        tid = f"{case.get('classname')}::{case.get('name')}"
        kinds = {child.tag for child in case}
        outcomes[tid] = ("failed" if kinds & {"failure", "error"} else
                         "skipped" if "skipped" in kinds else "passed")
    info = {}
    if os.path.exists(stats):
        with open(stats) as f:
            info = json.load(f)
    return {"outcomes": outcomes, "stats": info, "tail": proc.stdout[-2000:]}


def _node_id(tid: str) -> str:
    """``huey.tests.test_api.TestX::test_y`` -> ``huey/tests/test_api.py::TestX::test_y``."""
    classname, name = tid.split("::", 1)
    mod, _, cls = classname.rpartition(".")
    return f"{mod.replace('.', '/')}.py::{cls}::{name}"


@pytest.mark.timeout(1800)
def test_huey_suite_gives_the_same_result_traced(huey_src, tmp_path):
    work = str(tmp_path)
    with open(os.path.join(work, "hueyviz_trace_all.py"), "w") as f:
        f.write(textwrap.dedent(PLUGIN))

    plain = _run_suite(huey_src, work, "plain", traced=False)
    traced = _run_suite(huey_src, work, "traced", traced=True)

    # Huey's own suite ran (192 tests in 3.0.0, 220 or more in 3.5).
    assert len(plain["outcomes"]) > 150, plain["tail"]
    # The shim really traced: many instances, many events, no recorder failure.
    assert traced["stats"].get("instances", 0) > 100, traced
    assert traced["stats"].get("events", 0) > 500, traced["stats"]
    assert traced["stats"].get("errors") == 0, traced["stats"]

    differ = sorted(t for t in set(plain["outcomes"]) | set(traced["outcomes"])
                    if plain["outcomes"].get(t) != traced["outcomes"].get(t))
    if differ:
        # Huey's suite has timing-sensitive tests: re-run just those, both ways,
        # once, and require agreement then.
        only = [_node_id(t) for t in differ]
        again_plain = _run_suite(huey_src, work, "plain-rerun", False, only)["outcomes"]
        again_traced = _run_suite(huey_src, work, "traced-rerun", True, only)["outcomes"]
        still = [t for t in differ if again_plain.get(t) != again_traced.get(t)]
        assert not still, "\n".join(
            f"{t}: untraced {again_plain.get(t)}, traced {again_traced.get(t)}" for t in still)
