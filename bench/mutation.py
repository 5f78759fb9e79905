"""Summary of the last mutation run (``python3 dev.py mutate``), per module.

Reads mutmut's per-file results in ``mutants/`` and prints, for each
mutated module, how many mutants the tests killed, how many survived and
how many no selected test reaches; then the kill rate the README quotes:
killed / (killed + survived + timeout).  Survivors are listed by
``.venv/bin/mutmut results`` and shown with ``mutmut show NAME``.
"""
import json
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


if __name__ == "__main__":
    sys.exit(summarise(Path(sys.argv[1] if len(sys.argv) > 1 else "mutants")))
