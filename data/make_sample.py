#!/usr/bin/env python3
"""Generates taskdex's sample snapshot and sample request bodies.

Writes, next to this script:

  sample/flows.ndjson, sample/deployments.ndjson, sample/flow_runs.ndjson,
  sample/task_runs.ndjson   a snapshot in the format of entities.md section 4: each line is
                            shaped like one element of Prefect's matching /filter response;
  sample/bodies.jsonl       request bodies for POST /api/task_runs/paginate, one
                            {"name", "note", "expect_status", "body"} object per line.

The data imitate a small Prefect 3 server that was dumped at NOW (2026-11-27T12:00:00Z):
twelve flows, twenty deployments, about 250 flow runs between 2026-11-01 and 2026-11-28
(future scheduled runs lie after NOW) and about 4,000 task runs. Everything is derived from
one seeded random.Random, so running the script again rewrites the files byte for byte.
Python 3 standard library only; no network.

Usage: python3 data/make_sample.py [--out DIR]
"""

import argparse
import hashlib
import json
import os
import random
import re
import sys
import uuid
from datetime import datetime, timedelta, timezone

SEED = 20261127
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def parse_time(text):
    """'2026-11-01T00:00:00Z' -> integer microseconds since the Unix epoch."""
    d = datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (d - _EPOCH) // timedelta(microseconds=1)


def fmt_time(us):
    """Prefect's datetime form: YYYY-MM-DDTHH:MM:SS, a 6-digit fraction only if non-zero, Z."""
    if us is None:
        return None
    d = _EPOCH + timedelta(microseconds=us)
    text = d.strftime("%Y-%m-%dT%H:%M:%S")
    if d.microsecond:
        text += ".%06d" % d.microsecond
    return text + "Z"


def seconds(us):
    """A duration in microseconds as the JSON float of seconds Prefect writes."""
    return us / 1e6


SEC = 1_000_000
MIN = 60 * SEC
HOUR = 60 * MIN
DAY = 24 * HOUR

WINDOW_START = parse_time("2026-11-01T00:00:00Z")
NOW = parse_time("2026-11-27T12:00:00Z")  # the dump time; use it as the engine's --now
WINDOW_END = parse_time("2026-11-28T00:00:00Z")

# Scales the task runs per flow run; the snapshot's size follows it (about 1.8 kB a line).
TASK_SCALE = 1.04

TERMINAL = ("COMPLETED", "FAILED", "CANCELLED", "CRASHED")

# paginate.md 9.1: key order of a full TaskRun as /filter writes it.
TASK_RUN_KEYS = [
    "id", "created", "updated", "name", "flow_run_id", "task_key", "dynamic_key",
    "cache_key", "cache_expiration", "task_version", "empirical_policy", "tags", "labels",
    "state_id", "task_inputs", "state_type", "state_name", "run_count", "flow_run_run_count",
    "expected_start_time", "next_scheduled_start_time", "start_time", "end_time",
    "total_run_time", "estimated_run_time", "estimated_start_time_delta", "state",
]

# paginate.md 8.3: StateDetails keys in order, with their defaults.
STATE_DETAILS_DEFAULTS = [
    ("flow_run_id", None), ("task_run_id", None), ("child_flow_run_id", None),
    ("scheduled_time", None), ("cache_key", None), ("cache_expiration", None),
    ("deferred", False), ("untrackable_result", False), ("pause_timeout", None),
    ("pause_reschedule", False), ("pause_key", None), ("run_input_keyset", None),
    ("refresh_cache", None), ("retriable", None), ("transition_id", None),
    ("task_parameters_id", None), ("traceparent", None),
    ("deployment_concurrency_lease_id", None),
]
STATE_DETAILS_TIME_KEYS = ("scheduled_time", "cache_expiration", "pause_timeout")

TASK_TAGS = [
    "io", "db", "slow", "critical", "etl", "ml", "gpu", "s3", "api", "batch", "nightly",
    "pii", "experimental", "team:data", "env:prod",
]
ADJECTIVES = [
    "amber", "bold", "brave", "calm", "clever", "cosmic", "crimson", "daring", "eager",
    "fancy", "fuzzy", "gentle", "golden", "happy", "hidden", "icy", "jolly", "lively",
    "lucky", "mellow", "nimble", "proud", "quick", "quiet", "rustic", "shiny", "silent",
    "smart", "spry", "swift", "tidy", "vivid", "wise", "zealous",
]
ANIMALS = [
    "otter", "llama", "fox", "wolf", "heron", "badger", "lynx", "marmot", "newt", "ocelot",
    "panda", "quail", "raven", "seal", "tapir", "urchin", "vole", "walrus", "yak", "zebra",
    "beetle", "civet", "dingo", "egret", "ferret", "gecko", "hyena", "ibis", "jackal", "koala",
]

# Flows: name, tags, task steps (task name, "one" or "map", mean duration in seconds),
# task-run count range per flow run (lo, hi, heavy-tail probability), run parameters.
FLOWS = [
    ("etl_orders", ["prod", "etl"],
     [("extract_orders", "one", 8), ("fetch_page", "map", 3), ("transform", "one", 20),
      ("load_to_DWH", "one", 30), ("notify", "one", 1)],
     (6, 24, 0.10), {"date": "2026-11-03", "region": "eu"}),
    ("ETL-Customers", ["prod"],
     [("extract-customers", "one", 12), ("clean_rows", "map", 2), ("Upsert", "one", 25)],
     (4, 14, 0.05), {"full_refresh": False}),
    ("ml-train", ["ml", "gpu"],
     [("load_features", "one", 40), ("train_model", "one", 900), ("evaluate", "one", 60),
      ("register_model", "one", 5)],
     (3, 5, 0.0), {"epochs": 20, "lr": 0.001}),
    ("Report_Daily", [],
     [("query_metrics", "one", 15), ("render_chart", "map", 4), ("publish", "one", 3)],
     (3, 8, 0.0), {"day": "2026-11-03"}),
    ("sync-crm", ["crm"],
     [("pull_contacts", "one", 6), ("push_contacts", "one", 9)],
     (2, 4, 0.0), {}),
    ("dbt_run", ["prod", "dbt"],
     [("dbt_deps", "one", 5), ("dbt_model", "map", 10), ("dbt_test", "map", 3)],
     (10, 30, 0.10), {"target": "prod", "select": "tag:daily"}),
    ("backfill-events", [],
     [("list_partitions", "one", 4), ("copy_partition", "map", 6), ("compact", "one", 30)],
     (20, 80, 0.40), {"start": "2026-10-01", "end": "2026-10-31"}),
    ("send-notifications", ["ops"],
     [("render_message", "one", 1), ("send_email", "map", 1)],
     (1, 4, 0.0), {"channel": "email"}),
    ("ingest_s3", ["prod", "s3"],
     [("list_objects", "one", 3), ("copy_object", "map", 2), ("write_manifest", "one", 2)],
     (4, 35, 0.15), {"bucket": "landing", "prefix": "2026/11/"}),
    ("DataQuality", ["qa"],
     [("check_nulls", "one", 4), ("check_unique", "one", 4), ("check_ranges", "map", 2)],
     (3, 10, 0.0), {"table": "orders"}),
    ("cleanup_tmp", [],
     [("list_tmp", "one", 1), ("delete_file", "map", 1)],
     (1, 6, 0.0), {"older_than_days": 7}),
    ("Résumé-parser", ["hr", "pii"],
     [("fetch_résumé", "one", 3), ("extract_fields", "map", 2), ("Übersicht_build", "one", 5)],
     (3, 12, 0.0), {"source": "inbox"}),
]

# Deployments: (flow name, deployment name, paused, tags, work queue, schedule).
# A schedule is (period in minutes, offset in minutes) or None for manual-only deployments.
DEPLOYMENTS = [
    ("etl_orders", "nightly", False, ["prod", "nightly"], "default", (1440, 120)),
    ("etl_orders", "hourly", False, ["prod"], "default", (60, 15)),
    ("etl_orders", "backfill_2026", False, ["backfill"], "default", None),
    ("ETL-Customers", "nightly", False, ["prod", "nightly"], "default", (1440, 120)),
    ("ETL-Customers", "Backfill", True, ["backfill"], "default", (1440, 240)),
    ("ml-train", "weekly", False, ["ml", "gpu"], "gpu", (10080, 1800)),
    ("ml-train", "gpu_adhoc", True, ["gpu"], "gpu", None),
    ("Report_Daily", "daily-report", False, ["reports"], "high-priority", (1440, 360)),
    ("Report_Daily", "Daily_Report_v2", False, ["reports", "v2"], "high-priority", (1440, 120)),
    ("Report_Daily", "adhoc", False, [], None, None),
    ("sync-crm", "every-15m", True, ["crm"], "etl_queue", (15, 0)),
    ("sync-crm", "prod", False, ["crm", "prod"], "etl_queue", (360, 0)),
    ("dbt_run", "prod", False, ["prod", "dbt"], "default", (1440, 180)),
    ("dbt_run", "staging", False, [], "default", (720, 30)),
    ("backfill-events", "manual", False, [], None, None),
    ("send-notifications", "slack", False, ["ops"], "default", None),
    ("send-notifications", "50%-sample", False, ["ops", "sampling"], "default", (360, 5)),
    ("ingest_s3", "s3-landing", False, ["s3", "prod"], "etl_queue", (240, 10)),
    ("ingest_s3", "s3_landing", False, [], "etl_queue", (1440, 120)),
    ("ml-train", "eval-nightly", False, ["ml"], "gpu", (1440, 300)),
]
# Labels of a few deployments, inherited by their flow runs and task runs: values of every
# type labels allow (string, integer, float, boolean).
DEPLOYMENT_LABELS = {
    ("etl_orders", "nightly"): {"team": "data", "priority": 2, "sla_hours": 1.5,
                                "pager": True},
    ("ml-train", "weekly"): {"team": "ml", "gpu_count": 4},
}
# Deleted deployments: flow runs still point at them (entities.md 1.1), the file lacks them.
DELETED_DEPLOYMENTS = [("etl_orders", "legacy-nightly"), ("sync-crm", "old_sync")]

WORK_POOLS = {"default": "process-pool", "gpu": "k8s-gpu", "high-priority": "process-pool",
              "etl_queue": "k8s-etl"}

