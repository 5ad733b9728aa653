#!/usr/bin/env bash
# End-to-end checks of the taskdex command line: help, exit codes, --body,
# --bodies, --now, load failures. Usage: cli_test.sh TASKDEX EXAMPLES_SNAPSHOT SAMPLE_DIR
set -uo pipefail
TASKDEX=$1 SNAP=$2 SAMPLE=$3
TMP=$(mktemp -d); trap 'rm -rf "$TMP"' EXIT
failures=0 checks=0
check() {  # description, condition...
  local what=$1; shift
  checks=$((checks + 1))
  if "$@"; then :; else echo "FAIL: $what"; failures=$((failures + 1)); fi
}
contains() { grep -qF -- "$2" "$1"; }

"$TASKDEX" --help >"$TMP/out" 2>&1; rc=$?
check "taskdex --help exits 0" test $rc -eq 0
check "taskdex --help lists query" contains "$TMP/out" "query"
"$TASKDEX" query --help >"$TMP/out" 2>&1; rc=$?
check "query --help exits 0" test $rc -eq 0
for opt in --snapshot --body --bodies --now --skip-bad-lines --threads --load-threads --quiet; do
  check "query --help documents $opt" contains "$TMP/out" "$opt"
done
"$TASKDEX" frobnicate >"$TMP/out" 2>&1; rc=$?
check "unknown command exits 1" test $rc -eq 1

NOW=2024-05-01T12:00:00Z
echo '{"limit": 2}' | "$TASKDEX" query --snapshot "$SNAP" --now $NOW --quiet >"$TMP/out" 2>"$TMP/err"; rc=$?
check "200 exits 0" test $rc -eq 0
check "limit 2 page" contains "$TMP/out" '"count":7,"limit":2,"pages":4,"page":1}'
check "--quiet keeps stderr empty" test ! -s "$TMP/err"

printf '%s' '{"page": 0}' >"$TMP/body.json"
"$TASKDEX" query --snapshot "$SNAP" --body "$TMP/body.json" --quiet >"$TMP/out" 2>&1; rc=$?
check "422 exits 2" test $rc -eq 2
check "422 body printed" contains "$TMP/out" '"type":"greater_than_equal","loc":["body","page"]'

: >"$TMP/empty.json"
"$TASKDEX" query --snapshot "$SNAP" --body "$TMP/empty.json" --now $NOW >"$TMP/out" 2>"$TMP/err"; rc=$?
check "empty body means defaults" contains "$TMP/out" '"count":7,"limit":200,"pages":1,"page":1}'
check "load summary on stderr" test -s "$TMP/err"

"$TASKDEX" query --snapshot "$TMP/nowhere" --body "$TMP/empty.json" >"$TMP/out" 2>"$TMP/err"; rc=$?
check "missing snapshot exits 1" test $rc -eq 1
check "missing snapshot names task_runs.ndjson" contains "$TMP/err" "task_runs.ndjson"

"$TASKDEX" query --snapshot "$SNAP" --now yesterday --body "$TMP/empty.json" >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bad --now exits 1" test $rc -eq 1
check "bad --now is named" contains "$TMP/err" "--now"

printf '%s\n' '{"limit": 1}' '' '{"limit": 1,}' '{"task_runs": {"id": {"any_": ["nope"]}}}' '{"limit": 201}' >"$TMP/bodies.jsonl"
"$TASKDEX" query --snapshot "$SNAP" --bodies "$TMP/bodies.jsonl" --now $NOW --quiet >"$TMP/out" 2>&1; rc=$?
check "--bodies exits 0" test $rc -eq 0
check "--bodies prints one line per body" test "$(wc -l <"$TMP/out")" -eq 4
check "--bodies line 1 is 200" test "$(sed -n 1p "$TMP/out" | cut -c1-20)" = '{"status":200,"body"'
check "--bodies malformed line gets 422 json_invalid" contains "$TMP/out" '"type":"json_invalid"'
check "--bodies bad uuid gets uuid_parsing" contains "$TMP/out" '"type":"uuid_parsing"'
check "--bodies limit gets detail" contains "$TMP/out" '{"status":422,"body":{"detail":"Invalid limit: must be less than or equal to 200."}}'

