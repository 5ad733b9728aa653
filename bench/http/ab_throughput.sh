#!/usr/bin/env bash
# A/B throughput of two taskdex binaries on the UI mix, alternating:
#   bench/http/ab_throughput.sh OLD_BIN NEW_BIN SNAPSHOT QUERIES [SECONDS] [ROUNDS] [CONNS...]
# Both servers load SNAPSHOT and run side by side (one is idle while the
# other is measured); for each round and each connection count, wrk runs
# against A then B (the order flips every round). Prints one line per run
# and the medians per binary and connection count.
set -euo pipefail
OLD=$1; NEW=$2; SNAP=$3; QUERIES=$4; SECS=${5:-10}; ROUNDS=${6:-3}
CONNS=(4 8 64)
if (( $# > 6 )); then shift 6; CONNS=("$@"); fi
HERE=$(cd "$(dirname "$0")" && pwd)
ulimit -n 20000
trap 'pkill -P $$ 2>/dev/null || true' EXIT
start() {  # bin out
  "$1" serve --snapshot "$SNAP" --port 0 --threads 8 --log-level warning > "$2" 2>/dev/null &
  for _ in $(seq 600); do
    local p; p=$(sed -n 's|.*:\([0-9]*\)$|\1|p' "$2" | head -1)
    [[ -n "$p" ]] && curl -sf "http://127.0.0.1:$p/readyz" > /dev/null && { echo "$p"; return; }
    sleep 0.5
  done
  exit 1
}
PA=$(start "$OLD" /tmp/ab.a.out); PB=$(start "$NEW" /tmp/ab.b.out)
RES=$(mktemp)
run() {  # label port conns
  wrk -t1 -c"$3" -d"${SECS}s" --latency -s "$HERE/../wrk/paginate_mix.lua" "http://127.0.0.1:$2" -- "$QUERIES" > /tmp/ab.wrk
  local rps p99
  rps=$(awk '/Requests\/sec/ {print $2}' /tmp/ab.wrk)
  p99=$(awk '$1 == "99%" {print $2}' /tmp/ab.wrk)
  echo "$1 c$3 $rps $p99" | tee -a "$RES"
}
for r in $(seq "$ROUNDS"); do
  for c in "${CONNS[@]}"; do
    if (( r % 2 )); then run old "$PA" "$c"; run new "$PB" "$c"; else run new "$PB" "$c"; run old "$PA" "$c"; fi
  done
done
echo "median req/s (p99 of that run):"
for c in "${CONNS[@]}"; do
  for b in old new; do
    grep "^$b c$c " "$RES" | sort -k3 -n | awk -v b=$b -v c=$c '{a[NR]=$0} END {split(a[int((NR+1)/2)], f, " "); printf "  %s c%s: %s req/s, p99 %s\n", b, c, f[3], f[4]}'
  done
done
