#!/usr/bin/env python3
"""Times DuckDB's read_json on the same synthetic telemetry `fleetrules bench` decodes, for comparison.

    pip install duckdb
    ../.build/release/fleetrules bench --write-telemetry /tmp/bench.jsonl
    python3 duckdb_compare.py /tmp/bench.jsonl
"""
import sys
import time

import duckdb

path = sys.argv[1]
con = duckdb.connect()
con.execute("SET threads TO 1")
for attempt in range(3):
    start = time.perf_counter()
    rows = con.execute(f"SELECT count(*), avg(battery_pct) FROM read_json('{path}', format='newline_delimited')").fetchone()
    elapsed = time.perf_counter() - start
    print(f"duckdb read_json (1 thread): {rows[0]} rows in {elapsed:.3f} s = {rows[0] / elapsed / 1e6:.2f} M rows/s")
