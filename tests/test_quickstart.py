"""The README's Quick start on a stock machine (issue 12).

End to end: clone the committed HEAD of this checkout into a temporary
directory and run the README's first command there, as written, with the
system's ``python3`` and ``PATH`` limited to the system's directories (no
pyenv, no virtual environment), the way a new user on Debian/Ubuntu would.
It must report the deadlock, build ``.venv/`` in the clone, and install
nothing anywhere else.  A second run must install nothing; a changed
``pyproject.toml`` must refresh the environment.  Installing the runtime
dependencies into the fresh ``.venv/`` needs the package index (or pip's
cache / local wheel directories); offline, the test skips.

The decisions of ``dev.py`` that are slow to reach end to end (a half-made
``.venv/``, a Python without ``ensurepip``) are unit-tested on a copy of
``dev.py`` with the slow steps replaced.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
OFFLINE = ("NewConnectionError", "Temporary failure in name resolution",
           "Network is unreachable", "ConnectTimeoutError")
# What a user's shell would pass on: identity, locale, and the machine's
# network/pip configuration (proxies, certificates, local wheel directories).
KEEP_ENV = ("HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "TERM", "TMPDIR",
            "XDG_CACHE_HOME", "XDG_CONFIG_HOME", "SSL_CERT_FILE", "SSL_CERT_DIR",
            "REQUESTS_CA_BUNDLE", "http_proxy", "https_proxy", "no_proxy",
            "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY")


def quick_start():
    """The commands of the README's Quick start block."""
    text = (ROOT / "README.md").read_text()
    block = re.search(r"## Quick start\n+```sh\n(.*?)```", text, re.S)
    assert block, "README.md has no ```sh block under ## Quick start"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_quick_start_is_two_python3_commands():
    assert quick_start() == ["python3 dev.py demo", "python3 dev.py test"]


def test_ci_runs_the_readme_test_command():
    lines = [line.strip() for line in (ROOT / ".ci" / "run").read_text().splitlines()]
    commands = [line for line in lines if line and not line.startswith("#")
                and not line.startswith(("set ", "cd "))]
    assert commands == [quick_start()[1]]


# -- end to end ----------------------------------------------------------------

def system_env():
    env = {k: os.environ[k] for k in KEEP_ENV if k in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})
    env["PATH"] = SYSTEM_PATH
    return env


def python_facts(python):
    """Version, venv/ensurepip availability and install locations of ``python``
    (site-packages, user site, scripts directory)."""
    code = ("import importlib.util as u, json, site, sys, sysconfig\n"
            "print(json.dumps({'version': sys.version_info[:2],"
            " 'venv': all(u.find_spec(m) for m in ('venv', 'ensurepip')),"
            " 'dirs': site.getsitepackages() + [site.getusersitepackages(),"
            " sysconfig.get_path('scripts'), sysconfig.get_path('purelib')]}))")
    out = subprocess.run([python, "-c", code], env=system_env(), capture_output=True,
                         text=True, timeout=60, check=True).stdout
    return json.loads(out)


def listing(dirs):
    """Top-level entries of each directory: pip adds a package directory, a
    .dist-info and scripts there, so any install shows up."""
    return {d: sorted(os.listdir(d)) if os.path.isdir(d) else None for d in dirs}


def can_apt_install():
    if shutil.which("apt-get") is None:
        return False
    if os.geteuid() == 0:
        return True
    return shutil.which("sudo") is not None and subprocess.run(
        ["sudo", "-n", "true"], capture_output=True).returncode == 0


def run_quick_start(clone, args, timeout):
    """The README's first command, as written, plus ``args``; (exit code,
    merged output, seconds)."""
    cmd = shlex.split(quick_start()[0]) + args
    t0 = time.monotonic()
    proc = subprocess.run(cmd, cwd=clone, env=system_env(), stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=timeout)
    return proc.returncode, proc.stdout, time.monotonic() - t0


def pip_commands(output):
    return [line for line in output.splitlines()
            if line.startswith("[dev.py] ") and " pip " in line]


