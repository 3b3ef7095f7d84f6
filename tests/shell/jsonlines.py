"""jsonlines.py FILE: checks that every line of a weft log is one JSON
record with time (ISO 8601 UTC, ms), level, origin and msg; prints how
many records of each level, or the first bad line and exits 1."""
import json
import re
import sys

WHEN = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
LEVELS = {"error", "warning", "info", "debug"}
counts = {}
with open(sys.argv[1], "rb") as f:
    for n, raw in enumerate(f, 1):
        try:
            rec = json.loads(raw)
            ok = (isinstance(rec, dict) and set(rec) == {"time", "level", "origin", "msg"}
                  and WHEN.match(rec["time"]) and rec["level"] in LEVELS
                  and isinstance(rec["origin"], str) and isinstance(rec["msg"], str))
        except ValueError as e:
            ok, rec = False, e
        if not ok:
            print(f"line {n} is not a record: {raw[:200]!r} ({rec})")
            sys.exit(1)
        counts[rec["level"]] = counts.get(rec["level"], 0) + 1
if not counts:
    print("no records at all")
    sys.exit(1)
print(", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
