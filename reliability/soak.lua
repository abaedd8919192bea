-- wrk script for the soak: cycles through a mix of requests (embedded and daemon mounts of the
-- suite's apps).  Prints one JSON line: requests, non-2xx responses, socket errors, p99.
-- (wrk's main thread sleeps for the whole -d duration whatever a thread does, so segments
-- are bounded by time and the Python side counts requests.)
local mix = {
  {"GET", "/e/hello"}, {"GET", "/d/hello"}, {"GET", "/e/env"}, {"GET", "/d/env"},
  {"POST", "/e/echo", string.rep("p", 2048)}, {"POST", "/d/echo", string.rep("q", 2048)},
  {"GET", "/e/big?size=65536"}, {"GET", "/d/big?size=32768"},
  {"GET", "/pe/env"}, {"GET", "/pd/env"}, {"GET", "/pd/counter"}, {"GET", "/e/stream?n=8&size=4096&delay=0"},
}
local reqs = {}
local sent = 0

function init(args)
  for i, m in ipairs(mix) do
    local headers = {}
    if m[3] then headers["Content-Type"] = "application/octet-stream" end
    reqs[i] = wrk.format(m[1], m[2], headers, m[3])
  end
end

function request()
  sent = sent + 1
  return reqs[(sent % #reqs) + 1]
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "non_2xx": %d, "connect": %d, "read": %d, "write": %d, ' ..
                         '"timeout": %d, "duration_us": %d, "p99_us": %d}\n',
                         summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
                         summary.duration, latency:percentile(99)))
end