def test_quick_start_demo_on_the_system_python(tmp_path):
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("needs git and a git checkout: the test clones the committed HEAD")
    python3 = shutil.which("python3", path=SYSTEM_PATH)
    if python3 is None:
        pytest.skip(f"no python3 on the system PATH ({SYSTEM_PATH})")
    facts = python_facts(python3)
    if tuple(facts["version"]) < (3, 11):
        pytest.skip(f"the system's python3 is {facts['version']}; hueyviz needs >= 3.11")
    if not facts["venv"] and not can_apt_install():
        pytest.skip(f"{python3} has no venv/ensurepip and apt-get cannot run here "
                    "(not root, no passwordless sudo) to install python3.X-venv")
    home = Path(os.environ.get("HOME", "/nonexistent"))
    watched = sorted(set(facts["dirs"]) | {str(home / ".local" / "bin"),
                                           str(home / ".local" / "lib")})
    before = listing(watched)

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(clone)], check=True,
                   capture_output=True, timeout=120)
    venv_python = clone / ".venv" / "bin" / "python"
    out_dir = tmp_path / "demo-out"

    # 1. First run: creates .venv/, installs the runtime package, runs the demo.
    code, out, first = run_quick_start(clone, ["--out", str(out_dir)], timeout=900)
    if code != 0 and any(s in out for s in OFFLINE):
        pytest.skip("no package index reachable: cannot install the demo's dependencies")
    assert code == 0, f"the first Quick start command failed (exit {code}):\n{out[-5000:]}"
    assert re.search(r"^Deadlock: ", out, re.M), f"no deadlock reported:\n{out[-3000:]}"
    assert (out_dir / "trace.jsonl").is_file()
    assert (clone / ".venv" / "pyvenv.cfg").is_file()
    assert f"[dev.py] {python3} -m venv {clone / '.venv'}" in out, out[-3000:]
    pips = pip_commands(out)
    assert pips, f"dev.py installed nothing on a fresh clone?\n{out[-3000:]}"
    # pip only ever ran as the clone's .venv python, never the system's.
    assert all(p.startswith(f"[dev.py] {venv_python} -m pip install") for p in pips), pips
    where = subprocess.run(
        [str(venv_python), "-c", "import hueyviz, importlib.util as u; "
         "print(hueyviz.__file__); print(u.find_spec('pytest') is None)"],
        cwd=tmp_path, env=system_env(), capture_output=True, text=True, timeout=60, check=True)
    module, no_pytest = where.stdout.split()
    assert module.startswith(str(clone / "hueyviz")), module      # editable, this clone
    assert no_pytest == "True", "demo installed the test extras; it needs the runtime only"
    assert (clone / ".venv" / "bin" / "hueyviz").is_file()
    assert "hueyviz-demo" not in os.listdir(clone)         # --out went through to the demo
    assert subprocess.run(["git", "status", "--porcelain"], cwd=clone, capture_output=True,
                          text=True, check=True).stdout == "", "the run left untracked files"

    # 2. Re-run with nothing changed: no install, straight to the demo.
    code, out, again = run_quick_start(clone, ["--out", str(out_dir)], timeout=300)
    assert code == 0, out[-5000:]
    assert "[dev.py] environment up to date (.venv/)" in out, out[-3000:]
    assert pip_commands(out) == [] and "-m venv" not in out, out[-3000:]
    assert re.search(r"^Deadlock: ", out, re.M), out[-3000:]

    # 3. pyproject.toml changed: the environment is refreshed, then up to date.
    with open(clone / "pyproject.toml", "a") as f:
        f.write("\n# changed by test_quickstart\n")
    code, out, _ = run_quick_start(clone, ["--out", str(out_dir)], timeout=900)
    assert code == 0, out[-5000:]
    assert "environment up to date" not in out and "-m venv" not in out, out[-3000:]
    assert [p.startswith(f"[dev.py] {venv_python} -m pip install") for p in pip_commands(out)] \
        == [True], out[-3000:]
    assert re.search(r"^Deadlock: ", out, re.M), out[-3000:]
    code, out, _ = run_quick_start(clone, ["--out", str(out_dir)], timeout=300)
    assert code == 0 and "[dev.py] environment up to date (.venv/)" in out, out[-3000:]

    assert listing(watched) == before, "something was installed outside the clone's .venv/"
    print(f"first run {first:.1f} s, re-run {again:.2f} s")


