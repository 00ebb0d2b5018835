#!/bin/sh
# Bounded local load test of `fleetrules serve` (loopback only): starts the server on a free
# port with rules/ and the example inventory, drives POST /v1/telemetry with wrk for DURATION
# seconds (one request = one minute of readings for every device), then prints wrk's latency
# distribution and the server's own counts from /metrics, and stops the server.
#   scripts/serve-load.sh [BINARY] [DURATION] [CONNECTIONS]
# Needs wrk (apt-get install wrk). Numbers go to docs/PERFORMANCE.md only from a release build.
set -eu
BIN=${1:-.build/release/fleetrules}
DURATION=${2:-15}
CONNECTIONS=${3:-4}
INVENTORY=examples/fleet/inventory.csv
command -v wrk >/dev/null || { echo "wrk is not installed (apt-get install wrk)" >&2; exit 2; }
OUT=$(mktemp)
"$BIN" serve --rules rules/ --inventory "$INVENTORY" --port 0 --log-level warning >"$OUT" 2>"$OUT.err" &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; rm -f "$OUT" "$OUT.err"' EXIT
for _ in $(seq 1 100); do grep -q listening "$OUT" && break; sleep 0.1; done
PORT=$(sed -n 's/.*:\([0-9]*\)$/\1/p' "$OUT")
[ -n "$PORT" ] || { cat "$OUT.err" >&2; exit 1; }
DEVICES=$(tail -n +2 "$INVENTORY" | cut -d, -f1 | paste -sd, -)
N=$(echo "$DEVICES" | tr ',' '\n' | wc -l)
echo "server pid $PID on 127.0.0.1:$PORT; $N devices, $N readings per request; ${DURATION}s, 1 thread, $CONNECTIONS connections"
DEVICES=$DEVICES wrk -t1 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s scripts/serve-load.lua "http://127.0.0.1:$PORT" | tee "$OUT.wrk"
METRICS=$(curl -s "http://127.0.0.1:$PORT/metrics")
INGESTED=$(echo "$METRICS" | sed -n 's/^fleetrules_readings_ingested_total \([0-9]*\)$/\1/p')
REJECTED=$(echo "$METRICS" | sed -n 's/^fleetrules_readings_rejected_total{.*} \([0-9]*\)$/\1/p' | paste -sd+ - | bc)
echo "server: ingested $INGESTED readings, rejected $REJECTED"
echo "$METRICS" | grep '^fleetrules_readings_rejected_total' | grep -v ' 0$' || true
echo "$METRICS" | grep '^fleetrules_evaluation_duration_seconds_\(sum\|count\)'
curl -s "http://127.0.0.1:$PORT/v1/rules" | grep -o '"journal_[a-z_]*":[0-9.e+]*' || true
echo "sustained ingest: $(echo "$INGESTED / $DURATION" | bc) readings/s"