# Named lines as `taskdex generate --queries` writes them stand for their body.
printf '%s\n' '{"name": "two", "body": {"limit": 2}}' '{"limit": 2}' \
  '{"name": "str", "body": "{\"limit\": 3}"}' '{"name": "x", "body": {"limit": 1}, "page": 2}' \
  '{"name": "bad", "body": {"page": 0}}' >"$TMP/named.jsonl"
"$TASKDEX" query --snapshot "$SNAP" --bodies "$TMP/named.jsonl" --now $NOW --quiet >"$TMP/out" 2>&1; rc=$?
check "--bodies named lines exit 0" test $rc -eq 0
check "--bodies named lines: one answer each" test "$(wc -l <"$TMP/out")" -eq 5
check "--bodies named body is unwrapped" contains <(sed -n 1p "$TMP/out") '"count":7,"limit":2,"pages":4,"page":1}'
check "--bodies named and bare bodies answer alike" test "$(sed -n 1p "$TMP/out")" = "$(sed -n 2p "$TMP/out")"
check "--bodies named string body is parsed" contains <(sed -n 3p "$TMP/out") '"count":7,"limit":3,"pages":3,"page":1}'
check "--bodies other keys mean a bare body" contains <(sed -n 4p "$TMP/out") '"count":7,"limit":200,"pages":1,"page":2}'
check "--bodies named invalid body gets 422" contains <(sed -n 5p "$TMP/out") '{"status":422,'

if [[ -f "$SAMPLE/task_runs.ndjson" && -f "$SAMPLE/bodies.jsonl" ]]; then
  "$TASKDEX" query --snapshot "$SAMPLE" --bodies "$SAMPLE/bodies.jsonl" --now 2026-11-27T12:00:00Z >"$TMP/out" 2>"$TMP/err"; rc=$?
  check "sample bodies answered" test $rc -eq 0
  want=$(grep -cv '^[[:space:]]*$' "$SAMPLE/bodies.jsonl")
  check "sample: one answer per body" test "$(wc -l <"$TMP/out")" -eq "$want"
  check "sample: some 200 answers" contains "$TMP/out" '{"status":200,'
fi

# apply: a change file in batches, then bodies on the result.
cat >"$TMP/changes.ndjson" <<'CHANGES'
{"op":"delete","entity":"flow_run","id":"a1000000-0000-4000-8000-000000000000"}

{"op":"upsert","entity":"flow","row":{"id":"f9000000-0000-4000-8000-000000000000","name":"added-by-apply","tags":[]}}
CHANGES
echo '{"limit":0}' >"$TMP/count.jsonl"
"$TASKDEX" apply --snapshot "$SNAP" --changes "$TMP/changes.ndjson" --batch 1 --bodies "$TMP/count.jsonl" \
  >"$TMP/out" 2>"$TMP/err"; rc=$?
check "apply exits 0" test $rc -eq 0
check "apply: the flow run's 2 task runs are deleted with it (7 - 2)" contains "$TMP/out" '"count":5,'
check "apply prints its summary" contains "$TMP/err" 'applied 2 changes in 2 batches (0 rejected)'
printf '%s\n' '{"op":"delete","entity":"flow_run","id":"a1000000-0000-4000-8000-000000000000"}' \
  '{"op":"upsert","entity":"task_run","row":{"id":"not-a-uuid"}}' >"$TMP/bad.ndjson"
"$TASKDEX" apply --snapshot "$SNAP" --changes "$TMP/bad.ndjson" --bodies "$TMP/count.jsonl" \
  >"$TMP/out" 2>"$TMP/err"; rc=$?
