-- wrk script: GET /api/health (the server's floor: routing, logging, no
-- engine work), keep-alive.
--   wrk -t1 -c8 -d20s --latency -s bench/wrk/health.lua http://127.0.0.1:4200
function request()
  return wrk.format("GET", "/api/health")
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