# Task-run names Prefect would take from a task_run_name template: the tricky characters.
CUSTOM_TASK_RUN_NAMES = [
    ("etl_orders", "load_to_DWH", "load 100%_done"),
    ("etl_orders", "transform", "transform orders_eu 50%"),
    ("ingest_s3", "write_manifest", "write C:\\data\\manifest.json"),
    ("backfill-events", "compact", "compact\\partitions"),
]


class Generator:
    """Builds flows, deployments, flow runs and task runs as plain Python dicts."""

    def __init__(self, seed):
        self.rng = random.Random(seed)
        self.seed = seed
        self.count_rngs = {}  # flow name -> its own stream of task-run counts (stable totals)
        self.flows = []          # output dicts
        self.flow_by_name = {}
        self.deployments = []    # output dicts
        self.deps_of_flow = {}   # flow name -> [internal deployment records]
        self.deleted_deps = []   # internal records of deleted deployments
        self.flow_runs = []      # internal records
        self.task_runs = []      # internal records
        self.queue_ids = {}
        self.pool_ids = {}
        self.used_slots = set()  # (deployment id, slot) pairs: one scheduled run per slot

    # ---- small helpers -------------------------------------------------------------------

    def new_id(self):
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def hex(self, n):
        return "%0*x" % (n, self.rng.getrandbits(4 * n))

    def jitter(self, lo_us, hi_us):
        return self.rng.randint(lo_us, hi_us)

    def duration(self, mean_s):
        us = int(self.rng.expovariate(1.0 / mean_s) * SEC) + self.rng.randint(50_000, 400_000)
        return us

    def slug(self):
        return "%s-%s" % (self.rng.choice(ADJECTIVES), self.rng.choice(ANIMALS))

    def task_tags(self):
        r = self.rng.random()
        if r < 0.20:
            return []
        k = 1 if r < 0.65 else (2 if r < 0.92 else 3)
        return sorted(self.rng.sample(TASK_TAGS, k))

    @staticmethod
    def task_key(flow_name, task_name):
        digest = hashlib.sha256(("%s/%s" % (flow_name, task_name)).encode()).hexdigest()
        return "%s-%s" % (task_name, digest[:8])

    def queue_id(self, name):
        if name not in self.queue_ids:
            self.queue_ids[name] = self.new_id()
        return self.queue_ids[name]

    def pool_id(self, name):
        if name not in self.pool_ids:
            self.pool_ids[name] = self.new_id()
        return self.pool_ids[name]

    def state_doc(self, state_id, stype, sname, ts, message=None, data=None, **details):
        sd = {}
        for key, default in STATE_DETAILS_DEFAULTS:
            sd[key] = default
        for key, value in details.items():
            assert key in sd, key
            sd[key] = fmt_time(value) if key in STATE_DETAILS_TIME_KEYS else value
        return {"id": state_id, "type": stype, "name": sname, "timestamp": fmt_time(ts),
                "message": message, "data": data, "state_details": sd}

    def result_data(self):
        if self.rng.random() < 0.92:
            return None
        return {"storage_key": "/opt/prefect/storage/%s" % self.hex(32), "expiration": None,
                "serializer": {"type": "pickle"}, "prefect_version": "3.4.11",
                "storage_block_id": None}

    # ---- flows and deployments -----------------------------------------------------------

    def make_flows(self):
        for name, tags, _steps, _sizes, _params in FLOWS:
            created = WINDOW_START - self.jitter(10 * DAY, 120 * DAY)
            flow = {"id": self.new_id(), "created": fmt_time(created),
                    "updated": fmt_time(created + self.jitter(0, 5 * DAY)), "name": name,
                    "tags": list(tags), "labels": {}}
            self.flows.append(flow)
            self.flow_by_name[name] = flow

    def make_deployments(self):
        for flow_name, name, paused, tags, queue, schedule in DEPLOYMENTS:
            flow = self.flow_by_name[flow_name]
            dep_id = self.new_id()
            created = WINDOW_START - self.jitter(2 * DAY, 60 * DAY)
            paused_at = WINDOW_START + self.jitter(8 * DAY, 16 * DAY) if paused else None
            updated = paused_at if paused else created + self.jitter(0, 20 * DAY)
            schedules = []
            if schedule:
                period, offset = schedule
                schedules.append({
                    "id": self.new_id(), "created": fmt_time(created),
                    "updated": fmt_time(created), "deployment_id": dep_id,
                    "schedule": self.schedule_doc(period, offset), "active": True,
                    "max_scheduled_runs": None, "parameters": {}, "slug": None})
            pool = WORK_POOLS.get(queue) if queue else None
            doc = {
                "id": dep_id, "created": fmt_time(created), "updated": fmt_time(updated),
                "name": name, "version": self.hex(8), "description": None,
                "flow_id": flow["id"], "paused": paused, "schedules": schedules,
                "concurrency_limit": 3 if name == "hourly" else None,
                "global_concurrency_limit": None, "concurrency_options": None,
                "job_variables": {"env": {"PREFECT_LOGGING_LEVEL": "INFO"}} if pool else {},
                "parameters": {}, "tags": list(tags),
                "labels": dict({"prefect.flow.id": flow["id"]},
                               **DEPLOYMENT_LABELS.get((flow_name, name), {})),
                "work_queue_name": queue, "last_polled": None,
                "parameter_openapi_schema": {"title": "Parameters", "type": "object",
                                             "properties": {}},
                "path": "/opt/flows", "pull_steps": None,
                "entrypoint": "flows/%s.py:%s" % (flow_name.lower().replace("-", "_"),
                                                  flow_name.lower().replace("-", "_")),
                "storage_document_id": None, "infrastructure_document_id": None,
                "created_by": None, "updated_by": None,
                "work_queue_id": self.queue_id(queue) if queue else None,
                "enforce_parameter_schema": True, "work_pool_name": pool,
                "status": "NOT_READY" if paused else "READY",
            }
            self.deployments.append(doc)
            rec = {"id": dep_id, "name": name, "flow": flow_name, "paused": paused,
                   "paused_at": paused_at, "queue": queue, "schedule": schedule,
                   "schedule_id": schedules[0]["id"] if schedules else None,
                   "version": doc["version"], "deleted": False,
                   "labels": DEPLOYMENT_LABELS.get((flow_name, name), {})}
            self.deps_of_flow.setdefault(flow_name, []).append(rec)
        for flow_name, name in DELETED_DEPLOYMENTS:
            rec = {"id": self.new_id(), "name": name, "flow": flow_name, "paused": False,
                   "paused_at": None, "queue": "default", "schedule": (1440, 60),
                   "schedule_id": self.new_id(), "version": self.hex(8), "deleted": True,
                   "deleted_at": WINDOW_START + self.jitter(9 * DAY, 14 * DAY)}
            self.deleted_deps.append(rec)

    @staticmethod
    def schedule_doc(period, offset):
        if period == 1440:
            return {"cron": "%d %d * * *" % (offset % 60, offset // 60), "timezone": "UTC",
                    "day_or": True}
        if period == 10080:
            # The slot grid starts on a Sunday (2026-10-25), so the day is offset // 1440.
            return {"cron": "%d %d * * %d" % (offset % 60, (offset // 60) % 24,
                                              (offset // 1440) % 7),
                    "timezone": "UTC", "day_or": True}
        return {"interval": period * 60.0, "anchor_date": "2026-01-01T%02d:%02d:00Z" % (
            offset // 60, offset % 60), "timezone": "UTC"}

    # ---- flow runs ---------------------------------------------------------------------

    def slot_before(self, dep, t):
        """The latest schedule slot of deployment dep at or before t."""
        period, offset = dep["schedule"]
        base = WINDOW_START - 7 * DAY  # Sunday 2026-10-25T00:00:00Z
        k = (t - base - offset * MIN) // (period * MIN)
        return base + offset * MIN + k * period * MIN

    def new_flow_run(self, flow_name, dep, kind):
        """An internal flow-run record; times and state are filled in by the caller."""
        flow = self.flow_by_name[flow_name]
        fr = {
            "id": self.new_id(), "flow": flow_name, "flow_id": flow["id"],
            "dep": dep, "kind": kind, "name": self.slug(), "tags": [],
            "parent_task_run_id": None, "idempotency_key": None, "created_by": None,
            "auto_scheduled": False, "expected": None, "next_scheduled": None,
            "start": None, "end": None, "total": 0, "state_type": None, "state_name": None,
            "state_ts": None, "state_message": None, "created": None, "updated": None,
            "flow_version": None, "pause": None, "tasks": [], "run_count": 0,
            "scheduled_time": None, "slot": None,
        }
        if dep is not None:
            fr["tags"] = sorted(set(dep_tags(self, dep)))
        elif self.rng.random() < 0.4:
            fr["tags"] = sorted(self.rng.sample(["adhoc", "dev", "manual", "eu"],
                                                self.rng.randint(1, 2)))
        if flow_name == "etl_orders" and self.rng.random() < 0.3:
            fr["name"] = "etl_orders-%s" % self.hex(4)
        return fr

    def pick_expected(self, fr, lo, hi):
        """Sets expected/created for a flow run whose expected start lies in [lo, hi]."""
        dep = fr["dep"]
        if dep is not None and dep["schedule"] and fr["kind"] == "scheduled":
            for _ in range(200):
                t = self.slot_before(dep, self.rng.randint(lo, hi))
                if t >= lo and (dep["id"], t) not in self.used_slots:
                    self.set_slot(fr, t)
                    return
            fr["kind"] = "manual"  # no free slot in range: a run started by hand
        t = self.rng.randint(lo, hi)
        fr["expected"] = t
        fr["created"] = t - self.jitter(1_000, 200_000)
        if t > NOW:  # created now for a later start
            fr["created"] = NOW - self.jitter(1 * MIN, 20 * HOUR)
        if dep is not None:
            r = self.rng.random()
            if r < 0.5:
                fr["created_by"] = {"id": self.new_id(), "type": "AUTOMATION",
                                    "display_value": "on-upstream-complete"}
            elif r < 0.8:
                fr["created_by"] = {"id": self.new_id(), "type": "USER",
                                    "display_value": self.rng.choice(
                                        ["ana@example.com", "bo@example.com"])}

    def set_slot(self, fr, t):
        """Makes fr the scheduler's run of its deployment for slot t."""
        dep = fr["dep"]
        self.used_slots.add((dep["id"], t))
        fr["slot"] = t
        fr["expected"] = t
        fr["auto_scheduled"] = True
        fr["scheduled_time"] = t
        fr["created"] = t - self.jitter(1 * DAY, 3 * DAY)
        fr["idempotency_key"] = "scheduled %s %s %s" % (
            dep["id"], dep["schedule_id"],
            (_EPOCH + timedelta(microseconds=t)).strftime("%Y-%m-%d %H:%M:%S+00:00"))

    def repin_expected(self, fr):
        """After a RUNNING run's start moved: re-derive its expected start from the start."""
        dep = fr["dep"]
        if fr.get("slot") is not None:
            self.used_slots.discard((dep["id"], fr["slot"]))
            fr["slot"] = None
            t = self.slot_before(dep, fr["start"] - SEC)
            if (dep["id"], t) not in self.used_slots and fr["start"] - t <= 10 * MIN:
                self.set_slot(fr, t)
                return
            fr["kind"] = "manual"
            fr["auto_scheduled"] = False
            fr["idempotency_key"] = None
            fr["scheduled_time"] = None
        fr["expected"] = fr["start"] - self.jitter(300_000, 8 * SEC)
        fr["created"] = fr["expected"] - self.jitter(1_000, 200_000)

    def make_top_level_runs(self):
        """Deployment runs (scheduled and manual), ad hoc runs and dangling-deployment runs."""
        states = (["COMPLETED"] * 152 + ["FAILED"] * 22 + ["CRASHED"] * 6 +
                  ["CANCELLED"] * 8 + ["RUNNING"] * 9 + ["SCHEDULED"] * 10 +
                  ["LATE"] * 4 + ["PENDING"] * 4 + ["PAUSED"] * 3 + ["CANCELLING"] * 3)
        self.rng.shuffle(states)
        live_deps = [d for name in self.deps_of_flow for d in self.deps_of_flow[name]]
        dep_weights = [1 if d["schedule"] is None else
                       (4 if d["schedule"][0] <= 60 else 3) for d in live_deps]
        adhoc_flows = [f[0] for f in FLOWS]
        for i, st in enumerate(states):
            r = self.rng.random()
            if st in ("SCHEDULED", "LATE"):
                deps = [d for d in live_deps if d["schedule"] and not d["paused"]
                        and d["schedule"][0] <= 360]
                dep = self.rng.choice(deps)
                fr = self.new_flow_run(dep["flow"], dep, "scheduled")
            elif r < 0.12:
                fr = self.new_flow_run(self.rng.choice(adhoc_flows), None, "adhoc")
            else:
                cands = [(d, w) for d, w in zip(live_deps, dep_weights)
                         if st in TERMINAL or not d["paused"]]
                dep = self.rng.choices([c[0] for c in cands], [c[1] for c in cands])[0]
                kind = "scheduled" if dep["schedule"] and self.rng.random() < 0.85 else "manual"
                fr = self.new_flow_run(dep["flow"], dep, kind)
            self.place_and_run(fr, st)
        # Runs of deleted deployments: terminal, from before the deletion (entities.md 1.1).
        for dep in self.deleted_deps:
            for st in ["COMPLETED", "COMPLETED", "FAILED"][: 3 if dep is self.deleted_deps[0]
                                                                else 2]:
                fr = self.new_flow_run(dep["flow"], dep, "scheduled")
                fr["tags"] = ["nightly"] if dep is self.deleted_deps[0] else []
                self.place_and_run(fr, st, hi=dep["deleted_at"] - HOUR)

    def place_and_run(self, fr, st, hi=None):
        """Chooses the run's times for target state st, then creates its task runs."""
        dep = fr["dep"]
        if st in ("SCHEDULED",):
            self.pick_expected(fr, NOW + MIN, WINDOW_END - MIN)
        elif st == "LATE":
            self.pick_expected(fr, NOW - 6 * HOUR, NOW - 10 * MIN)
        elif st == "PENDING":
            self.pick_expected(fr, NOW - 20 * MIN, NOW - 30 * SEC)
        elif st in ("RUNNING", "CANCELLING"):
            self.pick_expected(fr, NOW - 3 * HOUR, NOW - 5 * MIN)
        elif st == "PAUSED":
            self.pick_expected(fr, NOW - 30 * HOUR, NOW - 6 * HOUR)
        else:
            top = hi if hi is not None else NOW - 4 * HOUR
            if dep is not None and dep.get("paused_at"):
                top = min(top, dep["paused_at"] - HOUR)
            self.pick_expected(fr, WINDOW_START + HOUR, top)
        fr["flow_version"] = self.flow_version(fr["flow"], fr["expected"])
        self.flow_runs.append(fr)
        self.run_flow(fr, st)

    def flow_version(self, flow_name, t):
        digest = hashlib.sha256(flow_name.encode()).hexdigest()
        return digest[:8] if t < WINDOW_START + 14 * DAY else digest[8:16]

    def run_flow(self, fr, st, start=None):
        """Sets the flow run's state and times and creates its task runs.

        start: the flow's start time if the caller fixes it (subflows)."""
        fixed_start = start is not None
        if st in ("SCHEDULED", "LATE"):
            fr["state_type"] = "SCHEDULED"
            fr["state_name"] = "Scheduled" if st == "SCHEDULED" else "Late"
            fr["next_scheduled"] = fr["expected"]
            fr["state_ts"] = fr["created"] if st == "SCHEDULED" else fr["expected"] + \
                self.jitter(15 * SEC, 90 * SEC)
            fr["updated"] = fr["state_ts"]
            return
        if st == "PENDING":
            fr["state_type"], fr["state_name"] = "PENDING", "Pending"
            fr["state_ts"] = fr["expected"] + self.jitter(100_000, 20 * SEC)
            fr["updated"] = fr["state_ts"] + self.jitter(1_000, 30_000)
            return
        if st == "CANCELLED" and fr["dep"] is not None and self.rng.random() < 0.35:
            # Cancelled before it ever started: entering a terminal state sets end_time and
            # start_time to the state's timestamp (paginate.md 9.5).
            if fr["expected"] - fr["created"] > HOUR:  # cancelled while still scheduled
                ts = self.rng.randint(fr["created"] + MIN, fr["expected"] - MIN)
            else:  # cancelled while late or pending
                ts = fr["expected"] + self.jitter(1 * SEC, 90 * SEC)
            fr["state_type"], fr["state_name"] = "CANCELLED", "Cancelled"
            fr["state_message"] = "Cancelled by user."
            fr["start"] = fr["end"] = fr["state_ts"] = ts
            fr["updated"] = ts + self.jitter(1_000, 50_000)
            return
        fr["run_count"] = 1
        if start is None:
            late = self.jitter(300_000, 8 * SEC) if self.rng.random() < 0.9 else \
                self.jitter(1 * MIN, 12 * MIN)
            start = fr["expected"] + late
        fr["start"] = start
        self.simulate_tasks(fr, st, fixed_start)

    # ---- task runs ---------------------------------------------------------------------

    def task_count(self, flow_name):
        lo, hi, heavy = next(f[3] for f in FLOWS if f[0] == flow_name)
        if flow_name not in self.count_rngs:
            salt = int(hashlib.sha256(flow_name.encode()).hexdigest()[:8], 16)
            self.count_rngs[flow_name] = random.Random(self.seed ^ salt)
        rng = self.count_rngs[flow_name]
        n = rng.randint(lo, hi)
        if rng.random() < heavy:
            n = int(n * rng.uniform(2.0, 4.0))
        return max(1, round(n * TASK_SCALE))

    def plan(self, flow_name, n):
        """[(task name, batch size)] adding up to about n task runs."""
        steps = next(f[2] for f in FLOWS if f[0] == flow_name)
        ones = [s for s in steps if s[1] == "one"]
        maps = [s for s in steps if s[1] == "map"]
        rest = max(len(maps), n - len(ones))
        sizes = {}
        for i, s in enumerate(maps):
            share = rest // len(maps) + (1 if i < rest % len(maps) else 0)
            sizes[s[0]] = max(1, share)
        out = []
        for name, kind, mean in steps:
            out.append((name, 1 if kind == "one" else sizes[name], mean))
        return out

    def new_task(self, fr, flow_name, task_name, dyn, exp):
        labels = {}
        if fr is not None:
            labels = dict(fr_labels(fr))
            labels["prefect.flow-run.id"] = fr["id"]
        t = {
            "id": self.new_id(), "created": exp - self.jitter(200, 6_000), "updated": None,
            "name": "%s-%s" % (task_name, dyn[:3]), "flow_run_id": fr["id"] if fr else None,
            "task_key": self.task_key(flow_name, task_name), "dynamic_key": dyn,
            "cache_key": None, "cache_expiration": None,
            "task_version": "1.2.0" if flow_name in ("dbt_run", "ml-train") else None,
            "policy": self.task_policy(), "tags": self.task_tags(), "labels": labels,
            "state_id": None, "task_inputs": {}, "state_type": None, "state_name": None,
            "run_count": 0, "flow_run_run_count": 1 if fr else 0, "exp": exp,
            "next_scheduled": None, "start": None, "end": None, "total": 0,
            "state_ts": None, "message": None, "data": None, "details": {},
            "has_state": True, "stale_state": False, "extras": None, "flow": flow_name,
            "base_name": task_name,
        }
        return t

    def task_policy(self):
        r = self.rng.random()
        if r < 0.55:
            retries, delay = 0, 0
        elif r < 0.75:
            retries, delay = None, None
        elif r < 0.90:
            retries, delay = self.rng.choice([1, 2, 3]), self.rng.choice([5, 10, 30])
        elif r < 0.96:
            retries, delay = 3, [1, 10, 100]
        else:
            retries, delay = 2, 2.5
        jitter = 0.5 if (r > 0.9 and self.rng.random() < 0.5) else None
        return {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": retries,
                "retry_delay": delay, "retry_jitter_factor": jitter}

    def set_terminal(self, t, stype, sname, ts, message=None):
        t["state_type"], t["state_name"], t["state_ts"] = stype, sname, ts
        t["message"] = message
        if t["end"] is None:
            t["end"] = ts
        if t["start"] is None:
            t["start"] = ts

    def simulate_tasks(self, fr, st, fixed_start):
        """Lays out the plan from fr['start'] as if everything ran, then cuts it at the
        moment the flow reached state st, and sets task and flow states."""
        flow_name = fr["flow"]
        n = self.task_count(flow_name)
        cursor = fr["start"] + self.jitter(200_000, 2 * SEC)
        tasks = []
        upstream = []
        for task_name, batch, mean in self.plan(flow_name, n):
            tie = batch > 1 and self.rng.random() < 0.5
            base = cursor
            concurrency = self.rng.choice([4, 8, 16])
            slot_end = [base] * concurrency
            batch_tasks = []
            for i in range(batch):
                exp = base if tie else base + i * self.jitter(100, 20_000)
                t = self.new_task(fr, flow_name, task_name, str(i), exp)
                if upstream:
                    refs = [upstream[i % len(upstream)]] if batch > 1 else upstream[:2]
                    t["task_inputs"]["x" if task_name != "transform" else "orders"] = [
                        {"input_type": "task_run", "id": u} for u in refs]
                first_step = not upstream
                for pname in list(next(f[4] for f in FLOWS if f[0] == flow_name))[:1]:
                    if not first_step:
                        break
                    # Prefect 3 records plain values as []; older clients sent Parameter.
                    t["task_inputs"][pname] = [{"input_type": "parameter", "name": pname}] \
                        if self.rng.random() < 0.25 else []
                if batch > 1 and i % 8 == 0:
                    t["task_inputs"]["item"] = [{"input_type": "constant", "type": "int"}]
                s = self.rng.randrange(concurrency)
                begin = max(exp, slot_end[s]) + self.jitter(2_000, 900_000)
                d = self.duration(mean)
                if self.rng.random() < 0.07 and st != "SCHEDULED":
                    # Cached: PENDING -> COMPLETED/Cached, no run (paginate.md 9.5).
                    t["cached"] = True
                    t["cache_key"] = self.hex(64)
                    t["cache_expiration"] = begin + 7 * DAY if self.rng.random() < 0.6 else None
                    t["plan_start"], t["plan_end"] = begin, begin
                elif t["policy"]["retries"] and self.rng.random() < 0.25:
                    first = self.duration(mean)
                    t["attempts"] = [(begin, first)]
                    d2_start = begin + first + self.jitter(1 * SEC, 30 * SEC)
                    t["attempts"].append((d2_start, d))
                    t["plan_start"], t["plan_end"] = begin, d2_start + d
                else:
                    t["attempts"] = [(begin, d)]
                    t["plan_start"], t["plan_end"] = begin, begin + d
                slot_end[s] = t["plan_end"]
                batch_tasks.append(t)
            tasks.extend(batch_tasks)
            upstream = [t["id"] for t in batch_tasks]
            cursor = max(t["plan_end"] for t in batch_tasks) + self.jitter(1_000, 300_000)

        span_end = max([t["plan_end"] for t in tasks] + [fr["start"]])
        if st in ("RUNNING", "CANCELLING", "PAUSED"):
            span = span_end - fr["start"]
            if st == "PAUSED":
                cut = fr["start"] + int(span * self.rng.uniform(0.3, 0.8))
                cut = min(cut, NOW - 10 * MIN)
            else:
                cut = NOW
                if not fixed_start:
                    # Shift the plan so that NOW falls inside it, then re-derive the
                    # expected start from the new start.
                    # NOW lands in the middle of one task, so the run has a running task.
                    ran = sorted((t for t in tasks if not t.get("cached")),
                                 key=lambda t: t["plan_start"])
                    pick = ran[int(len(ran) * self.rng.uniform(0.3, 0.85))]
                    want = pick["plan_start"] + (pick["plan_end"] - pick["plan_start"]) // 2
                    self.shift(fr, tasks, NOW - want)
                    self.repin_expected(fr)
                    for t in tasks:
                        if t["exp"] < fr["start"]:
                            raise RuntimeError("task before its flow run")
            self.cut_open(fr, tasks, st, cut)
        elif st == "COMPLETED":
            for t in tasks:
                self.finish_normally(t)
            kept = tasks
            self.close_flow(fr, kept, "COMPLETED", "Completed", None)
        else:
            self.cut_terminal(fr, tasks, st)

    def shift(self, fr, tasks, delta):
        fr["start"] += delta
        for t in tasks:
            for key in ("created", "exp", "plan_start", "plan_end"):
                t[key] += delta
            if t.get("attempts"):
                t["attempts"] = [(a + delta, d) for a, d in t["attempts"]]

    def finish_normally(self, t, stype="COMPLETED"):
        if t.get("cached"):
            self.set_terminal(t, "COMPLETED", "Cached", t["plan_end"])
            t["details"] = {"cache_key": t["cache_key"],
                            "cache_expiration": t["cache_expiration"]}
            return
        attempts = t["attempts"]
        t["start"] = attempts[0][0]
        t["end"] = t["plan_end"]
        t["total"] = sum(d for _, d in attempts)
        t["run_count"] = len(attempts)
        if stype == "COMPLETED":
            t["data"] = self.result_data()
            self.set_terminal(t, "COMPLETED", "Completed", t["end"])
        elif stype == "FAILED":
            t["run_count"] = len(attempts)
            self.set_terminal(t, "FAILED", "Failed", t["end"], self.rng.choice([
                "Task run encountered an exception ValueError: bad row 17",
                "Task run encountered an exception KeyError: 'customer_id'",
                "Task run encountered an exception TimeoutError: read timed out after 30 s",
            ]))
            t["details"] = {"retriable": False}

    def cut_terminal(self, fr, tasks, st):
        """FAILED, CRASHED, CANCELLED: the flow ends while running task k."""
        order = sorted(tasks, key=lambda t: t["plan_start"])
        k = self.rng.randint(len(order) // 3, len(order) - 1) if order else 0
        kept = []
        if not order:
            fr["end"] = fr["start"] + self.jitter(1 * SEC, 5 * SEC)
        else:
            victim = order[k]
            if victim.get("cached"):
                victim.pop("cached")
                victim["cache_key"] = None
                victim["cache_expiration"] = None
                d = self.duration(3)
                victim["attempts"] = [(victim["plan_start"], d)]
                victim["plan_end"] = victim["plan_start"] + d
            if st == "FAILED" and victim["policy"]["retries"]:
                # It failed on every attempt: retries + 1 runs, each after its delay.
                at = victim["plan_start"]
                victim["attempts"] = []
                for _ in range(victim["policy"]["retries"] + 1):
                    d = self.duration(3)
                    victim["attempts"].append((at, d))
                    at += d + self.jitter(1 * SEC, 10 * SEC)
                victim["plan_end"] = victim["attempts"][-1][0] + victim["attempts"][-1][1]
            cut = victim["plan_end"] if st == "FAILED" else \
                victim["attempts"][-1][0] + victim["attempts"][-1][1] // 2
            for t in order:
                if t is victim:
                    continue
                if t["plan_end"] <= cut:
                    self.finish_normally(t)
                    kept.append(t)
                elif t["plan_start"] <= cut:
                    if st == "FAILED":
                        self.finish_normally(t)  # concurrent siblings finish on their own
                    elif st == "CRASHED":
                        self.open_start(t, cut)
                        self.set_terminal(t, "CRASHED", "Crashed", cut,
                                          "Execution was interrupted by the runtime.")
                    else:
                        self.open_start(t, cut)
                        self.set_terminal(t, "CANCELLED", "Cancelled", cut,
                                          "Task run was cancelled.")
                    kept.append(t)
                elif t["exp"] <= cut:
                    if st == "CANCELLED":
                        # Never ran: PENDING -> CANCELLED sets start and end (9.5); the
                        # cancellation reaches all of them at one instant (END_TIME ties).
                        self.set_terminal(t, "CANCELLED", "Cancelled", cut,
                                          "Task run was cancelled.")
                    else:
                        t["state_type"], t["state_name"] = "PENDING", "Pending"
                        t["state_ts"] = t["exp"]
                    kept.append(t)
            if st == "FAILED":
                self.finish_normally(victim, "FAILED")
            elif st == "CRASHED":
                self.open_start(victim, cut)
                self.set_terminal(victim, "CRASHED", "Crashed", cut,
                                  "Execution was interrupted by the runtime.")
            else:
                self.open_start(victim, cut)
                self.set_terminal(victim, "CANCELLED", "Cancelled", cut,
                                  "Task run was cancelled.")
            kept.append(victim)
        names = {"FAILED": "Failed", "CRASHED": "Crashed", "CANCELLED": "Cancelled"}
        messages = {
            "FAILED": "Flow run encountered an exception: 1/%d states failed." % max(
                1, len(kept)),
            "CRASHED": "Flow run infrastructure exited with non-zero status code 137.",
            "CANCELLED": "Flow run was cancelled."}
        self.close_flow(fr, kept, st, names[st], messages[st])

    def open_start(self, t, cut):
        """A task interrupted at cut: it ran from its last attempt's start until cut."""
        attempts = t["attempts"]
        done = [(a, d) for a, d in attempts if a + d <= cut]
        current = [(a, d) for a, d in attempts if a <= cut < a + d]
        t["start"] = attempts[0][0]
        t["total"] = sum(d for _, d in done) + sum(cut - a for a, _ in current)
        t["run_count"] = len(done) + len(current)

    def cut_open(self, fr, tasks, st, cut):
        """RUNNING, CANCELLING, PAUSED flows: cut at `cut` (NOW or the pause time)."""
        kept = []
        cancel_ts = None
        if st == "CANCELLING":
            cancel_ts = max(fr["start"] + 1000, NOW - self.jitter(5 * SEC, 60 * SEC))
        for t in sorted(tasks, key=lambda t: t["plan_start"]):
            if t["plan_end"] <= cut:
                self.finish_normally(t)
                kept.append(t)
            elif t["plan_start"] <= cut:
                attempts = t["attempts"]
                t["start"] = attempts[0][0]
                t["run_count"] = sum(1 for a, _ in attempts if a <= cut)
                t["total"] = sum(d for a, d in attempts if a + d <= cut)
                current = [a for a, d in attempts if a <= cut < a + d]
                if st == "PAUSED":
                    t["state_type"], t["state_name"], t["state_ts"] = "PAUSED", "Paused", cut
                    if current:
                        t["total"] += cut - current[0]
                    t["details"] = {"pause_timeout": cut + HOUR, "pause_key": "approval-1",
                                    "pause_reschedule": False}
                elif st == "CANCELLING":
                    t["state_type"], t["state_name"] = "CANCELLING", "Cancelling"
                    t["state_ts"] = min(NOW, max(cancel_ts,
                                                 (current or [t["start"]])[-1] + 1000))
                    if current:  # leaving RUNNING adds the time spent running (9.5)
                        t["total"] += t["state_ts"] - current[0]
                elif current and st == "RUNNING" and len(attempts) == 1 and \
                        current[0] < cut - 10 * SEC and self.rng.random() < 0.6:
                    # Its first attempt failed and the retry is running (Retrying).
                    first = (cut - current[0]) * 2 // 5
                    second = current[0] + first + self.jitter(1 * SEC, 4 * SEC)
                    t["policy"]["retries"], t["policy"]["retry_delay"] = 2, 1
                    t["run_count"], t["total"] = 2, first
                    t["state_type"], t["state_name"], t["state_ts"] = "RUNNING", "Retrying", second
                elif current:
                    t["state_type"] = "RUNNING"
                    t["state_name"] = "Retrying" if t["run_count"] > 1 else "Running"
                    t["state_ts"] = current[0]
                else:
                    # Between two attempts: waiting for its retry (RUNNING -> AwaitingRetry).
                    first_end = attempts[0][0] + attempts[0][1]
                    t["state_type"], t["state_name"] = "SCHEDULED", "AwaitingRetry"
                    t["state_ts"] = first_end
                    t["next_scheduled"] = attempts[1][0]
                    t["message"] = "Retry 1/%d will start %d second(s) from now" % (
                        t["policy"]["retries"], (attempts[1][0] - first_end) // SEC)
                    t["details"] = {"scheduled_time": attempts[1][0]}
                kept.append(t)
            elif t["exp"] <= cut:
                t["state_type"], t["state_name"], t["state_ts"] = "PENDING", "Pending", t["exp"]
                kept.append(t)
        fr["tasks"].extend(kept)
        self.task_runs.extend(kept)
        for t in kept:
            self.finish_task_record(t, ceiling=NOW)
        if st == "PAUSED":
            fr["state_type"], fr["state_name"], fr["state_ts"] = "PAUSED", "Paused", cut
            fr["total"] = cut - fr["start"]
            fr["pause"] = cut
            fr["updated"] = cut + self.jitter(1_000, 80_000)
        elif st == "CANCELLING":
            fr["state_type"], fr["state_name"], fr["state_ts"] = "CANCELLING", "Cancelling", \
                cancel_ts
            fr["state_message"] = "Cancellation requested by user."
            fr["total"] = cancel_ts - fr["start"]
            fr["updated"] = cancel_ts + self.jitter(1_000, 80_000)
        else:
            fr["state_type"], fr["state_name"], fr["state_ts"] = "RUNNING", "Running", fr["start"]
            fr["updated"] = min(NOW, max([t["updated"] for t in kept] + [fr["start"]]))

    def close_flow(self, fr, kept, stype, sname, message):
        ends = [t["end"] for t in kept if t["end"] is not None]
        fr["end"] = max(ends + [fr["start"]]) + self.jitter(20_000, 900_000)
        fr["total"] = fr["end"] - fr["start"]
        fr["state_type"], fr["state_name"], fr["state_ts"] = stype, sname, fr["end"]
        fr["state_message"] = message
        fr["updated"] = fr["end"] + self.jitter(1_000, 80_000)
        fr["tasks"].extend(kept)
        self.task_runs.extend(kept)
        for t in kept:
            self.finish_task_record(t)

    def finish_task_record(self, t, ceiling=None):
        t["state_id"] = self.new_id()
        if t["state_type"] == "PENDING":
            t["state_ts"] = t["exp"]
        upd = (t["state_ts"] if t["state_ts"] is not None else t["exp"]) + \
            self.jitter(1_000, 60_000)
        if ceiling is not None:
            upd = min(upd, ceiling)
        t["updated"] = upd
        t.pop("plan_start", None)
        t.pop("plan_end", None)

    # ---- subflows ----------------------------------------------------------------------

    def make_subflows(self, count):
        """count subflow runs: each gets a fresh 'dummy' parent task run in another flow run
        (as Prefect creates one per subflow call) and runs inside that task's span."""
        child_flows = ["DataQuality", "send-notifications", "Résumé-parser", "cleanup_tmp",
                       "Report_Daily"]
        parents = [fr for fr in self.flow_runs
                   if fr["state_type"] in ("COMPLETED", "FAILED", "RUNNING")
                   and fr["start"] is not None and fr["dep"] is not None
                   and not fr["dep"]["deleted"]
                   and (fr["state_type"] != "RUNNING" or fr["start"] < NOW - 20 * MIN)]
        made = []
        for i in range(count):
            via_deployment = i in (5, 14)
            nested = i in (3, 11) and made
            cands = made if nested else parents
            if via_deployment:
                cands = [p for p in cands if p["flow"] != "send-notifications"]
            parent = self.rng.choice(cands)
            child_name = self.rng.choice([c for c in child_flows if c != parent["flow"]])
            dep = None
            if via_deployment:
                dep = self.rng.choice(self.deps_of_flow.get("send-notifications"))
                child_name = dep["flow"]
            made.append(self.make_one_subflow(parent, child_name, dep))
        return made

    def make_one_subflow(self, parent, child_name, dep):
        running = parent["state_type"] == "RUNNING"
        if running:
            lo, hi = parent["start"] + SEC, NOW - 10 * MIN
        else:
            lo = parent["start"] + SEC
            hi = max(lo, parent["end"] - 30 * SEC)
        p_exp = self.rng.randint(lo, max(lo, hi))
        dyn = str(sum(1 for t in parent["tasks"] if t["base_name"] == child_name))
        ptask = self.new_task(parent, parent["flow"], child_name, dyn, p_exp)
        ptask["task_inputs"] = {}
        child = self.new_flow_run(child_name, dep, "manual")
        child["tags"] = list(parent["tags"])
        child["parent_task_run_id"] = ptask["id"]
        child["expected"] = p_exp + self.jitter(10_000, 90_000)
        child["created"] = child["expected"] - self.jitter(1_000, 9_000)
        child["flow_version"] = self.flow_version(child_name, child["expected"])
        self.flow_runs.append(child)
        ptask["start"] = p_exp + self.jitter(2_000, 50_000)
        child_start = ptask["start"] + self.jitter(100_000, 900_000)
        if running:
            self.run_flow(child, "RUNNING", start=child_start)
            ptask["state_type"], ptask["state_name"] = "RUNNING", "Running"
            ptask["state_ts"] = ptask["start"]
            ptask["run_count"] = 1
            ptask["details"] = {"child_flow_run_id": child["id"]}
        else:
            st = "COMPLETED" if parent["state_type"] == "COMPLETED" or \
                self.rng.random() < 0.5 else "FAILED"
            self.run_flow(child, st, start=child_start)
            ptask["end"] = child["end"] + self.jitter(5_000, 200_000)
            ptask["total"] = ptask["end"] - ptask["start"]
            ptask["run_count"] = 1
            if st == "COMPLETED":
                self.set_terminal(ptask, "COMPLETED", "Completed", ptask["end"])
            else:
                self.set_terminal(ptask, "FAILED", "Failed", ptask["end"],
                                  "Flow run encountered an exception.")
            ptask["details"] = {"child_flow_run_id": child["id"]}
            self.stretch_flow(parent, ptask["end"])
        parent["tasks"].append(ptask)
        self.task_runs.append(ptask)
        self.finish_task_record(ptask, ceiling=NOW)
        # A later task of the parent consumes the subflow's result (a flow_run input).
        later = [t for t in parent["tasks"] if t["exp"] > ptask["exp"] and t is not ptask]
        if later and not parent["state_type"] == "RUNNING":
            consumer = min(later, key=lambda t: t["exp"])
            consumer["task_inputs"]["report"] = [{"input_type": "flow_run", "id": child["id"]}]
        return child

    def stretch_flow(self, fr, inner_end):
        """A terminal flow run waits for its subflow: keep its end after inner_end, and
        its own parent task's and parent flow run's ends too."""
        if fr["end"] is None or fr["end"] > inner_end + SEC:
            return
        fr["end"] = inner_end + self.jitter(50_000, 500_000)
        fr["total"] = fr["end"] - fr["start"]
        fr["state_ts"] = fr["end"]
        fr["updated"] = fr["end"] + self.jitter(1_000, 80_000)
        if fr["parent_task_run_id"] is not None:
            ptask = next(t for t in self.task_runs if t["id"] == fr["parent_task_run_id"])
            if ptask["end"] is not None and ptask["end"] <= fr["end"]:
                ptask["end"] = fr["end"] + self.jitter(5_000, 200_000)
                ptask["total"] = ptask["end"] - ptask["start"]
                ptask["state_ts"] = ptask["end"]
                ptask["updated"] = ptask["end"] + self.jitter(1_000, 60_000)
                grand = next(f for f in self.flow_runs if f["id"] == ptask["flow_run_id"])
                self.stretch_flow(grand, ptask["end"])

    # ---- autonomous task runs ----------------------------------------------------------

    def make_autonomous(self, count):
        """Background tasks (task.delay()/serve): flow_run_id null, dynamic key a UUID."""
        names = [("send_welcome_email", 1), ("resize_image", 3), ("score_lead", 2)]
        for i in range(count):
            task_name, mean = names[i % len(names)]
            dyn = self.new_id()
            r = self.rng.random()
            if r < 0.12:
                exp = NOW + self.jitter(1 * MIN, 8 * HOUR)
            elif r < 0.2:
                exp = NOW - self.jitter(1 * MIN, 50 * MIN)
            else:
                exp = self.rng.randint(WINDOW_START, NOW - 2 * HOUR)
            t = self.new_task(None, "background", task_name, dyn, exp)
            t["task_inputs"] = {"user_id": [], "payload": []}
            params_id = self.new_id()
            base_details = {"deferred": True, "task_parameters_id": params_id}
            if r < 0.2:
                if exp > NOW:
                    t["created"] = NOW - self.jitter(1 * SEC, 2 * HOUR)
                t["state_type"], t["state_name"] = "SCHEDULED", "Scheduled"
                t["state_ts"] = t["created"]
                t["next_scheduled"] = exp
                t["details"] = dict(base_details, scheduled_time=exp)
            elif r < 0.24:
                t["state_type"], t["state_name"], t["state_ts"] = "PENDING", "Pending", exp
                t["details"] = base_details
            else:
                start = exp + self.jitter(50_000, 40 * SEC)
                d = self.duration(mean)
                t["attempts"] = [(start, d)]
                t["plan_start"], t["plan_end"] = start, start + d
                if r < 0.30:
                    start = NOW - self.jitter(1 * SEC, 20 * SEC)
                    t["exp"] = start - self.jitter(1 * SEC, 5 * SEC)
                    t["created"] = t["exp"] - self.jitter(200, 6_000)
                    t["start"] = start
                    t["state_type"], t["state_name"], t["state_ts"] = "RUNNING", "Running", start
                    t["run_count"] = 1
                elif r < 0.38:
                    self.finish_normally(t, "FAILED")
                else:
                    self.finish_normally(t)
                t["details"] = dict(t["details"], **base_details)
            self.task_runs.append(t)
            self.finish_task_record(t, ceiling=NOW if t["state_type"] != "SCHEDULED" else None)

    # ---- special cases -----------------------------------------------------------------

    def special_cases(self):
        rng = self.rng
        in_flows = [t for t in self.task_runs if t["flow_run_id"] is not None
                    and t["state_type"] == "COMPLETED" and t["state_name"] == "Completed"
                    and t["base_name"] not in [f[0] for f in FLOWS]]
        rng.shuffle(in_flows)
        pool = iter(in_flows)
        # Names from task_run_name templates: '%', '_', a backslash, spaces.
        for flow_name, task_name, custom in CUSTOM_TASK_RUN_NAMES:
            cands = [t for t in self.task_runs if t["flow"] == flow_name and
                     t["base_name"] == task_name]
            for t in cands[:2]:
                t["name"] = custom
        # Task runs with no state at all: state, state_id, state_type, state_name all null.
        for i in range(5):
            t = next(pool)
            t.update(has_state=False, state_id=None, state_type=None, state_name=None,
                     start=None, end=None, total=0, run_count=0, data=None, message=None,
                     details={}, state_ts=None)
            if i < 2:
                t["exp"] = None
            t["updated"] = t["created"] + rng.randint(1_000, 9_000)
        # A stale state_id (migration 3b86c5ea017a): the state row is gone, state loads as
        # null while the denormalized columns still say COMPLETED.
        for _ in range(2):
            t = next(pool)
            t.update(has_state=False, stale_state=True)
        # Unknown future keys (extras): kept verbatim by the engine.
        extras = ['"future_field":{"k":1}', '"future_field":[1,"two",null]',
                  '"future_field":{"ratio":1.50,"big":1E3}']
        for raw in extras:
            t = next(pool)
            t["extras"] = raw

    # ---- serialization -----------------------------------------------------------------

    def task_json(self, t):
        state = None
        if t["has_state"]:
            details = {"flow_run_id": t["flow_run_id"], "task_run_id": t["id"]}
            details.update(t["details"])
            state = self.state_doc(t["state_id"], t["state_type"], t["state_name"],
                                   t["state_ts"], t["message"], t["data"], **details)
        est_run = t["total"]
        if t["state_type"] == "RUNNING" and t["state_ts"] is not None:
            est_run = t["total"] + (NOW - t["state_ts"])
        delta = 0
        if t["start"] is not None and t["exp"] is not None and t["start"] > t["exp"]:
            delta = t["start"] - t["exp"]
        elif t["start"] is None and t["exp"] is not None and t["exp"] < NOW and \
                t["state_type"] not in TERMINAL:
            delta = NOW - t["exp"]
        doc = {
            "id": t["id"], "created": fmt_time(t["created"]), "updated": fmt_time(t["updated"]),
            "name": t["name"], "flow_run_id": t["flow_run_id"], "task_key": t["task_key"],
            "dynamic_key": t["dynamic_key"], "cache_key": t["cache_key"],
            "cache_expiration": fmt_time(t["cache_expiration"]),
            "task_version": t["task_version"], "empirical_policy": t["policy"],
            "tags": t["tags"], "labels": t["labels"], "state_id": t["state_id"],
            "task_inputs": t["task_inputs"], "state_type": t["state_type"],
            "state_name": t["state_name"], "run_count": t["run_count"],
            "flow_run_run_count": t["flow_run_run_count"],
            "expected_start_time": fmt_time(t["exp"]),
            "next_scheduled_start_time": fmt_time(t["next_scheduled"]),
            "start_time": fmt_time(t["start"]), "end_time": fmt_time(t["end"]),
            "total_run_time": seconds(t["total"]), "estimated_run_time": seconds(est_run),
            "estimated_start_time_delta": seconds(delta), "state": state,
        }
        assert list(doc) == TASK_RUN_KEYS
        line = dumps(doc)
        if t["extras"]:
            line = line[:-1] + "," + t["extras"] + "}"
        return line

    def flow_run_json(self, fr):
        dep = fr["dep"]
        queue = dep["queue"] if dep is not None else None
        pool = WORK_POOLS.get(queue) if queue else None
        details = {"flow_run_id": fr["id"]}
        if fr["state_type"] == "SCHEDULED":
            details["scheduled_time"] = fr["scheduled_time"] or fr["expected"]
        if fr["state_type"] == "PAUSED":
            details.update(pause_timeout=fr["pause"] + 2 * DAY, pause_key="approval-1",
                           pause_reschedule=False, run_input_keyset={
                               "description": "paused-approval-1-description",
                               "response": "paused-approval-1-response",
                               "schema": "paused-approval-1-schema"})
        if fr["state_type"] == "RUNNING" and dep is not None and dep["name"] == "hourly":
            details["deployment_concurrency_lease_id"] = self.new_id()
        state = self.state_doc(self.new_id(), fr["state_type"], fr["state_name"],
                               fr["state_ts"], fr["state_message"], None, **details)
        est_run = fr["total"]
        if fr["state_type"] == "RUNNING":
            est_run = fr["total"] + (NOW - fr["state_ts"])
        delta = 0
        if fr["start"] is not None and fr["start"] > fr["expected"]:
            delta = fr["start"] - fr["expected"]
        elif fr["start"] is None and fr["expected"] < NOW and \
                fr["state_type"] not in TERMINAL:
            delta = NOW - fr["expected"]
        labels = fr_labels(fr)
        params = dict(next(f[4] for f in FLOWS if f[0] == fr["flow"]))
        policy = {"max_retries": 0, "retry_delay_seconds": 0.0, "retries": 0,
                  "retry_delay": 0, "pause_keys": [], "resuming": False, "retry_type": None}
        if fr["state_type"] == "PAUSED":
            policy["pause_keys"] = ["approval-1"]
        doc = {
            "id": fr["id"], "created": fmt_time(fr["created"]), "updated": fmt_time(fr["updated"]),
            "name": fr["name"], "flow_id": fr["flow_id"], "state_id": state["id"],
            "deployment_id": dep["id"] if dep is not None else None,
            "deployment_version": dep["version"] if dep is not None else None,
            "work_queue_id": self.queue_id(queue) if queue else None,
            "work_queue_name": queue, "flow_version": fr["flow_version"],
            "parameters": params, "idempotency_key": fr["idempotency_key"], "context": {},
            "empirical_policy": policy, "tags": fr["tags"], "labels": labels,
            "parent_task_run_id": fr["parent_task_run_id"],
            "state_type": fr["state_type"], "state_name": fr["state_name"],
            "run_count": fr["run_count"], "expected_start_time": fmt_time(fr["expected"]),
            "next_scheduled_start_time": fmt_time(fr["next_scheduled"]),
            "start_time": fmt_time(fr["start"]), "end_time": fmt_time(fr["end"]),
            "total_run_time": seconds(fr["total"]), "estimated_run_time": seconds(est_run),
            "estimated_start_time_delta": seconds(delta),
            "auto_scheduled": fr["auto_scheduled"], "infrastructure_document_id": None,
            "infrastructure_pid": ("%s:%d" % (self.hex(8), self.rng.randint(100, 99999)))
            if pool and fr["run_count"] > 0 else None,
            "created_by": fr["created_by"],
            "work_pool_id": self.pool_id(pool) if pool else None, "work_pool_name": pool,
            "state": state,
            "job_variables": {} if dep is None else {"env": {"PREFECT_LOGGING_LEVEL": "INFO"}},
        }
        return dumps(doc)


def dep_tags(gen, dep):
    if dep.get("deleted"):
        return []
    return next(d for d in gen.deployments if d["id"] == dep["id"])["tags"]


def fr_labels(fr):
    labels = {"prefect.flow.id": fr["flow_id"]}
    if fr["dep"] is not None:
        labels.update(fr["dep"].get("labels", {}))
        labels["prefect.deployment.id"] = fr["dep"]["id"]
    return labels


def dumps(value):
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


# ---- request bodies ---------------------------------------------------------------------

def make_bodies(gen):
    """Request bodies shaped like the Prefect UI's, using ids and names from the data."""
    runs = [fr for fr in gen.flow_runs]
    live = [fr for fr in runs if fr["dep"] is not None and not fr["dep"]["deleted"]
            and fr["parent_task_run_id"] is None]
    big = max(live, key=lambda fr: (len(fr["tasks"]), fr["id"]))
    failed_run = max((fr for fr in live if fr["state_type"] == "FAILED"),
                     key=lambda fr: (sum(1 for t in fr["tasks"] if t["end"] is None),
                                     len(fr["tasks"]), fr["id"]))
    dangling = gen.deleted_deps[0]["id"]
    subflow = next(fr for fr in runs if fr["parent_task_run_id"] is not None)
    parent_task = next(t for t in gen.task_runs if t["id"] == subflow["parent_task_run_id"])
    deps = {(d["flow"], d["name"]): d["id"] for name in gen.deps_of_flow
            for d in gen.deps_of_flow[name]}
    some_tasks = sorted(t["id"] for t in gen.task_runs if t["flow"] == "ml-train")[:3]
    and_ = "and_"

    def tie_count(fr):
        seen = {}
        for t in fr["tasks"]:
            if t["exp"] is not None:
                seen[t["exp"]] = seen.get(t["exp"], 0) + 1
        return sum(n for n in seen.values() if n > 1)
    tie_run = max(live, key=lambda fr: (tie_count(fr), fr["id"]))
    n_tasks = len(gen.task_runs)

    bodies = [
        ("empty_body", "Every field defaulted: all task runs, ID_DESC, limit 200.", 200, {}),
        ("flow_run_page_timeline",
         "The flow-run page's task list: one flow run (the biggest), by expected start. "
         "flow_runs.id.any_ alone is Prefect's fast path.", 200,
         {"sort": "EXPECTED_START_TIME_ASC", "limit": 50, "page": 1,
          "flow_runs": {"operator": and_, "id": {"any_": [big["id"]]}}}),
        ("flow_run_page_by_flow_run_id",
         "The same flow run through task_runs.flow_run_id, page 2 of 20, newest first.", 200,
         {"sort": "EXPECTED_START_TIME_DESC", "limit": 20, "page": 2,
          "task_runs": {"operator": and_, "flow_run_id": {"operator": and_,
                                                          "any_": [big["id"]]}}}),
        ("failed_in_window",
         "Failed or crashed task runs with an expected start in one week (bounds inclusive).",
         200,
         {"sort": "EXPECTED_START_TIME_DESC", "limit": 25, "page": 1,
          "task_runs": {"operator": and_,
                        "state": {"operator": and_, "type": {"any_": ["FAILED", "CRASHED"]}},
                        "expected_start_time": {"after_": "2026-11-09T00:00:00Z",
                                                "before_": "2026-11-16T00:00:00Z"}}}),
        ("name_like_underscore_wildcard",
         "'_' is a wildcard: 'page_1' also matches 'page-1', 'page-10'...", 200,
         {"limit": 50, "task_runs": {"name": {"like_": "page_1"}}}),
        ("name_like_escaped_percent",
         "'100\\%' is a literal percent sign: only 'load 100%_done'.", 200,
         {"task_runs": {"name": {"like_": "100\\%"}}}),
        ("name_like_backslash",
         "A doubled backslash is one literal backslash: matches 'write C:\\data\\manifest.json'.",
         200, {"task_runs": {"name": {"like_": "C:\\\\data"}}}),
        ("name_like_trailing_backslash",
         "A trailing backslash escapes the closing '%': the pattern means 'ends with "
         "compact%', so 'compact\\partitions' does not match; nothing does.", 200,
         {"task_runs": {"name": {"like_": "compact\\"}}}),
        ("name_like_non_ascii",
         "ASCII-only folding: 'übersicht' does not match 'Übersicht_build-0' "
         "(nor would 'ÜBERSICHT'); 'BERSICHT' does.",
         200, {"task_runs": {"operator": "or_", "name": {"like_": "übersicht"}}}),
        ("name_like_non_ascii_exact", "Exact non-ASCII bytes: 'résumé' matches fetch_résumé-0.",
         200, {"task_runs": {"name": {"like_": "résumé"}}}),
        ("name_like_case_insensitive",
         "'EXTRACT' matches extract_orders-0 and extract-customers-0.", 200, {"sort": "NAME_ASC", "limit": 30, "task_runs": {"name": {"like_": "EXTRACT"}}}),
        ("name_any_exact", "Exact, case-sensitive names.", 200,
         {"task_runs": {"name": {"any_": ["transform-0", "Upsert-0", "upsert-0"]}}}),
        ("tags_all", "Task runs carrying both tags.", 200,
         {"task_runs": {"tags": {"operator": and_, "all_": ["critical", "io"]}}}),
        ("tags_is_null_true", "is_null_ true means an empty tags array.", 200,
         {"limit": 10, "task_runs": {"tags": {"is_null_": True}}}),
        ("flow_name_any", "Flow names, exact and case-sensitive.", 200,
         {"sort": "END_TIME_DESC", "limit": 20,
          "flows": {"operator": and_, "name": {"any_": ["etl_orders", "ETL-Customers"]}}}),
        ("flow_name_like", "'etl' matches etl_orders and ETL-Customers.", 200,
         {"flows": {"name": {"like_": "etl"}}}),
        ("flows_without_deployment",
         "Flows with no deployment anywhere (DataQuality, cleanup_tmp, Résumé-parser).", 200,
         {"flows": {"deployment": {"operator": and_, "is_null_": True}}}),
        ("deployment_ids", "Two deployments by id.", 200,
         {"deployments": {"operator": and_, "id": {"any_": [
             deps[("etl_orders", "nightly")], deps[("dbt_run", "prod")]]}}}),
        ("deployments_empty_object",
         "{} still forces the deployment join: drops ad hoc runs, subflows without a "
         "deployment, runs of deleted deployments and autonomous task runs.", 200,
         {"deployments": {}}),
        ("deployments_paused", "Paused deployments (their runs before the pause).", 200,
         {"deployments": {"paused": {"eq_": True}}}),
        ("deployment_name_like_underscore",
         "'s3_landing' matches both s3_landing and s3-landing.", 200,
         {"deployments": {"name": {"like_": "s3_landing"}}}),
        ("flow_or_deployment_name", "'daily' matches Report_Daily's deployments by flow name.",
         200, {"deployments": {"flow_or_deployment_name": {"like_": "daily"}}}),
        ("dangling_deployment_id",
         "flow_runs.deployment_id sees the stored id of a deleted deployment.", 200,
         {"flow_runs": {"deployment_id": {"operator": and_, "any_": [dangling]}}}),
        ("flow_run_state_types", "Task runs of running or pending flow runs.", 200,
         {"sort": "EXPECTED_START_TIME_DESC",
          "flow_runs": {"operator": and_, "state": {"operator": and_, "type": {
              "any_": ["RUNNING", "PENDING", "PAUSED", "CANCELLING"]}}}}),
        ("flow_run_state_any_and_not_any",
         "any_ with a non-empty not_any_ drops the whole type condition (paginate.md 4.1).",
         200, {"flow_runs": {"state": {"type": {"any_": ["COMPLETED"],
                                                "not_any_": ["FAILED"]}}}}),
        ("subflows_of_flow_run", "Task runs of the subflows of one flow run.", 200,
         {"flow_runs": {"parent_flow_run_id": {"operator": and_,
                                               "any_": [parent_task["flow_run_id"]]}}}),
        ("subflow_parent_tasks", "Task runs that have a subflow.", 200,
         {"task_runs": {"subflow_runs": {"exists_": True}}}),
        ("or_state_or_tags", "FAILED task runs or task runs tagged critical.", 200,
         {"sort": "NAME_DESC", "limit": 100,
          "task_runs": {"operator": "or_", "state": {"type": {"any_": ["FAILED"]}},
                        "tags": {"all_": ["critical"]}}}),
        ("or_with_empty_child", "An empty child under or_ makes the level TRUE: everything.",
         200, {"limit": 5, "task_runs": {"operator": "or_", "name": {},
                                         "tags": {"all_": ["gpu"]}}}),
        ("autonomous_only", "Task runs without a flow run.", 200,
         {"task_runs": {"flow_run_id": {"is_null_": True}}}),
        ("flow_run_id_empty_object", "flow_run_id {} means is_null_ false: hides them.", 200,
         {"task_runs": {"flow_run_id": {}}}),
        ("deep_page", "A deep page of the default order (the last page is %d)." %
         ((n_tasks + 24) // 25), 200, {"limit": 25, "page": (n_tasks + 24) // 25 - 5}),
        ("page_past_the_end", "Past the end: empty results, usual count.", 200,
         {"limit": 200, "page": 1000000}),
        ("sort_id_desc", "ID_DESC, explicit.", 200, {"sort": "ID_DESC", "limit": 10}),
        ("sort_next_scheduled_upcoming",
         "NEXT_SCHEDULED_START_TIME_ASC over scheduled task runs (AwaitingRetry, background).",
         200, {"sort": "NEXT_SCHEDULED_START_TIME_ASC", "limit": 10,
               "task_runs": {"state": {"type": {"any_": ["SCHEDULED"]}}}}),
        ("sort_expected_start_ties",
         "EXPECTED_START_TIME_ASC over a run whose mapped tasks share an expected start.", 200,
         {"sort": "EXPECTED_START_TIME_ASC", "limit": 200,
          "task_runs": {"flow_run_id": {"any_": [tie_run["id"]]}}}),
        ("sort_name_asc_null_state", "NAME_ASC among task runs with a null end time.", 200,
         {"sort": "NAME_ASC", "limit": 50, "task_runs": {"end_time": {"is_null_": True}}}),
        ("sort_end_time_desc_failed_run", "END_TIME_DESC in one failed flow run: NULLs first.",
         200, {"sort": "END_TIME_DESC",
               "flow_runs": {"id": {"any_": [failed_run["id"]]}}}),
        ("ids_any", "Three task runs by id.", 200,
         {"task_runs": {"id": {"any_": some_tasks}}}),
        ("limit_zero", "limit 0: no results, count computed, pages 0.", 200,
         {"limit": 0, "task_runs": {"state": {"type": {"any_": ["COMPLETED"]}}}}),
        ("invalid_limit", "limit above 200: the {\"detail\"} answer.", 422, {"limit": 500}),
        ("invalid_unknown_filter_key", "Task-run tags have no any_: extra_forbidden.", 422,
         {"task_runs": {"tags": {"any_": ["io"]}}}),
        ("invalid_uuid", "A bad UUID: uuid_parsing at body.task_runs.id.any_.0.", 422,
         {"task_runs": {"id": {"any_": ["not-a-uuid"]}}}),
        ("invalid_datetime", "November has 30 days: datetime_from_date_parsing.", 422,
         {"task_runs": {"expected_start_time": {"after_": "2026-11-31T00:00:00Z"}}}),
    ]
    lines = []
    for name, note, status, body in bodies:
        lines.append(dumps({"name": name, "note": note, "expect_status": status, "body": body}))
    return lines


# ---- checks -----------------------------------------------------------------------------

_DT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?Z$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_DT_KEYS = ("created", "updated", "cache_expiration", "expected_start_time",
            "next_scheduled_start_time", "start_time", "end_time")


def check(files):
    """Asserts the properties the README promises. files: name -> list of lines."""
    flows = [json.loads(l) for l in files["flows.ndjson"]]
    deps = [json.loads(l) for l in files["deployments.ndjson"]]
    frs = [json.loads(l) for l in files["flow_runs.ndjson"]]
    trs = [json.loads(l) for l in files["task_runs.ndjson"]]
    bodies = [json.loads(l) for l in files["queries.jsonl"]]
    assert [b["body"] for b in bodies] == [json.loads(l) for l in files["bodies.jsonl"]]
    flow_ids = {f["id"] for f in flows}
    dep_ids = {d["id"] for d in deps}
    fr_by_id = {f["id"]: f for f in frs}
    tr_by_id = {t["id"]: t for t in trs}
    assert len(flow_ids) == len(flows) == 12
    assert len(dep_ids) == len(deps) == 20
    assert 230 <= len(frs) <= 270, len(frs)
    assert 3000 <= len(trs) <= 5000, len(trs)
    assert len(fr_by_id) == len(frs) and len(tr_by_id) == len(trs)
    assert all(d["flow_id"] in flow_ids for d in deps)
    flows_with_dep = {d["flow_id"] for d in deps}
    assert len(flow_ids - flows_with_dep) == 3
    assert any(d["paused"] for d in deps) and any(not d["tags"] for d in deps)
    assert any(d["work_queue_name"] is None for d in deps)
    assert all(f["flow_id"] in flow_ids for f in frs)

    adhoc = [f for f in frs if f["deployment_id"] is None]
    dangling = [f for f in frs if f["deployment_id"] is not None and
                f["deployment_id"] not in dep_ids]
    assert len(adhoc) >= 20, len(adhoc)
    assert 3 <= len(dangling) <= 8, len(dangling)
    assert all(f["state_type"] in TERMINAL for f in dangling)
    subflows = [f for f in frs if f["parent_task_run_id"] is not None]
    assert 0.06 <= len(subflows) / len(frs) <= 0.10, len(subflows)
    for f in subflows:
        parent = tr_by_id[f["parent_task_run_id"]]
        assert parent["flow_run_id"] is not None and parent["flow_run_id"] != f["id"]
        assert parent["state"]["state_details"]["child_flow_run_id"] in (None, f["id"])
    nested = [f for f in subflows
              if fr_by_id[tr_by_id[f["parent_task_run_id"]]["flow_run_id"]]
              ["parent_task_run_id"] is not None]
    assert nested, "expected a subflow of a subflow"

    orphans = [t for t in trs if t["flow_run_id"] is not None and t["flow_run_id"] not in fr_by_id]
    assert not orphans
    autonomous = [t for t in trs if t["flow_run_id"] is None]
    assert 0.015 <= len(autonomous) / len(trs) <= 0.03, len(autonomous)
    empty_tags = sum(1 for t in trs if not t["tags"])
    assert 0.15 <= empty_tags / len(trs) <= 0.25, empty_tags
    assert len({tag for t in trs for tag in t["tags"]}) == len(TASK_TAGS)

    no_state = [t for t in trs if t["state"] is None]
    assert sum(1 for t in no_state if t["state_type"] is None and t["state_id"] is None) == 5
    assert sum(1 for t in no_state if t["state_type"] is not None and t["state_id"]) == 2
    types = {}
    for t in trs:
        types[t["state_type"]] = types.get(t["state_type"], 0) + 1
    for st in ("COMPLETED", "FAILED", "RUNNING", "SCHEDULED", "PENDING", "CANCELLED",
               "CRASHED", "PAUSED", "CANCELLING"):
        assert types.get(st, 0) > 0, st
    assert types["COMPLETED"] > len(trs) // 2
    names = {t["state_name"] for t in trs}
    for n in ("Completed", "Cached", "Failed", "Running", "Retrying", "AwaitingRetry",
              "Scheduled", "Pending", "Cancelled", "Crashed", "Paused", "Cancelling"):
        assert n in names, n
    assert "Late" in {f["state_name"] for f in frs}

    exp_counts = {}
    for t in trs:
        exp_counts[t["expected_start_time"]] = exp_counts.get(t["expected_start_time"], 0) + 1
    assert sum(1 for k, v in exp_counts.items() if k is not None and v > 1) >= 20
    all_names = [t["name"] for t in trs]
    assert any("%" in n for n in all_names) and any("\\" in n for n in all_names)
    assert any(any(ord(c) > 127 for c in n) for n in all_names)

    extras = 0
    for line, t in zip(files["task_runs.ndjson"], trs):
        keys = list(t)
        assert keys[:len(TASK_RUN_KEYS)] == TASK_RUN_KEYS, keys
        if len(keys) > len(TASK_RUN_KEYS):
            assert keys[len(TASK_RUN_KEYS):] == ["future_field"]
            extras += 1
        else:
            assert dumps(t) == line  # Python's own float and string forms
        for k in _DT_KEYS:
            assert t[k] is None or _DT.match(t[k]), (k, t[k])
        for k in ("id", "flow_run_id", "state_id"):
            assert t[k] is None or _UUID.match(t[k]), (k, t[k])
        for k in ("total_run_time", "estimated_run_time", "estimated_start_time_delta"):
            assert isinstance(t[k], float) and (t[k] == 0.0 or abs(t[k]) >= 1e-3), t[k]
        assert list(t["empirical_policy"]) == ["max_retries", "retry_delay_seconds", "retries",
                                               "retry_delay", "retry_jitter_factor"]
        for inputs in t["task_inputs"].values():
            for i in inputs:
                assert list(i)[0] == "input_type" and len(i) == 2
                if i["input_type"] == "task_run":
                    assert i["id"] in tr_by_id
                if i["input_type"] == "flow_run":
                    assert i["id"] in fr_by_id
        check_consistency(t)
        if t["state"] is not None:
            s = t["state"]
            assert list(s) == ["id", "type", "name", "timestamp", "message", "data",
                               "state_details"]
            assert [k for k, _ in STATE_DETAILS_DEFAULTS] == list(s["state_details"])
            assert s["id"] == t["state_id"] and s["type"] == t["state_type"]
            assert s["name"] == t["state_name"]
    assert extras == 3
    for f in frs:
        check_consistency(f)
    # Task runs lie inside their flow run; a subflow lies inside its parent task run.
    for t in trs:
        f = fr_by_id.get(t["flow_run_id"])
        if f is None or t["start_time"] is None or t["state"] is None:
            continue
        assert us(f["start_time"]) <= us(t["start_time"]), t["id"]
        if f["end_time"] is not None and t["end_time"] is not None:
            assert us(t["end_time"]) <= us(f["end_time"]), t["id"]
    for f in subflows:
        p = tr_by_id[f["parent_task_run_id"]]
        assert us(p["start_time"]) <= us(f["start_time"]), f["id"]
        if p["end_time"] is not None:
            assert us(f["end_time"]) <= us(p["end_time"]), f["id"]
    ids = [t["id"] for t in trs]
    assert ids == sorted(ids, reverse=True)  # dumped in /filter's default ID_DESC order
    assert len(bodies) >= 30 and all(set(b) == {"name", "note", "expect_status", "body"}
                                     for b in bodies)
    total = sum(len("\n".join(v)) + 1 for v in files.values())
    assert total < 6_500_000, total  # about 1.8 kB per full task-run line
    return {"flows": len(flows), "deployments": len(deps), "flow_runs": len(frs),
            "adhoc_flow_runs": len(adhoc), "dangling_flow_runs": len(dangling),
            "subflows": len(subflows), "nested_subflows": len(nested),
            "task_runs": len(trs), "autonomous": len(autonomous),
            "empty_tags": empty_tags, "no_state": len(no_state),
            "state_types": dict(sorted((str(k), v) for k, v in types.items())),
            "bodies": len(bodies), "bytes": total}


def us(text):
    """Inverse of fmt_time (None stays None)."""
    if text is None:
        return None
    d = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ" if "." in text else
                          "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    return (d - _EPOCH) // timedelta(microseconds=1)


def check_consistency(r):
    """Start, end and next-scheduled times agree with the state (paginate.md 9.5)."""
    st = r["state_type"]
    start, end, nxt = us(r["start_time"]), us(r["end_time"]), \
        us(r["next_scheduled_start_time"])
    for key in ("expected_start_time", "start_time", "end_time", "next_scheduled_start_time",
                "updated"):
        assert r[key] is None or WINDOW_START <= us(r[key]) <= WINDOW_END, (r["id"], key)
    assert us(r["created"]) <= us(r["updated"]), r["id"]
    assert us(r["created"]) <= NOW and us(r["updated"]) <= NOW, r["id"]
    for key in ("start_time", "end_time"):
        assert r[key] is None or us(r[key]) <= NOW, (r["id"], key)
    if r["state"] is None and st is None:
        assert start is None and end is None and nxt is None
        return
    if st in TERMINAL:
        assert start is not None and end is not None and start <= end and nxt is None, r["id"]
    elif st in ("RUNNING", "PAUSED", "CANCELLING"):
        assert start is not None and end is None and nxt is None, r["id"]
    elif st == "PENDING":
        assert start is None and end is None and nxt is None, r["id"]
    elif st == "SCHEDULED":
        assert end is None and nxt is not None, r["id"]
        assert (start is None) == (r["state_name"] != "AwaitingRetry"), r["id"]
    if r["state"] is not None:
        ts = us(r["state"]["timestamp"])
        assert ts <= NOW, r["id"]
        if st in TERMINAL:
            assert ts == end, r["id"]
        if st in ("RUNNING", "PAUSED", "CANCELLING"):
            assert start <= ts, r["id"]
    if start is not None and r["expected_start_time"] is not None and st != "CANCELLED":
        assert us(r["expected_start_time"]) <= start, r["id"]


# ---- main -------------------------------------------------------------------------------

def generate():
    gen = Generator(SEED)
    gen.make_flows()
    gen.make_deployments()
    gen.make_top_level_runs()
    gen.make_subflows(20)
    gen.make_autonomous(66)
    gen.special_cases()

    task_lines = [gen.task_json(t) for t in sorted(gen.task_runs, key=lambda t: t["id"],
                                                   reverse=True)]
    fr_lines = [gen.flow_run_json(fr) for fr in sorted(gen.flow_runs, key=lambda f: f["id"],
                                                       reverse=True)]
    dep_lines = [dumps(d) for d in sorted(gen.deployments,
                                          key=lambda d: (d["name"].encode(), d["id"]))]
    flow_lines = [dumps(f) for f in sorted(gen.flows, key=lambda f: f["name"].encode())]
    query_lines = make_bodies(gen)
    # bodies.jsonl: the bare bodies, one per line, as `taskdex query --bodies` reads them;
    # queries.jsonl: the same bodies with a name, a note and the expected status.
    body_lines = [dumps(json.loads(l)["body"]) for l in query_lines]
    return {"flows.ndjson": flow_lines, "deployments.ndjson": dep_lines,
            "flow_runs.ndjson": fr_lines, "task_runs.ndjson": task_lines,
            "queries.jsonl": query_lines, "bodies.jsonl": body_lines}


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default=os.path.join(here, "sample"),
                        help="output directory (default: data/sample next to this script)")
    args = parser.parse_args()
    files = generate()
    summary = check(files)
    os.makedirs(args.out, exist_ok=True)
    for name, lines in files.items():
        with open(os.path.join(args.out, name), "w", encoding="utf-8", newline="\n") as f:
            f.write("\n".join(lines) + "\n")
    print(json.dumps(summary, indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