check "apply: a rejected batch exits 2" test $rc -eq 2
check "apply: the error names the line and key" contains "$TMP/err" 'bad.ndjson:2: row.id:'
check "apply: nothing of the rejected batch is applied" contains "$TMP/out" '"count":7,'
"$TASKDEX" apply --help >"$TMP/out"; rc=$?
check "apply --help exits 0" test $rc -eq 0
check "apply --help explains the change file" contains "$TMP/out" '"op": "delete"'
"$TASKDEX" apply --snapshot "$SNAP" >"$TMP/out" 2>"$TMP/err"; rc=$?
check "apply without --changes exits 1" test $rc -eq 1
check "apply without --changes says so" contains "$TMP/err" '--changes FILE is required'

# generate -> query --bodies -> bench --compare-sqlite on a small data set.
"$TASKDEX" generate --task-runs 3000 --seed 5 --out "$TMP/gen" --queries "$TMP/gen.q" --quiet; rc=$?
check "generate exits 0" test $rc -eq 0
check "generate writes task_runs.ndjson" test "$(wc -l <"$TMP/gen/task_runs.ndjson")" -eq 3000
"$TASKDEX" query --snapshot "$TMP/gen" --bodies "$TMP/gen.q" --now 2026-11-27T12:00:00Z --quiet >"$TMP/out" 2>&1; rc=$?
check "query answers the generated mix" test $rc -eq 0
check "query: one answer per generated body" test "$(wc -l <"$TMP/out")" -eq "$(wc -l <"$TMP/gen.q")"
check "query: every generated body is a 200" test "$(grep -c '^{"status":200,' "$TMP/out")" -eq "$(wc -l <"$TMP/gen.q")"
"$TASKDEX" bench --snapshot "$TMP/gen" --bodies "$TMP/gen.q" --repeat 2 --max-seconds 0.05 \
  --compare-sqlite --json --now 2026-11-27T12:00:00Z >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bench --compare-sqlite exits 0" test $rc -eq 0
check "bench prints the load line" contains "$TMP/out" '"event":"load"'
check "bench prints RSS after load" contains "$TMP/out" '"rss_mb":'
check "bench prints median_query_ratio" contains "$TMP/out" '"median_query_ratio":'
check "bench finds no mismatch" contains "$TMP/out" '"mismatches":0'
"$TASKDEX" bench --snapshot "$TMP/gen" --bodies "$TMP/gen.q" --repeat 1 --max-seconds 0.01 \
  --compare-sqlite --now 2026-11-27T12:00:00Z >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bench table exits 0" test $rc -eq 0
check "bench table prints median_query_ratio" contains "$TMP/out" 'median_query_ratio'
check "bench table prints MB/s" contains "$TMP/out" 'MB/s'
check "bench table prints min_query_ratio" contains "$TMP/out" 'min_query_ratio'
# --random: valid bodies drawn from the data, checked against SQLite too.
"$TASKDEX" bench --snapshot "$TMP/gen" --random 40 --seed 3 --repeat 1 --max-seconds 0.01 \
  --compare-sqlite --json --now 2026-11-27T12:00:00Z >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bench --random exits 0" test $rc -eq 0
check "bench --random: 40 bodies, all 200" \
  test "$(grep -c '"set":"random","name":"random[0-9]*","status":200,' "$TMP/out")" -eq 40
check "bench --random prints the slowest bodies" contains "$TMP/out" '"event":"slowest"'
check "bench --random finds no mismatch" contains "$TMP/out" '"mismatches":0'
# --changes: the tables time a store built by segments and merges.
"$TASKDEX" generate --task-runs 3000 --seed 6 --out "$TMP/gen2" --queries "$TMP/gen2.q" \
  --changes "$TMP/gen2.changes" --change-lines 2000 --quiet; rc=$?
check "generate --changes exits 0" test $rc -eq 0
"$TASKDEX" bench --snapshot "$TMP/gen2" --bodies "$TMP/gen2.q" --changes "$TMP/gen2.changes" \
  --write-batch 100 --repeat 1 --max-seconds 0.01 --json --now 2026-11-27T12:00:00Z \
  >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bench --changes exits 0" test $rc -eq 0