# -- dev.py's decisions, on a copy of dev.py -------------------------------------

@pytest.fixture
def dev(tmp_path):
    """dev.py loaded from a copy in a scratch 'checkout' (its ROOT)."""
    shutil.copy(ROOT / "dev.py", tmp_path / "dev.py")
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n')
    spec = importlib.util.spec_from_file_location("dev_under_test", tmp_path / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fake_venv(dev, python=sys.executable):
    os.makedirs(os.path.dirname(dev.VENV_PY))
    Path(dev.VENV, "pyvenv.cfg").write_text("home = /usr/bin\n")
    os.symlink(python, dev.VENV_PY)


def test_stamp_follows_pyproject_extras_and_interpreter(dev, tmp_path):
    fake_venv(dev)
    dev.write_stamp(dev.wanted_stamp([]))
    assert dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))
    assert not dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp(["test"]))
    dev.write_stamp(dev.wanted_stamp(["test"]))
    assert dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))     # demo after test

    with open(tmp_path / "pyproject.toml", "a") as f:
        f.write('dependencies = ["huey"]\n')
    assert not dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))

    dev.write_stamp(dev.wanted_stamp([]))
    source = tmp_path / dev.EXTENSION_SOURCES[0]     # the C hot path is rebuilt when edited
    source.parent.mkdir(parents=True)
    source.write_text("/* C */\n")
    assert not dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))
    # installed where nothing could compile it: rebuilt once something can
    dev.write_stamp(dict(dev.wanted_stamp([]), cc=not dev.can_compile()))
    assert not dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))

    dev.write_stamp(dev.wanted_stamp([]))
    os.unlink(dev.VENV_PY)                      # its Python was upgraded or removed
    os.symlink("/nonexistent/python3", dev.VENV_PY)
    assert not dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))


def test_half_made_venv_is_recreated(dev, monkeypatch):
    # A `python -m venv` interrupted before ensurepip: pyvenv.cfg and bin/python,
    # but no pip.
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", dev.VENV], check=True)
    assert not dev.venv_is_usable(None)
    calls = []
    monkeypatch.setattr(dev, "create_venv", lambda: (calls.append("venv"), fake_venv(dev)))
    monkeypatch.setattr(dev, "run", lambda cmd, **kw: (calls.append(cmd[1:5]),
                                                        subprocess.CompletedProcess(cmd, 0))[1])
    dev.ensure_venv()
    assert calls == ["venv", ["-m", "pip", "install", "--quiet"]]
    assert dev.is_up_to_date(dev.read_stamp(), dev.wanted_stamp([]))


def test_moved_checkout_is_not_reused(dev):
    fake_venv(dev)
    stamp = dict(dev.wanted_stamp([]), venv="/elsewhere/.venv")
    assert not dev.is_up_to_date(stamp, dev.wanted_stamp([]))
    assert not dev.venv_is_usable(stamp)


def test_python_without_ensurepip_names_the_apt_package(dev, monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(dev.importlib.util, "find_spec",
                        lambda name, *a: None if name == "ensurepip" else real(name, *a))
    monkeypatch.setattr(dev, "is_debian_python", lambda: True)
    monkeypatch.setattr(dev.os, "geteuid", lambda: 1000)          # not root ...
    monkeypatch.setattr(dev.shutil, "which",                      # ... and no sudo
                        lambda name, *a: "/usr/bin/apt-get" if name == "apt-get" else None)
    with pytest.raises(SystemExit) as exc:
        dev.create_venv()
    minor = sys.version_info.minor
    assert f"sudo apt-get install python3.{minor}-venv" in str(exc.value)
    assert not os.path.exists(dev.VENV)
