-- wrk script for bench/sms.py: POSTs pre-signed Twilio SMS webhooks read from a file.
-- Arguments after "--": FILE OFFSET COUNT MODE
--   FILE    lines "X-Twilio-Signature<TAB>form body", written by bench/sms.py
--   OFFSET  byte offset of the first line to send; COUNT lines from there are available
--   MODE    once: each line at most once, then the thread stops (a replay would measure the
--           duplicate path); cycle: start over at OFFSET (the bare baseline, duplicates)
-- Use with -t1: a single thread reads the file. done() prints one JSON line starting with
-- "WRK_RESULT ", with how many lines were consumed (sent) and replayed after running out.

local threads = {}
local file, offset, count, cycle = nil, 0, 0, false
consumed, replayed = 0, 0 -- globals: done() reads them with thread:get()
local used = 0
local last = nil

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  file = assert(io.open(args[1], "rb"))
  offset, count, cycle = tonumber(args[2]), tonumber(args[3]), args[4] == "cycle"
  file:seek("set", offset)
end

local function next_line()
  if used >= count then
    if not cycle then
      return nil
    end
    file:seek("set", offset)
    used = 0
  end
  used = used + 1
  return file:read("*l")
end

function request()
  if file == nil then -- wrk's own check of the request, before init()
    return wrk.format("POST", nil, { ["Content-Type"] = "application/x-www-form-urlencoded" }, "x=1")
  end
  local line = next_line()
  if line == nil then
    replayed = replayed + 1
    wrk.thread:stop()
    return last
  end
  consumed = consumed + 1
  local tab = line:find("\t", 1, true)
  last = wrk.format("POST", nil, {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = line:sub(1, tab - 1),
  }, line:sub(tab + 1))
  return last
end

function done(summary, latency, requests)
  local sent, again = 0, 0
  for _, thread in ipairs(threads) do
    sent = sent + tonumber(thread:get("consumed"))
    again = again + tonumber(thread:get("replayed"))
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_RESULT {"requests":%d,"duration_us":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"timeouts":%d,"non_2xx":%d,"lat_p50_us":%d,"lat_p99_us":%d,' ..
    '"lat_max_us":%d,"consumed":%d,"replayed":%d}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max, sent, again))
end