check "bench --changes reports the changes applied" contains "$TMP/out" '"event":"changes","changes":2000,'
"$TASKDEX" bench --snapshot "$TMP/gen2" --bodies "$TMP/gen2.q" --changes "$TMP/gen2.changes" --compare-sqlite \
  >"$TMP/out" 2>"$TMP/err"; rc=$?
check "bench --changes --compare-sqlite is refused" test $rc -eq 2
check "bench --changes --compare-sqlite says why" contains "$TMP/err" 'cannot be combined'

# `taskdex serve` itself: the port line on stdout at --log-level warning,
# flags over environment variables, a paginate over a real socket, SIGTERM.
# HTTP by bash's /dev/tcp (no client to install); every wait is bounded.
http() {  # port, method, path, body, [extra header line] -> response on stdout
  local body=$4
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: %d\r\n%s\r\n%s' \
    "$2" "$3" "${#body}" "${5:+$5$'\r\n'}" "$body" >&3
  timeout 10 cat <&3
  exec 3<&-
}
TASKDEX_PORT=1 TASKDEX_AUTH_STRING=env:secret TASKDEX_LOG_LEVEL=info \
  "$TASKDEX" serve --snapshot "$SNAP" --host 127.0.0.1 --port 0 --auth-string flag:secret \
  --log-level warning >"$TMP/serve.out" 2>"$TMP/serve.err" &
SERVE=$!
for _ in $(seq 1 100); do contains "$TMP/serve.out" "listening on" && break; sleep 0.1; done
PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$TMP/serve.out")
check "serve --port 0 prints 'listening on http://HOST:PORT' on stdout at warning" test -n "$PORT"
check "serve --log-level warning (flag over TASKDEX_LOG_LEVEL) logs nothing at start" test ! -s "$TMP/serve.err"
if [[ -n $PORT ]]; then
  for _ in $(seq 1 100); do http "$PORT" GET /readyz "" | contains /dev/stdin '"message":"OK"' && break; sleep 0.1; done
  FLAG_AUTH="Authorization: Basic $(printf 'flag:secret' | base64)"
  ENV_AUTH="Authorization: Basic $(printf 'env:secret' | base64)"
  http "$PORT" POST /api/task_runs/paginate '{"limit": 2}' "$FLAG_AUTH" >"$TMP/resp"
  check "serve answers paginate with the --auth-string credentials" contains "$TMP/resp" '"count":7,"limit":2,"pages":4,"page":1}'
  http "$PORT" POST /api/task_runs/paginate '{"limit": 2}' "$ENV_AUTH" >"$TMP/resp"
  check "serve: --auth-string wins over TASKDEX_AUTH_STRING" contains "$TMP/resp" 'HTTP/1.1 401'
fi
kill -TERM "$SERVE" 2>/dev/null
for _ in $(seq 1 150); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$SERVE" 2>/dev/null; then
  check "serve exits within 15 s of SIGTERM" false
  kill -KILL "$SERVE"
else
  wait "$SERVE"; rc=$?
  check "serve exits 0 on SIGTERM" test $rc -eq 0
fi

# taskdex save: a binary snapshot that answers as the NDJSON one does, and
# a damaged one refused with the file named.
"$TASKDEX" save --help >"$TMP/out" 2>&1; rc=$?
check "save --help exits 0" test $rc -eq 0
for opt in --snapshot --out --load-threads --prefault --no-prefault --quiet; do
  check "save --help documents $opt" contains "$TMP/out" "$opt"
