"""Optional dependencies name the extra that installs them (issue 12):
Redis sinks and sources without redis-py say ``pip install 'hueyviz[redis]'``."""
import sys

import pytest
from huey import MemoryHuey

import hueyviz
from hueyviz import cli
from hueyviz.core.errors import MissingDependency
from hueyviz.record.sinkurl import sink_for

HINT = "pip install 'hueyviz[redis]'"


@pytest.fixture
def no_redis(monkeypatch):
    """As if redis-py were not installed (None in sys.modules blocks the import)."""
    for name in [n for n in sys.modules if n == "redis" or n.startswith("redis.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "redis", None)


def test_redis_sink_without_redis_names_the_extra(no_redis):
    with pytest.raises(MissingDependency, match=HINT.replace("[", r"\[").replace("]", r"\]")):
        sink_for(MemoryHuey("x"), "redis://localhost:1/0")


def test_redis_source_without_redis_names_the_extra(no_redis):
    with pytest.raises(ImportError) as exc:        # MissingDependency is an ImportError
        hueyviz.Trace.read("redis://localhost:1/0?queue=x")
    assert HINT in str(exc.value)


def test_cli_says_it_in_one_line(no_redis, capsys):
    assert cli.main(["diagnose", "redis://localhost:1/0?queue=x"]) == cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert err.strip().splitlines() == [f"hueyviz: error: Redis support needs the 'redis' "
                                        f"package: {HINT}"]


def test_a_broken_install_is_not_reported_as_missing(tmp_path, monkeypatch):
    from hueyviz.core.extras import require
    # Installed, but one of its own imports fails: that error, not a hint.
    (tmp_path / "half_installed.py").write_text("import its_missing_dependency\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ModuleNotFoundError) as exc:
        require("half_installed", "x", "X")
    assert not isinstance(exc.value, MissingDependency)
    assert exc.value.name == "its_missing_dependency"
