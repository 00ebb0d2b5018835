#!/bin/sh
# Publishes example readings the way devices and gateways do (QoS 1), for a server started as
#   fleetrules serve --rules rules/ --inventory examples/fleet/inventory.csv \
#     --mqtt mqtt://127.0.0.1:1883 --mqtt-topic 'fleet/{site}/{device}/telemetry' --mqtt-topic 'gateways/+/bulk'
# Usage: examples/mqtt/publish.sh [HOST] [PORT]
set -e
HOST=${1:-127.0.0.1}
PORT=${2:-1883}
PUB="mosquitto_pub -h $HOST -p $PORT -q 1"
# One reading; the device comes from the topic.
$PUB -t fleet/plant-a/d-00001/telemetry -m '{"ts":"2026-03-01T00:00:00Z","temperature":-20.5,"battery_pct":68}'
# A gateway's batch as a JSON array.
$PUB -t gateways/plant-b-gw1/bulk -m '[{"ts":"2026-03-01T00:00:00Z","device":"d-00002","temperature":19.7},
 {"ts":"2026-03-01T00:00:00Z","device":"d-00003","temperature":-21.2}]'
# A file of JSON Lines, one message per line.
printf '%s\n' '{"ts":"2026-03-01T00:05:00Z","device":"d-00002","temperature":19.8}' \
  '{"ts":"2026-03-01T00:05:00Z","device":"d-00003","temperature":-21.1}' | $PUB -t gateways/plant-b-gw1/bulk -l
# Rejected with a reason, like `fleetrules run` would: an unknown device.
$PUB -t fleet/plant-a/ghost/telemetry -m '{"ts":"2026-03-01T00:05:00Z","temperature":20}'
