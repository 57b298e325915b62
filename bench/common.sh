# Shared by bench/generate.sh and bench/run.sh (sourced, from the repository's top folder):
# where the benchmark's database is (loopback only) and the bench-only audit key.
DB="${BENCH_DB:-haven_scale}"
SERVER="${BENCH_SERVER:-postgres://postgres@127.0.0.1:5432}"
case "$SERVER" in
  postgres://*@127.0.0.1:[0-9]*|postgres://*@localhost:[0-9]*) ;;
  *) echo "BENCH_SERVER must be a loopback address" >&2; exit 1 ;;
esac
case "$SERVER" in
  *[!a-zA-Z0-9_@:/.-]*|*@*@*) echo "BENCH_SERVER must be postgres://user@127.0.0.1:port, nothing more" >&2; exit 1 ;;
esac
# The name goes into URLs and SQL: a plain identifier only (no "?host=..." to send libpq elsewhere).
case "$DB" in
  '' | [!a-z_]* | *[!a-z0-9_]*) echo "BENCH_DB must be lower-case letters, digits and underscores" >&2; exit 1 ;;
esac
# Nothing in the environment may send libpq (psql, pgbench) to another host than the URL's.
unset PGHOSTADDR PGSERVICE PGSERVICEFILE
URL="$SERVER/$DB"
# Release builds measure; BENCH_PROFILE=dev reuses the test suite's debug build (the smoke run).
case "${BENCH_PROFILE:-release}" in
  release) CARGO_PROFILE=--release; BIN_DIR=target/release ;;
  dev) CARGO_PROFILE=; BIN_DIR=target/debug ;;
  *) echo "BENCH_PROFILE must be release or dev" >&2; exit 1 ;;
esac
# The key the bench server signs its audit trail with (bench only: never a real deployment's).
export HAVEN_SECRET_KEY="${HAVEN_SECRET_KEY:-$(printf 'b%.0s' {1..64})}"
