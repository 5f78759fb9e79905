"""Summary of the last mutation run (``python3 dev.py mutate``), per module.

Reads mutmut's per-file results in ``mutants/`` and prints, for each
mutated module, how many mutants the tests killed, how many survived and
how many no selected test reaches; then the kill rate the README quotes:
(killed + timeout) / (killed + survived + timeout).  ``--survivors`` lists
every surviving mutant with the line it changed, grouped by kind, for review
(``.venv/bin/mutmut show NAME`` shows one in full).
"""
import ast
import difflib
import json
import re
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 36, 37, 24, -24, 152, 255}     # failures, timeouts, type-check catches
TIMEOUT = {36, 24, -24, 152, 255}


def summarise(root: Path) -> int:
    total: Counter = Counter()
    rows = []
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        c = Counter()
        for code in codes.values():
            if code is None:
                c["unchecked"] += 1
            elif code in TIMEOUT:
                c["timeout"] += 1
            elif code in KILLED:
                c["killed"] += 1
            elif code == 0:
                c["survived"] += 1
            elif code in (5, 33):
                c["no tests"] += 1
            else:
                c["other"] += 1
        if codes:
            rows.append((str(meta.relative_to(root))[:-5], c))
            total.update(c)
    if not rows:
        print("no mutation results in mutants/: run python3 dev.py mutate")
        return 1
    print(f"{'module':38} {'killed':>7} {'timeout':>7} {'survived':>8} {'no tests':>8}")
    for name, c in rows + [("total", total)]:
        print(f"{name:38} {c['killed']:7} {c['timeout']:7} {c['survived']:8} {c['no tests']:8}")
    tested = total["killed"] + total["timeout"] + total["survived"]
    rate = (total["killed"] + total["timeout"]) / tested if tested else 0.0
    print(f"kill rate: {rate:.1%} of {tested} mutants that a selected test reaches "
          f"({total['no tests']} reached by none)")
    return 0


def _functions(path: Path) -> dict:
    """Source of every function in a mutated module, by name (methods too)."""
    text = path.read_text()
    lines = text.splitlines()
    return {node.name: "\n".join(lines[node.lineno - 1:node.end_lineno or node.lineno])
            for node in ast.walk(ast.parse(text))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}


def changed_line(funcs: dict, key: str) -> str:
    """The line a mutant changed, as ``- old`` / ``+ new``."""
    name = key.rsplit(".", 1)[-1]
    orig = funcs.get(re.sub(r"__mutmut_\d+$", "__mutmut_orig", name), "").splitlines()
    mutant = funcs.get(name, "").splitlines()
    diff = [d for d in difflib.unified_diff(orig[1:], mutant[1:], lineterm="", n=0)
            if d[:1] in "+-" and d[:3] not in ("+++", "---")]
    return " | ".join(d.strip() for d in diff[:2])


def kind_of(change: str) -> str:
    """A rough category, for reviewing survivors in bulk."""
    if "XX" in change or re.search(r"\.(upper|lower)\(\)", change):
        return "message text"
    if "None" in change.split("|")[-1] and "None" not in change.split("|")[0]:
        return "argument or value replaced by None"
    if re.search(r"[-+] .*\b\d+\b", change):
        return "number"
    return "logic"


def survivors(root: Path) -> None:
    """Every surviving mutant with the line it changed, grouped by kind."""
    groups: dict = {}
    for meta in sorted(root.rglob("*.py.meta")):
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        funcs = _functions(meta.with_suffix(""))
        for key, code in sorted(codes.items()):
            if code == 0:
                change = changed_line(funcs, key)
                groups.setdefault(kind_of(change), []).append((key, change))
    for kind, items in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        print(f"\n## {kind}: {len(items)}")
        for key, change in items:
            print(f"{key}\n    {change}")


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--survivors"]
    root = Path(args[0] if args else "mutants")
    if "--survivors" in sys.argv:
        survivors(root)
        sys.exit(0)
    sys.exit(summarise(root))
