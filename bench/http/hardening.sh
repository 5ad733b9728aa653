#!/usr/bin/env bash
# The serve hardening targets of issue 11, on one machine (loopback):
#   bench/http/hardening.sh BIN SNAPSHOT QUERIES [SECONDS]
# BIN is a taskdex binary, SNAPSHOT a snapshot dir (1M realistic task runs
# for the recorded figures), QUERIES a `taskdex generate --queries` file.
# Prints, per scenario, wrk's req/s, p50, p99 and non-2xx answers, the
# server's RSS, and for SIGTERM the time to exit and the load clients'
# complete / cut answers against the server's own count of answered
# requests. wrk, python3 and the server share the machine's cores.
set -euo pipefail
BIN=$1; SNAP=$2; QUERIES=$3; SECS=${4:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
WRK_SCRIPT=$HERE/../wrk/paginate_mix.lua
SLOW="python3 $HERE/slow_clients.py"
ulimit -n 20000
LOG=$(mktemp); OUT=$(mktemp)
trap 'pkill -P $$ 2>/dev/null || true; rm -f "$LOG" "$OUT"' EXIT

start_server() {  # extra args...
  "$BIN" serve --snapshot "$SNAP" --port 0 "$@" > "$OUT" 2> "$LOG" &
  SERVER=$!
  for _ in $(seq 600); do
    PORT=$(sed -n 's|.*:\([0-9]*\)$|\1|p' "$OUT" | head -1)
    [[ -n "$PORT" ]] && curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && return 0
    sleep 0.5
  done
  echo "server did not become ready" >&2; exit 1
}
rss_mb() { awk '/VmRSS/ {printf "%.0f", $2 / 1024}' "/proc/$SERVER/status"; }
wrk_run() {  # connections label
  wrk -t1 -c"$1" -d"${SECS}s" --latency -s "$WRK_SCRIPT" "http://127.0.0.1:$PORT" -- "$QUERIES" > /tmp/hardening.wrk
  local rps p50 p99 non2xx errors
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/hardening.wrk)
  p50=$(awk '$1 == "50%" {print $2}' /tmp/hardening.wrk)
  p99=$(awk '$1 == "99%" {print $2}' /tmp/hardening.wrk)
  non2xx=$(awk '/Non-2xx/ {print $5}' /tmp/hardening.wrk); non2xx=${non2xx:-0}
  errors=$(awk '/Socket errors/ {print $0}' /tmp/hardening.wrk | sed 's/.*Socket errors: //')
  printf '| %s | %s | %s | %s | %s | %s | %s MB |\n' "$2" "$1" "$rps" "$p50" "$p99" "$non2xx" "$(rss_mb)"
  [[ -n "$errors" ]] && echo "|   wrk socket errors: $errors |" || true
}

echo "| scenario | wrk conns | req/s | p50 | p99 | non-2xx | server RSS |"
echo "|---|---|---|---|---|---|---|"
start_server --threads 8 --log-level warning
STORE_MB=$(rss_mb)
echo "| loaded, no clients | | | | | | $STORE_MB MB |"
wrk_run 8 "UI mix alone"
wrk_run 1 "one normal client alone"
$SLOW "$PORT" slowloris 500 --interval 2 --seconds $((SECS + 8)) > /tmp/hardening.slow &
SLOWPID=$!
sleep 5
wrk_run 1 "one normal client, 500 slowloris"
wrk_run 8 "UI mix, 500 slowloris"
wait $SLOWPID; echo "|   slowloris: $(cat /tmp/hardening.slow) |"
$SLOW "$PORT" idle 2000 --refresh 4 --seconds $((SECS + 10)) > /tmp/hardening.idle &
IDLEPID=$!
sleep 6
echo "| 2,000 open keep-alive connections, no wrk | | | | | | $(rss_mb) MB |"
wrk_run 8 "UI mix, 2,000 idle keep-alive"
wait $IDLEPID; echo "|   idle: $(cat /tmp/hardening.idle) |"
kill -TERM $SERVER; wait $SERVER || true

# SIGTERM with 500 slow clients and 8 loading clients.
start_server --threads 8 --log-level info --shutdown-timeout 10
$SLOW "$PORT" slowloris 500 --interval 2 --seconds 60 > /dev/null &
$SLOW "$PORT" load 8 --seconds 60 --body "$QUERIES" > /tmp/hardening.load &
LOADPID=$!
sleep 5
T0=$(date +%s.%N)
kill -TERM $SERVER; wait $SERVER || true
T1=$(date +%s.%N)
wait $LOADPID || true
ANSWERED=$(grep -c '"msg":"request".*"path":"/api/task_runs/paginate"' "$LOG" || true)
printf '| SIGTERM, 500 slowloris + 8 loading | exit after %.2f s | server answered %s paginate requests | clients: %s |\n' \
  "$(echo "$T1 - $T0" | bc)" "$ANSWERED" "$(cat /tmp/hardening.load)"
