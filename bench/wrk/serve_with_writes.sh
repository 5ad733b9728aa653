#!/usr/bin/env bash
# The paginate mix over HTTP while a writer applies change batches through
# POST /taskdex/v1/apply (issue 10's serve target): starts `taskdex serve
# --enable-writes`, runs wrk alone, then wrk again while a writer posts
# BATCH-line chunks of CHANGES at RATE changes/s, and prints both.
#
#   bench/wrk/serve_with_writes.sh TASKDEX SNAPSHOT QUERIES CHANGES [RATE] [BATCH] [SECONDS] [CONNS]
#
# CHANGES is a change file (`taskdex generate ... --changes FILE`). Needs wrk
# and curl. The writer is curl in a loop: its own CPU is on the same cores.
set -euo pipefail
TASKDEX=$1 SNAP=$2 QUERIES=$3 CHANGES=$4
RATE=${5:-10000} BATCH=${6:-1000} SECONDS_=${7:-15} CONNS=${8:-4}
DIR=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
SERVER= WRITER=
PORT=$((20000 + RANDOM % 20000))
cleanup() { [[ -n $WRITER ]] && kill "$WRITER" 2>/dev/null; [[ -n $SERVER ]] && kill "$SERVER" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
"$TASKDEX" serve --snapshot "$SNAP" --port "$PORT" --threads 8 --log-level warning \
  --enable-writes --max-body-bytes 67108864 2>"$TMP/serve.err" &
SERVER=$!
until curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null; do
  kill -0 "$SERVER" 2>/dev/null || { cat "$TMP/serve.err"; exit 1; }
  sleep 1
done
split -l "$BATCH" -d -a 6 "$CHANGES" "$TMP/chunk."
echo "=== paginate mix alone (c$CONNS, ${SECONDS_}s)"
wrk -t1 -c"$CONNS" -d"${SECONDS_}s" --latency -s "$DIR/paginate_mix.lua" \
  "http://127.0.0.1:$PORT" -- "$QUERIES" | grep -E "Requests/sec|50%|99%|Latency "
# The writer: one chunk every BATCH/RATE seconds.
(
  interval=$(awk -v b="$BATCH" -v r="$RATE" 'BEGIN { printf "%.6f", b / r }')
  start=$(date +%s.%N)
  n=0
  for f in "$TMP"/chunk.*; do
    curl -sf -XPOST -H "Content-Type: application/x-ndjson" --data-binary @"$f" \
      "http://127.0.0.1:$PORT/taskdex/v1/apply" >/dev/null
    n=$((n + 1))
    due=$(awk -v s="$start" -v n="$n" -v i="$interval" 'BEGIN { printf "%.6f", s + n * i }')
    now=$(date +%s.%N)
    sleep "$(awk -v d="$due" -v n="$now" 'BEGIN { x = d - n; if (x < 0) x = 0; printf "%.6f", x }')"
  done
) &
WRITER=$!
sleep 1
before=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^taskdex_apply_seconds_count/ {print $2}')
echo "=== paginate mix while writing $RATE changes/s in batches of $BATCH (c$CONNS, ${SECONDS_}s)"
wrk -t1 -c"$CONNS" -d"${SECONDS_}s" --latency -s "$DIR/paginate_mix.lua" \
  "http://127.0.0.1:$PORT" -- "$QUERIES" | grep -E "Requests/sec|50%|99%|Latency "
after=$(curl -s "http://127.0.0.1:$PORT/metrics" | awk '/^taskdex_apply_seconds_count/ {print $2}')
echo "batches applied during the run: $((after - before)) ($(( (after - before) * BATCH / SECONDS_ )) changes/s)"
curl -s "http://127.0.0.1:$PORT/metrics" | grep -E "^taskdex_(version|segments|tombstones|merges_total|apply_seconds)"
