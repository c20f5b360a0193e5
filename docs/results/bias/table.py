"""Tables of zoo.py files: recovered (relative error <= 1e-4) of runs per shape and family, misses listed.

Usage: ``python docs/results/bias/table.py FILE.jsonl [...]``.
"""

import json
import sys
from collections import defaultdict

THRESHOLD = 1e-4


def main(paths: list[str]) -> None:
    runs = [json.loads(line) for path in paths for line in open(path)]
    runs = [r for r in runs if not r["noise"]]
    families = list(dict.fromkeys(r["family"] for r in runs))
    cells = defaultdict(list)
    for r in runs:
        cells[(r["d"], r["k"], r["n"]), r["family"]].append(r)
    shapes = list(dict.fromkeys(key for key, _ in cells))
    print("| shape | " + " | ".join(families) + " |")
    print("| --- |" + " --- |" * len(families))
    for d, k, n in shapes:
        row = []
        for f in families:
            rs = cells[(d, k, n), f]
            ok = sum(r["relative_error"] <= THRESHOLD for r in rs)
            worst = max((r["relative_error"] for r in rs), default=0.0)
            row.append(f"{ok}/{len(rs)}" + (f" ({worst:.1e})" if ok < len(rs) else "") if rs else "")
        print(f"| d={d}, k={k} ({n:,} rows) | " + " | ".join(row) + " |")
    ok = sum(r["relative_error"] <= THRESHOLD for r in runs)
    print(f"\n{ok} of {len(runs)} recovered; worst recovered "
          f"{max((r['relative_error'] for r in runs if r['relative_error'] <= THRESHOLD), default=0):.1e}; "
          f"median seconds {sorted(r['seconds'] for r in runs)[len(runs) // 2] if runs else 0}")
    for r in runs:
        if r["relative_error"] > THRESHOLD:
            print(f"miss: {r['family']} d={r['d']} k={r['k']} seed {r['seed']}: {r['relative_error']:.2e}, "
                  f"beta {r.get('beta')}, warnings {len(r['warnings'])}")


if __name__ == "__main__":
    main(sys.argv[1:])
