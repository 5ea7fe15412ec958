"""same_events.py MIEN.json PEER.json: both answers to GET /api/v1/events?limit=50 hold the same events with the
same fields and values (floats within float32 precision: mien keeps them as float, SQLite as double).
Exits 1 with the first difference otherwise."""
import json
import math
import sys


def same(a, b, where):
    if isinstance(a, float) or isinstance(b, float):
        if not (isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-7)):
            sys.exit(f"same_events: {where}: {a!r} != {b!r}")
        return
    if isinstance(a, dict) and isinstance(b, dict):
        if sorted(a) != sorted(b):
            sys.exit(f"same_events: {where}: keys {sorted(a)} != {sorted(b)}")
        for k in a:
            same(a[k], b[k], f"{where}.{k}")
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            sys.exit(f"same_events: {where}: {len(a)} items != {len(b)}")
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, f"{where}[{i}]")
        return
    if a != b or type(a) is not type(b):
        sys.exit(f"same_events: {where}: {a!r} != {b!r}")


mien, peer = (json.load(open(p)) for p in sys.argv[1:3])
same(mien, peer, "$")
if len(mien["items"]) != 50:
    sys.exit(f"same_events: {len(mien['items'])} items, expected 50")
known = sum(1 for e in mien["items"] if e["person"])
print(f"same_events: mien and the peer answer the same 50 events ({known} known, {50 - known} unknown faces)")
