#!/usr/bin/env bash
# Everything CI runs (`make test`, `.ci/run`): release build and tests, a short
# fuzz run, then every test again under ASan+UBSan. Kafka and Cassandra are
# started for the tests labelled `kafka`/`cassandra` and always stopped again.
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=$(nproc)
# Each fuzz target (five: cron, CQL frames, HTTP requests, JSON jobs, Kafka
# tasks) runs this long.
FUZZ_SECONDS=${FUZZ_SECONDS:-30}

step() { printf '\n== %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

step "release build"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$JOBS"

step "unit tests (release)"
ctest --test-dir build -LE 'kafka|cassandra' --output-on-failure -j "$JOBS"

step "fuzz each target for ${FUZZ_SECONDS}s"
make --no-print-directory fuzz FUZZ_SECONDS="$FUZZ_SECONDS"

step "sanitizer build (ASan+UBSan)"
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DDTS_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$JOBS"

step "start Kafka and Cassandra"
trap 'bash scripts/services.sh down all' EXIT
bash scripts/services.sh up all

step "integration tests (release)"
ctest --test-dir build -L 'kafka|cassandra' --output-on-failure

step "all tests (ASan+UBSan)"
ctest --test-dir build-asan --output-on-failure -j "$JOBS"
