#!/usr/bin/env bash
# The benchmark's smoke run, part of .ci/run: both commands of bench/README.md end to end on a
# small scratch database (20,000 cases), with the test suite's debug build, one second a
# scenario. It checks that the benchmark still runs (the generator against the current schema,
# every scenario answered as expected, no errors), not how fast anything is: the figures of a
# debug build on a shared CI machine mean nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
# A database of its own (this run's process id in the name, made here and dropped on the way
# out), so two runs on one PostgreSQL never touch each other's; a run killed outright leaves
# haven_bench_smoke_<pid> behind, to drop by hand.
export BENCH_DB="haven_bench_smoke_$$" BENCH_PROFILE=dev BENCH_CASES="${BENCH_CASES:-20000}"
export BENCH_SECONDS=1 BENCH_WARMUP=1
export BENCH_PORT="${BENCH_PORT:-$((20000 + $$ % 6000 * 2))}"
export BENCH_REFERENCE_PORT="${BENCH_REFERENCE_PORT:-$((BENCH_PORT + 1))}"
unset BENCH_AUDIT_ROWS BENCH_HAVEN_BIN BENCH_ONLY BENCH_CONCURRENCY
. bench/common.sh
trap 'psql "$SERVER/postgres" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)"' EXIT
bench/generate.sh
bench/run.sh
# The generator's trail and everything the run wrote to it (views, lists, notes, referrals) chain.
DATABASE_URL="$URL" HAVEN_MIGRATE=off HAVEN_AUDIT_ANCHOR_FILE=off "$BIN_DIR/haven" verify-audit
