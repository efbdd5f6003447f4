-- wrk script for bench/webhook_bench.py: every request is a distinct, pre-signed WeChat message.
--
--   wrk ... -s bench/webhook_bench.lua URL -- DIR EXPECT
--
-- Thread n (1-based) cycles through DIR/reqs-n.txt, one request a line: "TARGET<TAB>BODY"
-- (the target is the path with its signed query string). Every response must be 200 with
-- EXPECT in its body; the others are counted. done() prints one line "WRKRESULT k=v ..." with
-- the counts, the wraps (a thread that ran out of requests and started again, i.e. repeated
-- MsgIds) and the latency percentiles in microseconds.

local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  local dir = args[1]
  expect = args[2] or ""
  local headers = {
    ["Host"] = wrk.host .. ":" .. wrk.port,
    ["Content-Type"] = "text/xml; charset=utf-8",
  }
  reqs = {}
  for line in io.lines(dir .. "/reqs-" .. id .. ".txt") do
    local tab = string.find(line, "\t", 1, true)
    local target, body = string.sub(line, 1, tab - 1), string.sub(line, tab + 1)
    reqs[#reqs + 1] = wrk.format("POST", target, headers, body)
  end
  count = #reqs
  index = 0
  wraps = 0
  responses = 0
  bad_status = 0
  bad_body = 0
  first_bad = ""
end

function request()
  index = index + 1
  if index > count then
    index = 1
    wraps = wraps + 1
  end
  return reqs[index]
end

function response(status, headers, body)
  responses = responses + 1
  if status ~= 200 then
    bad_status = bad_status + 1
  elseif expect ~= "" and not string.find(body, expect, 1, true) then
    bad_body = bad_body + 1
  else
    return
  end
  if first_bad == "" then
    first_bad = status .. " " .. string.gsub(string.sub(body or "", 1, 200), "%s", " ")
  end
end

function done(summary, latency, requests)
  local w, r, bs, bb, bad = 0, 0, 0, 0, ""
  for _, t in ipairs(threads) do
    w = w + t:get("wraps")
    r = r + t:get("responses")
    bs = bs + t:get("bad_status")
    bb = bb + t:get("bad_body")
    if bad == "" then
      bad = t:get("first_bad")
    end
  end
  local e = summary.errors
  io.write(string.format(
    "WRKRESULT requests=%.0f duration_us=%.0f bytes=%.0f responses=%.0f bad_status=%.0f "
      .. "bad_body=%.0f wraps=%.0f connect=%.0f read=%.0f write=%.0f status=%.0f timeout=%.0f "
      .. "mean=%.1f p50=%.1f p90=%.1f p99=%.1f max=%.1f\n",
    summary.requests, summary.duration, summary.bytes, r, bs, bb, w, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max
  ))
  io.write("WRKFIRSTBAD " .. bad .. "\n")
end
