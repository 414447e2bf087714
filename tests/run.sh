#!/usr/bin/env bash
# tests/run.sh — THE test command: install dependencies, build, run the whole suite.
#
# Usage: bash tests/run.sh [--asan] [--no-deps] [CTEST ARGS...]
#
#   (none)      build in build/ (RelWithDebInfo) and run every test not labelled "long"
#   --asan      build in build-asan/ with -DPLS_SANITIZE=ON (AddressSanitizer + UBSan, leak
#               checking on) and run the same suite
#   --no-deps   do not run deploy/install-deps.sh (it is fast when nothing is missing)
#   CTEST ARGS  passed to ctest, e.g. -R test_harness_pg, -L unit, -j2, -V
#
# Steps: deploy/install-deps.sh; cmake -B BUILD; make -j2; start one private PostgreSQL 15
# for the whole suite (deploy/pg.sh, in /tmp/pls-pg.XXXXXX, on a free port, never 5432);
# export PLS_TEST_PGHOST, PLS_TEST_PGPORT, PLS_TEST_PGUSER (each integration test makes its
# own database on it); ctest --output-on-failure -LE long; stop PostgreSQL and remove its
# directory (also when interrupted). Exits with ctest's status.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT=$(pwd)

asan=0
deps=1
ctest_args=()
for arg in "$@"; do
    case $arg in
    --asan) asan=1 ;;
    --no-deps) deps=0 ;;
    -h | --help)
        sed -n '3,11p' "$0" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    *) ctest_args+=("$arg") ;;
    esac
done

say() { echo "== tests/run.sh: $*" >&2; }

if ((deps)); then
    bash deploy/install-deps.sh
fi

if ((asan)); then
    BUILD=$ROOT/build-asan
    cmake_args=(-DPLS_SANITIZE=ON)
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
else
    BUILD=$ROOT/build
    cmake_args=()
fi

say "configure and build in ${BUILD#"$ROOT"/}"
cmake -S "$ROOT" -B "$BUILD" "${cmake_args[@]}"
cmake --build "$BUILD" -j "${PLS_JOBS:-2}"

PGDIR=$(mktemp -d /tmp/pls-pg.XXXXXX)
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
    local rc=$?
    bash "$ROOT/deploy/pg.sh" stop "$PGDIR" >/dev/null 2>&1 ||
        bash "$ROOT/deploy/pg.sh" stop "$PGDIR" -m immediate >/dev/null 2>&1 || true
    rm -rf "$PGDIR"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

say "start PostgreSQL for the suite in $PGDIR"
if ! bash deploy/pg.sh start "$PGDIR" >/dev/null; then
    echo "tests/run.sh: could not start PostgreSQL" >&2
    exit 1
fi
# Should this script be killed with SIGKILL, a watchdog still removes the server.
bash deploy/pg.sh watch "$PGDIR" $$
export PLS_TEST_PGHOST=$PGDIR
PLS_TEST_PGPORT=$(cat "$PGDIR/port")
export PLS_TEST_PGPORT
export PLS_TEST_PGUSER=postgres

say "ctest in ${BUILD#"$ROOT"/} (PostgreSQL port $PLS_TEST_PGPORT)"
rc=0
(cd "$BUILD" && ctest --output-on-failure -LE long "${ctest_args[@]}") || rc=$?
say "ctest exited with status $rc"
exit "$rc"
