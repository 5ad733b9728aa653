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
for opt in --snapshot --body --bodies --now --skip-bad-lines --threads --quiet; do
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

if [[ -f "$SAMPLE/task_runs.ndjson" && -f "$SAMPLE/bodies.jsonl" ]]; then
  "$TASKDEX" query --snapshot "$SAMPLE" --bodies "$SAMPLE/bodies.jsonl" --now 2026-11-27T12:00:00Z >"$TMP/out" 2>"$TMP/err"; rc=$?
  check "sample bodies answered" test $rc -eq 0
  want=$(grep -cv '^[[:space:]]*$' "$SAMPLE/bodies.jsonl")
  check "sample: one answer per body" test "$(wc -l <"$TMP/out")" -eq "$want"
  check "sample: some 200 answers" contains "$TMP/out" '{"status":200,'
fi

echo "cli_test: $((checks - failures)) passed, $failures failed"
test $failures -eq 0
