#!/usr/bin/env python3
"""Per-body latency of POST /api/task_runs/paginate through a running server.

  paginate_latency.py URL QUERIES [--repeat N] [--json]

URL is the server's base (http://127.0.0.1:4300), QUERIES a
`taskdex generate --queries` file ({"name": ..., "body": ...} a line). Each
body is sent --repeat times (default 9) over one keep-alive connection,
round-robin over the bodies so that no body runs only against a warm
cache; a first untimed round warms the connection. Prints, per body, the
median and the maximum in microseconds, then the median over bodies of the
per-body medians; with --json one object a line. A non-200 answer stops it
with the body's name (exit 1).

The time is the client's: request written to answer read, Python's
http.client on the same machine (about 60-100 us of it is the client), so it
is an upper bound of the server's own time. Used for issue 12's proxy
target: run the server with --upstream so the proxy is on.
"""

import argparse
import http.client
import json
import statistics
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("queries")
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    u = urllib.parse.urlparse(args.url)
    conn = http.client.HTTPConnection(u.hostname, u.port or 80, timeout=60)
    bodies = []
    with open(args.queries) as f:
        for line in f:
            if line.strip():
                q = json.loads(line)
                bodies.append((q["name"], json.dumps(q["body"]).encode()))
    times = {name: [] for name, _ in bodies}
    headers = {"Content-Type": "application/json"}
    for rnd in range(args.repeat + 1):
        for name, body in bodies:
            start = time.perf_counter()
            conn.request("POST", "/api/task_runs/paginate", body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            us = (time.perf_counter() - start) * 1e6
            if resp.status != 200:
                print(f"{name}: HTTP {resp.status}: {data[:200]!r}", file=sys.stderr)
                return 1
            if rnd > 0:
                times[name].append(us)
    medians = []
    for name, _ in bodies:
        t = times[name]
        med = statistics.median(t)
        medians.append(med)
        if args.json:
            print(json.dumps({"name": name, "p50_us": round(med, 1), "max_us": round(max(t), 1)}))
        else:
            print(f"{name:48s} p50 {med:10.1f} us  max {max(t):10.1f} us")
    overall = statistics.median(medians)
    if args.json:
        print(json.dumps({"bodies": len(bodies), "median_of_p50_us": round(overall, 1)}))
    else:
        print(f"{len(bodies)} bodies, median of per-body p50: {overall:.1f} us")
    return 0


if __name__ == "__main__":
    sys.exit(main())
