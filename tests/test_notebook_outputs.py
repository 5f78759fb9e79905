"""The notebooks as committed: outputs a reader sees without running them.

A notebook opened fresh in JupyterLab or Binder is untrusted: its SVG
outputs are not rendered, and a widget view has no model.  The committed
files therefore carry PNG twins of their drawings, no widget views, no
warnings, no temporary paths (``notebooks/refresh.py`` writes them so).
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
_spec = importlib.util.spec_from_file_location("nb_refresh", NOTEBOOKS / "refresh.py")
assert _spec is not None and _spec.loader is not None
refresh = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(refresh)


@pytest.mark.parametrize("name", sorted(p.name for p in NOTEBOOKS.glob("[0-9]*.ipynb")))
def test_committed_outputs_read_without_a_kernel(name):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert refresh.problems(nb) == []
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("execution_count") for c in code), "saved unexecuted"
    # symbols that need a symbol font render as boxes on a stock system
    for c in nb.cells:
        assert not set(c.source) & set("⏮⏭⏯⏪⏩"), c.source[:80]


def test_problems_are_found():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("x", outputs=[
        nbformat.v4.new_output("stream", name="stderr", text="UserWarning: x"),
        nbformat.v4.new_output("display_data", data={
            "image/svg+xml": "<svg><script>1</script></svg>",
            "application/vnd.jupyter.widget-view+json": {"model_id": "m"},
            "text/plain": "written to /tmp/abc/lanes.svg"})])])
    found = " ".join(refresh.problems(nb))
    for words in ("stderr", "<script>", "PNG twin", "widget view", "temporary path"):
        assert words in found, words
