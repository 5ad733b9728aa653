#!/usr/bin/env bash
# First-time set-up: install what is missing, build, and run the sample query
# mix against the checked-in sample snapshot (data/sample).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DTASKDEX_BUILD_TESTS=OFF >/dev/null
cmake --build build -j"$(nproc)" --target taskdex
./build/api/taskdex query --snapshot data/sample --bodies data/sample/bodies.jsonl \
  --now 2026-11-27T12:00:00Z
