#!/bin/sh
# Sustained MQTT ingest through Mosquitto on loopback (docs/PERFORMANCE.md, "MQTT ingest"):
# starts a broker on a free port, `fleetrules serve --mqtt` subscribed to it, publishes the
# example fleet's readings one per message at QoS 1 with `mosquitto_pub -l` (ROUNDS times over,
# each round shifted by three days so every reading is new), and prints messages per second from
# the first publish to the last reading ingested.
# Usage: scripts/mqtt-bench.sh [BINARY] [ROUNDS]
set -eu
BIN=${1:-.build/release/fleetrules}
ROUNDS=${2:-4}
MOSQUITTO=$(command -v mosquitto || echo /usr/sbin/mosquitto)
DIR=$(mktemp -d)
chmod 777 "$DIR"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
printf 'listener %s 127.0.0.1\nallow_anonymous true\nmax_inflight_messages 1000\nmax_queued_messages 0\n' "$PORT" > "$DIR/m.conf"
"$MOSQUITTO" -c "$DIR/m.conf" > "$DIR/broker.log" 2>&1 &
BROKER=$!
"$BIN" serve --rules rules/ --inventory examples/fleet/inventory.csv --port 0 \
  --mqtt "mqtt://127.0.0.1:$PORT" --mqtt-topic 'fleet/+/telemetry' --mqtt-client-id "bench-$$" > "$DIR/serve.out" 2> "$DIR/serve.err" &
SERVE=$!
trap 'kill $SERVE $BROKER 2>/dev/null; rm -rf "$DIR"' EXIT
HTTP=
for _ in $(seq 1 600); do
  HTTP=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$DIR/serve.out")
  [ -n "$HTTP" ] && curl -s "http://127.0.0.1:$HTTP/readyz" | grep -q '"state":"connected"' && break
  sleep 0.1
done
[ -n "$HTTP" ] || { echo "serve did not start:"; cat "$DIR/serve.err"; exit 1; }
python3 - "$ROUNDS" > "$DIR/lines.jsonl" <<'PY'
import gzip, sys, json, datetime
lines = gzip.open("examples/fleet/telemetry.jsonl.gz", "rt").read().splitlines()
for r in range(int(sys.argv[1])):
    for l in lines:
        try:
            d = json.loads(l)
        except ValueError:
            continue
        t = datetime.datetime.fromisoformat(d["ts"].replace("Z", "+00:00")) + datetime.timedelta(days=3 * r)
        d["ts"] = t.strftime("%Y-%m-%dT%H:%M:%SZ")
        print(json.dumps(d, separators=(",", ":")))
PY
N=$(wc -l < "$DIR/lines.jsonl")
START=$(date +%s.%N)
mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t fleet/bench/telemetry -l < "$DIR/lines.jsonl"
PUBLISHED=$(date +%s.%N)
while :; do
  GOT=$(curl -s "http://127.0.0.1:$HTTP/metrics" | sed -n 's/^fleetrules_mqtt_messages_total{outcome="ingested"} //p')
  [ "${GOT%.*}" -ge "$N" ] 2>/dev/null && break
  sleep 0.05
done
END=$(date +%s.%N)
python3 -c "
n=$N; s=$START; p=$PUBLISHED; e=$END
print(f'{n} messages (one reading each, QoS 1): published in {p-s:.2f} s, ingested in {e-s:.2f} s: {n/(e-s):,.0f} messages/s')"
curl -s "http://127.0.0.1:$HTTP/readyz"; echo
