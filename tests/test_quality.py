"""The code is linted and type-checked as part of the test suite."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _run(*cmd):
    return subprocess.run([sys.executable, "-m", *cmd], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff_is_clean():
    out = _run("ruff", "check", "hueyviz", "tests", "bench", "dev.py", "conftest.py")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_is_clean():
    out = _run("mypy")          # configured in pyproject.toml: the hueyviz package
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Success" in out.stdout


def test_py_typed_is_shipped():
    assert (ROOT / "hueyviz" / "py.typed").exists()
    text = (ROOT / "pyproject.toml").read_text()
    assert 'hueyviz = ["py.typed"]' in text
