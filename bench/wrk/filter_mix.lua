-- wrk script: the query mix against POST /api/task_runs/filter, keep-alive.
--   wrk -t1 -c8 -d20s --latency -s bench/wrk/filter_mix.lua http://127.0.0.1:4200 \
--       -- /tmp/taskdex-1m.queries.jsonl
-- (Top-level keys an endpoint does not take, such as "page" for /filter or
-- "sort" for /count, are ignored by Prefect and taskdex alike.)
default_path = "/api/task_runs/filter"
local dir = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(dir .. "body_mix.lua")
