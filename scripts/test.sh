#!/usr/bin/env bash
# Builds and runs the whole test suite twice: once with -Werror, once under
# AddressSanitizer + UndefinedBehaviorSanitizer; then the concurrency tests
# alone under ThreadSanitizer. Installs missing packages first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
JOBS=$(nproc)
run_suite() {  # build-dir, extra cmake args...
  local dir=$1; shift
  echo "=== configure $dir ($*)"
  cmake -S . -B "$dir" -G Ninja -DTASKDEX_WERROR=ON "$@" >/dev/null
  echo "=== build $dir"
  cmake --build "$dir" -j"$JOBS"
  echo "=== test $dir"
  ctest --test-dir "$dir" --output-on-failure -j"$JOBS"
}
run_suite build-ci -DCMAKE_BUILD_TYPE=RelWithDebInfo

# The installed library works from another project via find_package (README).
echo "=== install + find_package consumer"
PREFIX=$(mktemp -d)
trap 'rm -rf "$PREFIX"' EXIT
cmake --install build-ci --prefix "$PREFIX/usr" >/dev/null
cmake -S tests/install_consumer -B "$PREFIX/consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$PREFIX/usr" >/dev/null
cmake --build "$PREFIX/consumer" -j"$JOBS" >/dev/null
got=$("$PREFIX/consumer/consumer" tests/data/examples/snapshot)
if [[ "$got" != "status 200 tagged_io 3" ]]; then
  echo "install consumer: expected 'status 200 tagged_io 3', got '$got'"
  exit 1
fi
echo "install consumer: $got"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DTASKDEX_SANITIZE=ON

# ThreadSanitizer: only the concurrency tests and the libraries they link
# (TSan slows code 5-15x and cannot share a build with ASan). Reports in
# Debian's uninstrumented libraries that are not races in our code are
# suppressed in tests/concurrency/tsan.supp, each with its reason.
echo "=== configure build-tsan (-DTASKDEX_TSAN=ON)"
cmake -S . -B build-tsan -G Ninja -DTASKDEX_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTASKDEX_TSAN=ON >/dev/null
echo "=== build build-tsan (taskdex_concurrency_test)"
cmake --build build-tsan -j"$JOBS" --target taskdex_concurrency_test
echo "=== test build-tsan"
TSAN_OPTIONS="halt_on_error=1:second_deadlock_stack=1:suppressions=$PWD/tests/concurrency/tsan.supp" \
  build-tsan/tests/taskdex_concurrency_test
echo "=== all suites passed"
