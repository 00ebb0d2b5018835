-- wrk script for scripts/serve-load.sh: every request is one minute of readings for every
-- device of the inventory (ids from DEVICES, comma-separated), minutes advancing per request
-- so event time moves forward as in a live feed.
local devices = {}
for id in string.gmatch(os.getenv("DEVICES") or "", "[^,]+") do devices[#devices + 1] = id end
local base = 1772323200 -- 2026-03-01T00:00:00Z
local minute = 0

request = function()
  local ts = os.date("!%Y-%m-%dT%H:%M:%SZ", base + minute * 60)
  minute = minute + 1
  local lines = {}
  for i, id in ipairs(devices) do
    local battery = 90 - (minute % 5000) / 100 - (i % 7)
    lines[i] = string.format('{"ts":"%s","device":"%s","battery_pct":%.1f,"temperature":%.2f,"humidity":%.1f,"rssi":%d}',
      ts, id, battery, 18 + (i % 5) + math.sin(minute / 60), 40 + (i % 9), -60 - (i % 30))
  end
  return wrk.format("POST", "/v1/telemetry", {["Content-Type"] = "application/x-ndjson"}, table.concat(lines, "\n") .. "\n")
end
