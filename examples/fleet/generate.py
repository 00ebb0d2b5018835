#!/usr/bin/env python3
"""Generates the small example fleet committed beside this script (deterministic, seed 7).

56 sensors and 10 gateways on four sites (the sites, zones and types the packs in rules/ name),
3 days of readings every 5 minutes, with problems planted in it: batteries running low (one
fast), a humidity excursion in a critical plant, a cold store warming up, a machine shaking, a
gateway going silent with the devices behind it, a sensor drifting, outdated and denied
firmware, and a handful of bad lines (malformed JSON, unknown device, out-of-range value, a
late reading, a missing timestamp). The rules in rules/ find them.

    python3 examples/fleet/generate.py   # rewrites inventory.csv and telemetry.jsonl.gz
"""
import gzip
import json
import math
import pathlib
import random

HERE = pathlib.Path(__file__).parent
START = 1772323200  # 2026-03-01T00:00:00Z
STEP = 300
DAYS = 3
rng = random.Random(7)

SITES = {
    "plant-a": ["assembly", "cold-store-1"],
    "plant-b": ["warehouse", "packing"],
    "plant-c": ["press-line", "warehouse"],
    "site-north": ["yard"],
}
TYPES = ["temp-sensor", "temp-sensor", "vibration-sensor", "tracker"]
FIRMWARE = {"temp-sensor": "2.4.3", "vibration-sensor": "1.9.0", "tracker": "3.1.2", "gateway": "5.2.0"}


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


devices = []
n = 0
for site, zones in SITES.items():
    gateways = [f"{site}-gw{i}" for i in ((1,) if site == "site-north" else (1, 2, 3))]
    for gw in gateways:
        devices.append({
            "device": gw, "type": "gateway", "site": site, "zone": zones[0], "gateway": gw, "reachable": gw,
            "firmware": FIRMWARE["gateway"], "criticality": "high", "power": "mains",
        })
    for zone in zones:
        for k in range(8):
            n += 1
            dtype = TYPES[k % 4]
            gw = gateways[(k + (zone == zones[-1])) % len(gateways)]
            # Most of plant-a's devices sit behind gw1: its gateway load is imbalanced on purpose.
            if site == "plant-a" and k < 6:
                gw = gateways[0]
            reachable = "|".join(sorted({gw, gateways[(gateways.index(gw) + 1) % len(gateways)]}))
            devices.append({
                "device": f"d-{n:04d}", "type": dtype, "site": site, "zone": zone, "gateway": gw,
                "reachable": reachable, "firmware": FIRMWARE[dtype],
                "criticality": ["high", "medium", "low"][k % 3],
                "power": "mains" if dtype == "vibration-sensor" and k % 2 else "battery",
            })

by_id = {d["device"]: d for d in devices}
# Planted problems.
by_id["d-0002"]["firmware"] = "2.4.0"      # outdated temp-sensor
by_id["d-0005"]["firmware"] = "2.4.2"      # denied temp-sensor (advisory)
by_id["d-0011"]["firmware"] = "1.8.1"      # denied vibration-sensor
battery_start = {d["device"]: rng.uniform(60, 100) for d in devices}
battery_start["d-0001"] = 24.0             # crosses 20% on day 2: battery-low
battery_start["d-0018"] = 40.0             # fast drain: battery-fast-drain, then battery-low
battery_drain = {d["device"]: rng.uniform(0.3, 1.2) for d in devices}   # % per day
battery_drain["d-0001"] = 3.0
battery_drain["d-0018"] = 11.0
drifting = "d-0033"                        # temperature creeps up 0.1 °C per hour from day 2
silent_gateway = "plant-c-gw2"             # it and the devices behind it stop at day 2, 06:00
humid_zone = ("plant-c", "press-line")     # humidity 78-85% on day 2, 10:00-14:00
warm_cold_store = "d-0010"                 # cold store probe warms to -12 °C on day 2, 15:00-16:30
shaking = "d-0035"                         # vibration 5 g on day 3, 08:00-09:00

with open(HERE / "inventory.csv", "w") as f:
    cols = ["device", "type", "site", "zone", "gateway", "reachable", "firmware", "criticality", "power"]
    f.write(",".join(cols) + "\n")
    for d in devices:
        f.write(",".join(d[c] for c in cols) + "\n")

lines = []
steps = DAYS * 86400 // STEP
for s in range(steps):
    t = START + s * STEP
    hours = (t - START) / 3600
    daily = math.sin((hours % 24) / 24 * 2 * math.pi - math.pi / 2)
    for d in devices:
        if d["gateway"] == silent_gateway and hours >= 30:
            continue
        rec = {"ts": iso(t), "device": d["device"], "gateway": d["gateway"]}
        if d["type"] == "gateway":
            rec["rssi"] = round(rng.gauss(-60, 3))
            if s % 72 == 0:
                rec["firmware"] = d["firmware"]
            lines.append(json.dumps(rec, separators=(",", ":")))
            continue
        if d["power"] == "battery":
            level = battery_start[d["device"]] - battery_drain[d["device"]] * hours / 24
            rec["battery_pct"] = round(max(0.0, level + rng.gauss(0, 0.2)), 1)
        base = -20.0 if d["zone"].startswith("cold-store") else 21.0
        temp = base + 1.5 * daily + rng.gauss(0, 0.15)
        if d["device"] == drifting and hours > 24:
            temp += 0.1 * (hours - 24)
        if d["device"] == warm_cold_store and 39 <= hours < 40.5:
            temp = -12 + rng.gauss(0, 0.3)
        humidity = 45 + 5 * daily + rng.gauss(0, 1)
        if (d["site"], d["zone"]) == humid_zone and 34 <= hours < 38:
            humidity = rng.uniform(78, 85)
        if d["type"] in ("temp-sensor", "tracker"):
            rec["temperature"] = round(temp, 2)
            rec["humidity"] = round(humidity, 1)
        if d["type"] == "vibration-sensor":
            vib = abs(rng.gauss(0.4, 0.05))
            if d["device"] == shaking and 56 <= hours < 57:
                vib = rng.uniform(4.5, 5.5)
            rec["vibration_rms"] = round(vib, 3)
            rec["temperature"] = round(temp + (2 if d["zone"].startswith("cold-store") else 8), 2)
        rec["rssi"] = round(rng.gauss(-70, 4))
        if s % 72 == 0:
            rec["firmware"] = d["firmware"]
        lines.append(json.dumps(rec, separators=(",", ":")))

# Bad input, each counted under its own reason in the report.
def ts_at(i):
    return json.loads(lines[i])["ts"]


# Inserted from the end so earlier positions stay valid; each takes the time of its neighbour.
lines.insert(5000, '{"device":"d-0007","temperature":21}')
lines.insert(4000, '{"ts":"2026-03-01T00:10:00Z","device":"d-0006","temperature":21}')
lines.insert(3000, '{"ts":"%s","device":"d-0005","humidity":140}' % ts_at(3000))
lines.insert(2000, '{"ts":"%s","device":"d-9999","battery_pct":50}' % ts_at(2000))
lines.insert(1000, '{"ts":"%s","device":"d-0001","battery_pct":' % ts_at(1000))

with gzip.GzipFile(HERE / "telemetry.jsonl.gz", "wb", mtime=0) as f:
    f.write(("\n".join(lines) + "\n").encode())
print(f"{len(devices)} devices, {len(lines)} lines")
