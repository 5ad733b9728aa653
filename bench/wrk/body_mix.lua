-- wrk script: POSTs the bodies of a query-mix file in turn, on keep-alive
-- connections (wrk's default), to one taskdex endpoint.
--
--   wrk -t1 -c8 -d20s --latency -s bench/wrk/body_mix.lua \
--       http://127.0.0.1:4200 -- /tmp/taskdex-1m.queries.jsonl /api/task_runs/paginate
--
-- Arguments (after --): the query file (default /tmp/taskdex-1m.queries.jsonl)
-- and the path (default /api/task_runs/paginate). Each line of the file is
-- either {"name": ..., "body": {...}} (taskdex generate --queries) or a bare
-- JSON body. Each wrk thread starts at a different offset in the mix.
-- paginate_mix.lua, count_mix.lua and filter_mix.lua fix the path.

local bodies = {}
local path = "/api/task_runs/paginate"
local index = 0
local thread_counter = 0

local function load(file)
  local out = {}
  for line in io.lines(file) do
    if line:match("%S") then
      -- {"name":"...","body":{...}}: the body is everything after "body":
      -- up to the closing brace of the line.
      local body = line:match('^%s*{%s*"name"%s*:%s*".-"%s*,%s*"body"%s*:%s*(.*)}%s*$')
      out[#out + 1] = body or line
    end
  end
  return out
end

function setup(thread)
  thread_counter = thread_counter + 1
  thread:set("thread_id", thread_counter)
end

function init(args)
  local file = args[1] or "/tmp/taskdex-1m.queries.jsonl"
  path = args[2] or default_path or path
  bodies = load(file)
  if #bodies == 0 then error("no bodies in " .. file) end
  index = ((thread_id or 1) - 1) % #bodies
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  index = index % #bodies + 1
  return wrk.format("POST", path, nil, bodies[index])
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
