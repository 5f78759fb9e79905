"""Execute the notebooks and save their outputs for readers without a kernel.

    .venv/bin/python notebooks/refresh.py [NAME.ipynb ...]

(after ``python3 dev.py test`` has installed the test extras).  Each notebook
is run top to bottom in a fresh kernel from this directory, then its outputs
are made readable where nothing is re-run:

- the widget's view (``application/vnd.jupyter.widget-view+json``) and the
  widget state are dropped: a saved notebook has no widget models, and the
  view would show an error instead of its fallback;
- every SVG output gets a PNG twin: JupyterLab and Binder do not render SVG
  of an untrusted notebook (a notebook opened fresh is untrusted), but a
  PNG they do, so the drawings show without re-running;
- timing metadata is dropped (no churn in diffs).

It refuses to save a notebook whose outputs hold a warning or an error
(anything on stderr), a temporary path, or a ``<script>`` inside an SVG;
``tests/test_notebook_outputs.py`` checks the same of the committed files.
"""
from __future__ import annotations

import base64
import pathlib
import re
import sys

HERE = pathlib.Path(__file__).resolve().parent
WIDGET = "application/vnd.jupyter.widget-view+json"
TEMP = re.compile(r"/tmp/|/var/folders/|ipykernel_\d+|\\Temp\\")


def problems(nb) -> list:
    """What a committed notebook must not show (shared with the tests)."""
    out = []
    for i, cell in enumerate(nb.cells):
        for o in cell.get("outputs", []):
            where = f"cell {i}"
            if o.get("output_type") == "stream" and o.get("name") == "stderr":
                out.append(f"{where}: stderr output (a warning?): {o.get('text', '')[:200]!r}")
            if o.get("output_type") == "error":
                out.append(f"{where}: an error output")
            data = o.get("data", {})
            if WIDGET in data:
                out.append(f"{where}: a widget view (no model in a saved notebook)")
            svg = data.get("image/svg+xml")
            if svg is not None:
                text = svg if isinstance(svg, str) else "".join(svg)
                if "<script" in text.lower():
                    out.append(f"{where}: a <script> in an SVG output")
                if "image/png" not in data:
                    out.append(f"{where}: an SVG without a PNG twin (untrusted viewers show text)")
            texts = [o.get("text", "")] + [v for k, v in data.items() if k.startswith("text/")]
            for t in texts:
                t = t if isinstance(t, str) else "".join(t)
                if TEMP.search(t):
                    out.append(f"{where}: a temporary path: {TEMP.search(t).group(0)!r}")
    if "widgets" in nb.metadata:
        out.append("notebook metadata: widget state")
    return out


def png_of(svg: str) -> str:
    import cairosvg
    return base64.b64encode(cairosvg.svg2png(bytestring=svg.encode("utf-8"))).decode("ascii")


def clean(nb) -> None:
    nb.metadata.pop("widgets", None)
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)
        for o in cell.get("outputs", []):
            data = o.get("data")
            if not data:
                continue
            data.pop(WIDGET, None)
            svg = data.get("image/svg+xml")
            if svg is not None and "image/png" not in data:
                data["image/png"] = png_of(svg if isinstance(svg, str) else "".join(svg))


def refresh(path: pathlib.Path) -> None:
    import nbformat
    from nbclient import NotebookClient
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(HERE)}}).execute()
    clean(nb)
    bad = problems(nb)
    if bad:
        sys.exit(f"{path.name}: not saved:\n  " + "\n  ".join(bad))
    nbformat.write(nb, path)
    print(f"refreshed {path.name}")


def main(argv) -> int:
    names = argv or sorted(p.name for p in HERE.glob("[0-9]*.ipynb"))
    for name in names:
        refresh(HERE / name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