done
"$TASKDEX" save --snapshot "$SAMPLE" >"$TMP/out" 2>&1; rc=$?
check "save without --out exits 1" test $rc -eq 1
check "save without --out says so" contains "$TMP/out" "--out DIR is required"
if [[ -f "$SAMPLE/task_runs.ndjson" && -f "$SAMPLE/bodies.jsonl" ]]; then
  "$TASKDEX" save --snapshot "$SAMPLE" --out "$TMP/bin" >"$TMP/out" 2>"$TMP/err"; rc=$?
  check "save exits 0" test $rc -eq 0
  check "save says what it wrote" contains "$TMP/err" "saved binary snapshot"
  check "save writes a manifest" test -f "$TMP/bin/manifest.json"
  "$TASKDEX" query --snapshot "$SAMPLE" --bodies "$SAMPLE/bodies.jsonl" --now $NOW --quiet >"$TMP/nd.out" 2>&1
  "$TASKDEX" query --snapshot "$TMP/bin" --bodies "$SAMPLE/bodies.jsonl" --now $NOW >"$TMP/bin.out" 2>"$TMP/err"
  check "binary snapshot answers the sample bodies byte for byte as the NDJSON" cmp -s "$TMP/nd.out" "$TMP/bin.out"
  check "query says it loaded a binary snapshot" contains "$TMP/err" "of binary snapshot"
  "$TASKDEX" query --snapshot "$TMP/bin" --prefault --bodies "$SAMPLE/bodies.jsonl" --now $NOW --quiet >"$TMP/populated.out" 2>&1
  check "query --prefault (pages read before decoding) answers alike" cmp -s "$TMP/nd.out" "$TMP/populated.out"
  for cmd in query apply bench serve; do
    "$TASKDEX" $cmd --help >"$TMP/help" 2>&1
    check "$cmd --help documents --prefault and --no-prefault" contains "$TMP/help" "--prefault, --no-prefault"
  done
  seg=$(ls "$TMP"/bin/seg-*.tdx)
  head -c 1000 "$seg" >"$TMP/cut" && cp "$TMP/cut" "$seg"
  echo '{}' | "$TASKDEX" query --snapshot "$TMP/bin" --quiet >"$TMP/out" 2>&1; rc=$?
  check "a truncated binary snapshot exits 1" test $rc -eq 1
  check "a truncated binary snapshot names the file" contains "$TMP/out" "$(basename "$seg")"
fi

# serve --checkpoint-dir: POST /taskdex/v1/checkpoint writes a binary snapshot
# of what is served, which then loads and answers alike.
unset TASKDEX_AUTH_STRING PREFECT_SERVER_API_AUTH_STRING
"$TASKDEX" serve --snapshot "$SNAP" --host 127.0.0.1 --port 0 --log-level warning \
  --checkpoint-dir "$TMP/ckpt" >"$TMP/serve2.out" 2>"$TMP/serve2.err" &
SERVE=$!
for _ in $(seq 1 100); do contains "$TMP/serve2.out" "listening on" && break; sleep 0.1; done
PORT=$(sed -n 's|^listening on http://127.0.0.1:\([0-9]*\)$|\1|p' "$TMP/serve2.out")
if [[ -n $PORT ]]; then
  for _ in $(seq 1 100); do http "$PORT" GET /readyz "" | contains /dev/stdin '"message":"OK"' && break; sleep 0.1; done
  http "$PORT" POST /taskdex/v1/checkpoint "" >"$TMP/resp"
  check "serve --checkpoint-dir: POST /taskdex/v1/checkpoint answers 200" contains "$TMP/resp" 'HTTP/1.1 200'
  check "the checkpoint's answer names its snapshot" contains "$TMP/resp" '"snapshot_id":"'
  echo '{"limit": 2}' | "$TASKDEX" query --snapshot "$TMP/ckpt" --now $NOW --quiet >"$TMP/out" 2>&1
  check "the checkpoint loads and answers as the snapshot" contains "$TMP/out" '"count":7,"limit":2,"pages":4,"page":1}'
else
  check "serve --checkpoint-dir starts" false
fi
kill -TERM "$SERVE" 2>/dev/null
wait "$SERVE" 2>/dev/null
"$TASKDEX" serve --snapshot "$SNAP" --checkpoint-every 10m >"$TMP/out" 2>&1; rc=$?
check "--checkpoint-every without --checkpoint-dir exits 1" test $rc -eq 1
check "--checkpoint-every without --checkpoint-dir says so" contains "$TMP/out" "needs --checkpoint-dir"

echo "cli_test: $((checks - failures)) passed, $failures failed"
test $failures -eq 0
