#!/usr/bin/env python3
"""Drift detection by shape and magnitude: `drift_by_shape.py truth.json report.json`.

Uses the scorer's matching (docs/SIMULATOR.md): a drifting device is detected by its first
`drift` alert at or after the true onset; delay = that alert's `since` − onset. Prints, per
shape and |magnitude|, detected/total, median and 90th percentile delay (hours), which test
alarmed (evidence `test`, when the rule has a `trend`), then the overall delay quantiles.
"""
import json
import sys
from datetime import datetime


def ts(s):
    return datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def q(xs, p):
    if not xs:
        return float("nan")
    xs = sorted(xs)
    i = p * (len(xs) - 1)
    lo = int(i)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (i - lo)


truth = json.load(open(sys.argv[1]))
report = json.load(open(sys.argv[2]))
alerts = {}
for a in report["alerts"]:
    if a.get("kind") == "drift":
        alerts.setdefault(a["device"], []).append(a)
rows = {}
delays = []
for d in truth["drift"]:
    onset = ts(d["onset"])
    after = sorted((ts(a["since"]), a) for a in alerts.get(d["device"], []) if ts(a["since"]) >= onset)
    key = (d["kind"], abs(d["magnitude"]))
    r = rows.setdefault(key, {"n": 0, "delays": [], "tests": {}})
    r["n"] += 1
    if after:
        delay = (after[0][0] - onset) / 3600
        r["delays"].append(delay)
        delays.append(delay)
        test = after[0][1].get("evidence", {}).get("test", "-")
        r["tests"][test] = r["tests"].get(test, 0) + 1
print("shape magnitude detected median_h p90_h tests")
for (kind, mag), r in sorted(rows.items()):
    ds = r["delays"]
    print(f"{kind} {mag} {len(ds)}/{r['n']} {q(ds, .5):.1f} {q(ds, .9):.1f} {r['tests']}")
for kind in ("step", "ramp"):
    ds = [x for (k, _), r in rows.items() if k == kind for x in r["delays"]]
    print(f"{kind}s: median {q(ds, .5):.1f} h")
print(
    "all: n %d, p10 %.1f, p25 %.1f, median %.1f, p75 %.1f, p90 %.1f, max %.1f; within 12 h %d, within 24 h %d"
    % (len(delays), q(delays, .1), q(delays, .25), q(delays, .5), q(delays, .75), q(delays, .9),
       max(delays) if delays else float("nan"), sum(x <= 12 for x in delays), sum(x <= 24 for x in delays))
)
