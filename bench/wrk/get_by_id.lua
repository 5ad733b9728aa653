-- wrk script: GET /api/task_runs/{id} for the ids of a file (one per line),
-- in turn, keep-alive.
--   wrk -t1 -c8 -d20s --latency -s bench/wrk/get_by_id.lua http://127.0.0.1:4200 \
--       -- /tmp/taskdex-1m.ids
-- Make the id file from a snapshot, e.g. 1,000 ids spread over the file:
--   awk 'NR % 1000 == 1' /tmp/taskdex-1m/task_runs.ndjson \
--     | grep -o '^{"id":"[^"]*"' | cut -d'"' -f4 > /tmp/taskdex-1m.ids
local ids = {}
local index = 0
local thread_counter = 0

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

function init(args)
  local file = args[1] or "/tmp/taskdex-1m.ids"
  for line in io.lines(file) do
    local id = line:match("^%s*([%x-]+)%s*$")
    if id then ids[#ids + 1] = id end
  end
  if #ids == 0 then error("no ids in " .. file) end
  index = ((thread_id or 1) - 1) * 97 % #ids
end

function request()
  index = index % #ids + 1
  return wrk.format("GET", "/api/task_runs/" .. ids[index])
end

function done(summary, latency, requests)
  io.write(string.format(
    "summary: requests=%d duration_s=%.2f req_per_s=%.0f errors(connect=%d read=%d write=%d status=%d timeout=%d)\n",
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.status, summary.errors.timeout))
  io.write(string.format("latency_us: p50=%d p90=%d p99=%d p99.9=%d max=%d mean=%.0f\n",
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean))
end
