-- wrk script: POST one fixed body with basic auth, count every answer, print the result as JSON.
-- Environment: BENCH_BODY_FILE (the body), BENCH_AUTH (the Authorization value), BENCH_PATH,
-- BENCH_IDS_FILE (where to write the capture id of every 200, taken from our answer's JSON).
-- wrk stops at its deadline without waiting for the requests in flight, so `sent` - `ok` - `other`
-- is how many the server may have taken without wrk seeing the answer.

local threads = {}

function setup(thread)
   table.insert(threads, thread)
end

function init(args)
   local file = assert(io.open(os.getenv("BENCH_BODY_FILE"), "rb"))
   local body = file:read("*a")
   file:close()
   sent, ok, other, ids = 0, 0, 0, {}
   req = wrk.format("POST", os.getenv("BENCH_PATH") or "/webhook", {
      ["Content-Type"] = "application/x-www-form-urlencoded",
      ["Authorization"] = os.getenv("BENCH_AUTH"),
   }, body)
end

function request()
   sent = sent + 1
   return req
end

function response(status, headers, body)
   if status == 200 then
      ok = ok + 1
      local id = body:match('"id":"(%w+)"')
      if id then ids[#ids + 1] = id end
   else
      other = other + 1
   end
end

local function write_ids()
   local path = os.getenv("BENCH_IDS_FILE")
   if not path then return end
   local file = assert(io.open(path, "w"))
   for _, thread in ipairs(threads) do
      for _, id in ipairs(thread:get("ids")) do file:write(id, "\n") end
   end
   file:close()
end

function done(summary, latency, requests)
   local s, o, n = 0, 0, 0
   for _, thread in ipairs(threads) do
      s = s + thread:get("sent")
      o = o + thread:get("ok")
      n = n + thread:get("other")
   end
   write_ids()
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"responses":%d,"duration_us":%d,"sent":%d,"ok":%d,"other":%d,' ..
      '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
      '"latency_us":{"p50":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
      summary.requests, summary.duration, s, o, n,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.mean, latency.max))
end
