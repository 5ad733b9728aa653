#!/usr/bin/env python3
"""Hostile and idle HTTP clients for the serve hardening benchmark (issue 11).

  slow_clients.py PORT slowloris N [--interval S] [--seconds T]
      N connections each send the start of a request head, then one byte
      every S seconds (default 2), forever; a connection the server closes
      is reopened at once. Prints how many were closed by the server.
  slow_clients.py PORT idle N [--refresh S] [--seconds T]
      N keep-alive connections, each sending GET /api/health every S
      seconds (default 4, under the server's 5 s keep-alive timeout) and
      idle in between. Prints answers, errors and reconnects.
  slow_clients.py PORT load N [--seconds T] [--body FILE]
      N connections sending POST /api/task_runs/paginate back to back
      (bodies from FILE, one JSON per line) until the server goes away;
      prints complete answers and cut answers (a partial answer is a
      failure of graceful stop), as JSON on the last line.

Runs until --seconds pass (default: until killed). Loopback only.
"""

import argparse
import asyncio
import json
import sys

HOST = "127.0.0.1"


async def slowloris(port, n, interval, seconds):
    closed = 0

    async def one():
        nonlocal closed
        while True:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                writer.write(b"POST /api/task_runs/paginate HTTP/1.1\r\nHost: x\r\n")
                await writer.drain()
                while True:
                    await asyncio.sleep(interval)
                    writer.write(b"X")
                    await writer.drain()
                    if reader.at_eof():
                        raise ConnectionError
            except (OSError, ConnectionError):
                closed += 1
                await asyncio.sleep(0.05)

    tasks = [asyncio.create_task(one()) for _ in range(n)]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    print(json.dumps({"mode": "slowloris", "connections": n, "closed_by_server": closed}))


async def read_response(reader):
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    body = await reader.readexactly(length)
    return head, body


async def idle(port, n, refresh, seconds):
    stats = {"answers": 0, "errors": 0, "reconnects": 0}

    async def one(i):
        await asyncio.sleep(refresh * i / n)  # spread the refreshes
        while True:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
                while True:
                    writer.write(b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n")
                    await writer.drain()
                    await read_response(reader)
                    stats["answers"] += 1
                    await asyncio.sleep(refresh)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                stats["errors"] += 1
                stats["reconnects"] += 1
                await asyncio.sleep(0.1)

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    await asyncio.sleep(seconds)
    for t in tasks:
        t.cancel()
    print(json.dumps({"mode": "idle", "connections": n, **stats}))


async def load(port, n, seconds, bodies):
    stats = {"complete": 0, "cut": 0, "refused_or_closed_before_answer": 0}

    async def one(i):
        k = i
        while True:
            try:
                reader, writer = await asyncio.open_connection(HOST, port)
            except OSError:
                stats["refused_or_closed_before_answer"] += 1
                return  # the server is gone
            while True:
                body = bodies[k % len(bodies)]
                k += n
                writer.write(b"POST /api/task_runs/paginate HTTP/1.1\r\nHost: x\r\n"
                             b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                             % len(body) + body)
                try:
                    await writer.drain()
                    head = await reader.readuntil(b"\r\n\r\n")
                except (OSError, asyncio.IncompleteReadError) as e:
                    partial = getattr(e, "partial", b"")
                    if partial:
                        stats["cut"] += 1
                    else:
                        stats["refused_or_closed_before_answer"] += 1
                    break
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                try:
                    await reader.readexactly(length)
                except (OSError, asyncio.IncompleteReadError):
                    stats["cut"] += 1
                    break
                stats["complete"] += 1
                if b"connection: close" in head.lower():
                    break
            writer.close()

    tasks = [asyncio.create_task(one(i)) for i in range(n)]
    done, pending = await asyncio.wait(tasks, timeout=seconds)
    for t in pending:
        t.cancel()
    for t in done:
        if t.exception() is not None:
            stats.setdefault("client_exceptions", []).append(repr(t.exception()))
    print(json.dumps({"mode": "load", "connections": n, **stats}))


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("port", type=int)
    p.add_argument("mode", choices=["slowloris", "idle", "load"])
    p.add_argument("n", type=int)
    p.add_argument("--interval", type=float, default=2.0)
    p.add_argument("--refresh", type=float, default=4.0)
    p.add_argument("--seconds", type=float, default=1e9)
    p.add_argument("--body", help="JSON bodies, one per line (load)")
    a = p.parse_args()
    if a.mode == "slowloris":
        asyncio.run(slowloris(a.port, a.n, a.interval, a.seconds))
    elif a.mode == "idle":
        asyncio.run(idle(a.port, a.n, a.refresh, a.seconds))
    else:
        bodies = [b"{}"]
        if a.body:
            # One JSON per line: a body, or {"name": ..., "body": {...}}
            # as `taskdex generate --queries` writes.
            with open(a.body, "rb") as f:
                bodies = []
                for line in f:
                    if not line.strip():
                        continue
                    v = json.loads(line)
                    if isinstance(v, dict) and "body" in v:
                        v = v["body"]
                    bodies.append(json.dumps(v).encode())
        asyncio.run(load(a.port, a.n, a.seconds, bodies))


if __name__ == "__main__":
    sys.exit(main())
