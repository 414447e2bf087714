# harness.sh — helpers for the integration tests (bash). Source it, do not run it:
# shellcheck shell=bash
#
#   #!/usr/bin/env bash
#   # test_consult.sh — a consult order is completed by a noop worker.
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
#   pls_setup                                   # temp dir $T, a fresh database in $PLS_DB
#   pls_start_broker dg dg                      # sets $BROKER_dg and (first broker) $PLS_BROKER
#   pls_start_worker w1 --node dg --dept consult --builtin noop
#   id=$(pls_ctl submit --service consult --origin dg --desc "a question")
#   pls_wait_for 20 pls_order_state_is "$id" completed || fail "order $id not completed"
#
# Run one directly from the top of the repository:
#   PLS_BUILD_DIR=build bash tests/integration/test_consult.sh
# (ctest sets PLS_BUILD_DIR and PLS_SOURCE_DIR itself.)
#
# What it guarantees: every process started with pls_start* is ended by its pid when the
# test exits, however it exits (TERM, then KILL after 10 s, its child processes included;
# workers and other processes before the brokers);
# a private PostgreSQL is stopped and removed; when the test failed, the tail of every
# process log (and of PostgreSQL's) is printed. A sanitizer report (ASan, LSan, UBSan) in
# any process log fails the test even when its script passed.
#
# PostgreSQL: with PLS_TEST_PGHOST set (tests/run.sh does it), the test creates its own
# database on that server and drops it when the test passes. Otherwise, or with
# `pls_setup --private-pg` (for tests that stop or crash PostgreSQL), it starts a private
# server of its own with deploy/pg.sh in /tmp/pls-pg.XXXXXX.
#
# Knobs (environment): PLS_BUILD_DIR (default: build), PLS_START_TIMEOUT (seconds a broker has
# to start listening, default 30), PLS_READY_WAIT (seconds more it has to log a line matching
# PLS_BROKER_READY_RE, default 10 and 'info: ready'; the test goes on without it),
# PLS_KILL_WAIT (seconds between TERM and KILL, default 10),
# PLS_LOG_TAIL (lines of each log printed on failure, default 60), PLS_KEEP_TMP=1 (keep $T
# even when the test passed; it is always kept when the test failed).
#
# Notes: never call pls_start* inside $(...): the pid would be recorded in a subshell and
# lost. Background processes of a non-interactive shell ignore SIGINT: stop them with TERM.
# Add your own clean-up with pls_on_exit CMD, not with trap ... EXIT.

set -euo pipefail
set -o errtrace

PLS_SOURCE_DIR=${PLS_SOURCE_DIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PLS_BUILD_DIR=${PLS_BUILD_DIR:-build}
PLS_PGBIN=${PLS_PGBIN:-/usr/lib/postgresql/15/bin}
PLS_START_TIMEOUT=${PLS_START_TIMEOUT:-30}
PLS_KILL_WAIT=${PLS_KILL_WAIT:-10}
PLS_LOG_TAIL=${PLS_LOG_TAIL:-60}
PLS_READY_WAIT=${PLS_READY_WAIT:-10}
PLS_BROKER_READY_RE=${PLS_BROKER_READY_RE:-'info: ready'}

PLS_TEST_NAME=$(basename "$0" .sh)
T=                  # the test's temp dir (logs, files), made by pls_setup
PLS_DB=             # conninfo of the test database
PLS_DBNAME=         # its name; extra databases made by pls_createdb start with it
PLS_BROKER=         # endpoint of the first broker started
PLS_PG_DIR=         # the private PostgreSQL's directory, empty when the suite's is used
PLS_EXIT_STATUS=    # exit status of the last process reaped by pls_kill / pls_wait_exit
declare -A PLS__PID=()    # name -> pid of the running process (empty once reaped)
declare -A PLS__LOG=()    # name -> log file
declare -A PLS__CMD=()    # name -> command line, for messages
declare -A PLS__STATUS=() # name -> exit status once reaped
declare -A PLS__PORT=()   # broker name -> port (kept across restarts)
declare -A PLS__BROKER=() # broker name -> 1 (brokers are stopped after the other processes)
PLS__NAMES=()             # names in start order
PLS__ON_EXIT=()           # commands run first at exit
PLS__LEFTOVERS=()         # "pid:starttime" of children of processes that were signalled
PLS__PG_HOST='' PLS__PG_PORT='' PLS__PG_USER=''

# ---------------------------------------------------------------------------------------
# Messages and assertions

pls_note() {
    printf '[%3ds] %s\n' "$SECONDS" "$*" >&2
}

# fail MSG: the test failed. Prints where and why, exits 1 (the exit trap cleans up).
fail() {
    echo "FAIL: ${BASH_SOURCE[1]##*/}:${BASH_LINENO[0]}: $*" >&2
    exit 1
}

# skip MSG: the test cannot run here (ctest counts exit status 77 as skipped).
skip() {
    echo "SKIP: $*" >&2
    exit 77
}

# assert_eq ACTUAL EXPECTED [MSG]
assert_eq() {
    [[ $1 == "$2" ]] || fail "${3:-values differ}: expected '$2', got '$1'"
}

# assert_ne ACTUAL UNEXPECTED [MSG]
assert_ne() {
    [[ $1 != "$2" ]] || fail "${3:-values are equal}: did not expect '$2'"
}

# assert_contains HAYSTACK NEEDLE [MSG]
assert_contains() {
    [[ $1 == *"$2"* ]] || fail "${3:-text not found}: '$2' not in: $1"
}

# assert_not_contains HAYSTACK NEEDLE [MSG]
assert_not_contains() {
    [[ $1 != *"$2"* ]] || fail "${3:-unexpected text}: '$2' found in: $1"
}

# pls_wait_for TIMEOUT_S CMD...: runs CMD every 0.2 s until it succeeds (return 0) or
# TIMEOUT_S seconds have passed (message on stderr, return 1). Use: pls_wait_for 10 f || fail ...
pls_wait_for() {
    local timeout=$1
    shift
    local deadline=$((SECONDS + timeout))
    while :; do
        if "$@"; then
            return 0
        fi
        if ((SECONDS >= deadline)); then
            pls_note "timed out after ${timeout}s waiting for: $*"
            return 1
        fi
        sleep 0.2
    done
}

# pls_on_exit CMD...: run CMD when the test exits, before processes are stopped.
pls_on_exit() {
    PLS__ON_EXIT+=("$(printf '%q ' "$@")")
}

# ---------------------------------------------------------------------------------------
# Set-up and PostgreSQL

# pls_free_port: prints a free TCP port of 127.0.0.1, reserved for a few minutes.
pls_free_port() {
    bash "$PLS_SOURCE_DIR/deploy/pg.sh" free-port
}

pls__psql() {
    local psql=$PLS_PGBIN/psql
    [[ -x $psql ]] || psql=psql
    "$psql" -X -v ON_ERROR_STOP=1 "$@"
}

pls__conninfo() {
    echo "host=$PLS__PG_HOST port=$PLS__PG_PORT dbname=$1 user=$PLS__PG_USER"
}

# pls_setup [--private-pg]: temp dir $T, a PostgreSQL, a fresh database ($PLS_DB, exported).
pls_setup() {
    local private=0
    [[ ${1:-} == --private-pg ]] && private=1
    [[ -z $T ]] || fail "pls_setup called twice"

    if [[ $PLS_BUILD_DIR != /* ]]; then
        if [[ -d $PLS_BUILD_DIR ]]; then
            PLS_BUILD_DIR=$(cd "$PLS_BUILD_DIR" && pwd)
        else
            PLS_BUILD_DIR=$PLS_SOURCE_DIR/$PLS_BUILD_DIR
        fi
    fi
    [[ -d $PLS_BUILD_DIR ]] || fail "no build directory $PLS_BUILD_DIR (set PLS_BUILD_DIR)"
    export PLS_BUILD_DIR PLS_SOURCE_DIR

    T=$(mktemp -d "${TMPDIR:-/tmp}/pls-test.XXXXXX")
    trap pls__exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'pls__on_err $? "$BASH_COMMAND" "${BASH_SOURCE[0]##*/}:$LINENO"' ERR

    if ((private)) || [[ -z ${PLS_TEST_PGHOST:-} ]]; then
        PLS_PG_DIR=$(mktemp -d /tmp/pls-pg.XXXXXX)
        bash "$PLS_SOURCE_DIR/deploy/pg.sh" start "$PLS_PG_DIR" >/dev/null 2>"$T/pg-start.log" ||
            {
                cat "$T/pg-start.log" >&2
                fail "could not start a private PostgreSQL in $PLS_PG_DIR"
            }
        bash "$PLS_SOURCE_DIR/deploy/pg.sh" watch "$PLS_PG_DIR" $$
        PLS__PG_HOST=$PLS_PG_DIR
        PLS__PG_PORT=$(cat "$PLS_PG_DIR/port")
        PLS__PG_USER=postgres
    else
        PLS__PG_HOST=$PLS_TEST_PGHOST
        PLS__PG_PORT=${PLS_TEST_PGPORT:-5432}
        PLS__PG_USER=${PLS_TEST_PGUSER:-postgres}
    fi

    local base
    base=$(tr -c 'a-z0-9_\n' _ <<<"${PLS_TEST_NAME,,}")
    PLS_DBNAME="pls_${base:0:40}_$$"
    pls__psql -q -d "$(pls__conninfo postgres)" -c "CREATE DATABASE $PLS_DBNAME" ||
        fail "could not create database $PLS_DBNAME"
    PLS_DB=$(pls__conninfo "$PLS_DBNAME")
    export PLS_DB
    pls_note "setup: T=$T db=$PLS_DBNAME${PLS_PG_DIR:+ (private PostgreSQL $PLS_PG_DIR)}"
}

# pls_createdb SUFFIX: makes one more database (one per broker in federation tests) and
# prints its conninfo. Dropped with the test's own database.
pls_createdb() {
    [[ $1 =~ ^[a-z0-9_]+$ ]] || fail "pls_createdb: bad suffix '$1'"
    local name=${PLS_DBNAME}_$1
    pls__psql -q -d "$(pls__conninfo postgres)" -c "CREATE DATABASE $name" >&2 ||
        fail "could not create database $name"
    pls__conninfo "$name"
}

# pls_sql SQL [psql args...]: runs SQL on the test database, prints unaligned tuples.
pls_sql() {
    pls__psql -Atq -d "$PLS_DB" -c "$1" "${@:2}"
}

# pls_sql_db CONNINFO SQL [psql args...]: the same on another database.
pls_sql_db() {
    pls__psql -Atq -d "$1" -c "$2" "${@:3}"
}

# pls_pg_stop [-m immediate]: stops the private PostgreSQL (needs pls_setup --private-pg).
pls_pg_stop() {
    [[ -n $PLS_PG_DIR ]] || fail "pls_pg_stop needs a private PostgreSQL (pls_setup --private-pg)"
    bash "$PLS_SOURCE_DIR/deploy/pg.sh" stop "$PLS_PG_DIR" "$@" 2>>"$T/pg-start.log"
}

# pls_pg_start: starts the private PostgreSQL again, on the same port.
pls_pg_start() {
    [[ -n $PLS_PG_DIR ]] || fail "pls_pg_start needs a private PostgreSQL (pls_setup --private-pg)"
    bash "$PLS_SOURCE_DIR/deploy/pg.sh" start "$PLS_PG_DIR" "$PLS__PG_PORT" >/dev/null \
        2>>"$T/pg-start.log" || fail "could not restart PostgreSQL (see $T/pg-start.log)"
}

# ---------------------------------------------------------------------------------------
# Processes

# True while pid $1 runs (a zombie, exited but not yet reaped, does not count).
pls__pid_alive() {
    local stat
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    stat=${stat##*) }
    [[ ${stat%% *} != Z ]]
}

pls__not() { ! "$@"; }

# pls_alive NAME: true while the process NAME runs.
pls_alive() {
    local pid=${PLS__PID[$1]:-}
    [[ -n $pid ]] && pls__pid_alive "$pid"
}

pls_pid() { echo "${PLS__PID[$1]:-}"; }
pls_logfile() { echo "${PLS__LOG[$1]:-}"; }

# Collects the exit status of NAME, which has exited, into PLS__STATUS and PLS_EXIT_STATUS.
pls__reap() {
    local name=$1 pid=${PLS__PID[$1]:-} st=0
    [[ -n $pid ]] || return 0
    wait "$pid" 2>/dev/null || st=$?
    PLS__STATUS[$name]=$st
    PLS__PID[$name]=
    PLS_EXIT_STATUS=$st
    echo "=== $(date '+%T.%3N') exited with status $st" >>"${PLS__LOG[$name]}"
}

# pls_start NAME CMD...: runs CMD in the background, output to $T/NAME.log (appended, so a
# restarted process keeps one log).
pls_start() {
    local name=$1
    shift
    [[ -n $T ]] || fail "call pls_setup first"
    [[ $name =~ ^[A-Za-z0-9_]+$ ]] || fail "bad process name '$name' (letters, digits, _)"
    if pls_alive "$name"; then
        fail "$name is already running (pid ${PLS__PID[$name]})"
    fi
    pls__reap "$name"
    [[ -n ${PLS__LOG[$name]:-} ]] || PLS__NAMES+=("$name")
    PLS__LOG[$name]=$T/$name.log
    PLS__CMD[$name]="$*"
    echo "=== $(date '+%T.%3N') start: $*" >>"${PLS__LOG[$name]}"
    "$@" </dev/null >>"${PLS__LOG[$name]}" 2>&1 &
    PLS__PID[$name]=$!
    PLS__STATUS[$name]=
}

pls__has_opt() {
    local opt=$1 a
    shift
    for a in "$@"; do
        [[ $a == "$opt" || $a == "$opt="* ]] && return 0
    done
    return 1
}

# pls_start_broker NAME NODE [ARGS...]: starts pls-broker for NODE on a free port of
# 127.0.0.1 (the same port when NAME is restarted) with --db "$PLS_DB" --insecure, waits
# until it listens (its log says "listening on" or the port accepts TCP) and says it is ready
# (PLS_BROKER_READY_RE), and sets BROKER_<NAME> (and PLS_BROKER for the first broker) to its
# endpoint. ARGS may override --db, or give --listen 'tcp://127.0.0.1:*': the endpoint is
# then read from the broker's "listening on tcp://..." log line.
pls_start_broker() {
    local name=$1 node=$2
    shift 2
    local bin=$PLS_BUILD_DIR/broker/pls-broker
    [[ -x $bin ]] || fail "$bin not built"
    local args=(--node "$node")
    local ep='' port='' a prev=''
    for a in "$@"; do
        [[ $prev == --listen ]] && ep=$a
        [[ $a == --listen=* ]] && ep=${a#--listen=}
        prev=$a
    done
    if [[ -z $ep ]]; then
        port=${PLS__PORT[$name]:-$(pls_free_port)}
        PLS__PORT[$name]=$port
        ep=tcp://127.0.0.1:$port
        args+=(--listen "$ep")
    elif [[ $ep =~ ^tcp://127\.0\.0\.1:([0-9]+)$ ]]; then
        port=${BASH_REMATCH[1]}
    else
        ep= # tcp://127.0.0.1:* or another interface: read it from the log
    fi
    pls__has_opt --db "$@" || args+=(--db "$PLS_DB")
    [[ ${PLS_INSECURE:-1} == 0 ]] || pls__has_opt --insecure "$@" || args+=(--insecure)

    local log=$T/$name.log lines=0
    [[ -f $log ]] && lines=$(wc -l <"$log")
    pls_start "$name" "$bin" "${args[@]}" "$@"
    PLS__BROKER[$name]=1

    local deadline=$((SECONDS + PLS_START_TIMEOUT)) said
    while :; do
        said=$(tail -n +$((lines + 1)) "$log" | grep -o 'listening on tcp://[^ ]*' | tail -n 1 || true)
        if [[ -n $said ]]; then
            [[ -n $ep ]] || ep=${said#listening on }
            break
        fi
        if [[ -n $port ]] && (: <"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            break
        fi
        pls_alive "$name" || {
            pls__reap "$name"
            fail "broker $name exited with status $PLS_EXIT_STATUS while starting (log: $log)"
        }
        ((SECONDS < deadline)) || fail "broker $name not listening after ${PLS_START_TIMEOUT}s (log: $log)"
        sleep 0.1
    done
    [[ -n $ep ]] || fail "broker $name: no endpoint in its log"
    # Listening comes before migrations and loading state: give it time to say it is ready,
    # so that the test's first request is not answered 503. Go on anyway after
    # PLS_READY_WAIT seconds (the wording may change; the test will then tell).
    deadline=$((SECONDS + PLS_READY_WAIT))
    until grep -qE -- "$PLS_BROKER_READY_RE" < <(tail -n +$((lines + 1)) "$log"); do
        pls_alive "$name" || {
            pls__reap "$name"
            fail "broker $name exited with status $PLS_EXIT_STATUS while starting (log: $log)"
        }
        if ((SECONDS >= deadline)); then
            pls_note "broker $name: no line matching '$PLS_BROKER_READY_RE' after ${PLS_READY_WAIT}s; going on"
            break
        fi
        sleep 0.1
    done
    printf -v "BROKER_$name" '%s' "$ep"
    [[ -n $PLS_BROKER ]] || PLS_BROKER=$ep
    pls_note "broker $name ($node) listening on $ep"
}

# pls_endpoint NAME: prints the endpoint of broker NAME.
pls_endpoint() {
    local v=BROKER_$1
    [[ -n ${!v:-} ]] || fail "no broker named $1"
    echo "${!v}"
}

# pls_start_worker NAME ARGS...: starts pls-worker with ARGS (adding --broker "$PLS_BROKER"
# when ARGS name none).
pls_start_worker() {
    local name=$1
    shift
    local bin=$PLS_BUILD_DIR/workers/pls-worker
    [[ -x $bin ]] || fail "$bin not built"
    if pls__has_opt --broker "$@"; then
        pls_start "$name" "$bin" "$@"
    else
        [[ -n $PLS_BROKER ]] || fail "start a broker before worker $name (or pass --broker)"
        pls_start "$name" "$bin" --broker "$PLS_BROKER" "$@"
    fi
}

# pls_wait_exit NAME TIMEOUT_S: waits until NAME exits by itself; its status is then in
# PLS_EXIT_STATUS. Returns 1 (process left running) on timeout.
pls_wait_exit() {
    local name=$1 timeout=$2
    [[ -n ${PLS__LOG[$name]:-} ]] || fail "no process named $name"
    if ! pls_wait_for "$timeout" pls__not pls_alive "$name"; then
        return 1
    fi
    if [[ -n ${PLS__PID[$name]} ]]; then
        pls__reap "$name"
    else
        PLS_EXIT_STATUS=${PLS__STATUS[$name]}
    fi
}

# pls_kill NAME [SIGNAL]: sends SIGNAL (default TERM) to NAME. For TERM, INT, QUIT and KILL
# it waits for the exit (status in PLS_EXIT_STATUS); if NAME is still there after
# PLS_KILL_WAIT seconds it is killed with KILL and pls_kill returns 1.
pls_kill() {
    local name=$1 sig=${2:-TERM}
    sig=${sig#SIG}
    local pid=${PLS__PID[$name]:-}
    [[ -n ${PLS__LOG[$name]:-} ]] || fail "no process named $name"
    if [[ -z $pid ]] || ! pls__pid_alive "$pid"; then
        pls__reap "$name"
        pls_note "$name had already exited (status ${PLS__STATUS[$name]})"
        return 0
    fi
    echo "=== $(date '+%T.%3N') harness sends SIG$sig" >>"${PLS__LOG[$name]}"
    pls__note_descendants "$pid"
    kill -s "$sig" "$pid"
    case $sig in
    TERM | INT | QUIT | KILL) ;;
    *) return 0 ;;
    esac
    if ! pls_wait_for "$PLS_KILL_WAIT" pls__not pls__pid_alive "$pid" 2>/dev/null; then
        pls_note "$name did not exit within ${PLS_KILL_WAIT}s of SIG$sig: sending KILL"
        kill -KILL "$pid" 2>/dev/null || true
        pls_wait_for 5 pls__not pls__pid_alive "$pid" || true
        pls__reap "$name"
        return 1
    fi
    pls__reap "$name"
}

# pls_ctl ARGS...: runs plsctl against $PLS_BROKER (unless ARGS start with --broker).
pls_ctl() {
    local bin=$PLS_BUILD_DIR/cli/plsctl
    [[ -x $bin ]] || fail "$bin not built"
    if [[ ${1:-} == --broker || ${1:-} == --broker=* ]]; then
        "$bin" "$@"
    else
        "$bin" --broker "$PLS_BROKER" "$@"
    fi
}

# pls_ctl_at NAME ARGS...: runs plsctl against broker NAME.
pls_ctl_at() {
    local ep
    ep=$(pls_endpoint "$1")
    shift
    pls_ctl --broker "$ep" "$@"
}

# pls_order_state ID: prints the order's state (plsctl show --json).
pls_order_state() {
    pls_ctl --json show "$1" | jq -r .state
}

# pls_order_state_is ID STATE: for pls_wait_for.
pls_order_state_is() {
    [[ $(pls_order_state "$1" 2>/dev/null) == "$2" ]]
}

# pls_wait_log NAME TIMEOUT_S REGEX: waits until the log of NAME matches REGEX (grep -E).
pls_wait_log() {
    local log=${PLS__LOG[$1]:-}
    [[ -n $log ]] || fail "no process named $1"
    pls_wait_for "$2" grep -qE -- "$3" "$log"
}

# ---------------------------------------------------------------------------------------
# Exit

pls__on_err() {
    echo "error: '$2' failed with status $1 at $3" >&2
}

# All pids below $1 (children, grandchildren, ...).
pls__descendants() {
    local c
    for c in $(pgrep -P "$1" 2>/dev/null || true); do
        echo "$c"
        pls__descendants "$c"
    done
}

# "PID:STARTTIME" of a running pid: names a process even after its pid is reused.
pls__proc_key() {
    local stat f
    { read -r stat <"/proc/$1/stat"; } 2>/dev/null || return 1
    read -ra f <<<"${stat##*) }"
    echo "$1:${f[19]}"
}

# Remembers the descendants of $1, to be killed at exit if still there: when a test kills a
# worker, its handler processes are no longer found below it.
pls__note_descendants() {
    local c key
    for c in $(pls__descendants "$1"); do
        key=$(pls__proc_key "$c") && PLS__LEFTOVERS+=("$key") || true # it may have exited meanwhile
    done
}

# TERMs the running processes named in $@ together, waits up to PLS_KILL_WAIT s, KILLs the rest.
pls__term_and_wait() {
    local name pid alive=() deadline
    for name in "$@"; do
        pid=${PLS__PID[$name]:-}
        if [[ -n $pid ]] && pls__pid_alive "$pid"; then
            alive+=("$name")
            pls__note_descendants "$pid"
            echo "=== $(date '+%T.%3N') harness sends SIGTERM at exit" >>"${PLS__LOG[$name]}"
            kill -TERM "$pid" 2>/dev/null
        fi
    done
    deadline=$((SECONDS + PLS_KILL_WAIT))
    for name in "${alive[@]}"; do
        pid=${PLS__PID[$name]}
        while pls__pid_alive "$pid" && ((SECONDS < deadline)); do
            sleep 0.1
        done
        if pls__pid_alive "$pid"; then
            echo "harness: $name (pid $pid) still running ${PLS_KILL_WAIT}s after SIGTERM: killed" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
        pls__reap "$name"
    done
}

# Stops everything: workers and other processes first (a worker drains while its broker still
# answers), then the brokers; then children the processes left behind.
pls__stop_all() {
    local name key pid others=() brokers=()
    for name in "${PLS__NAMES[@]}"; do
        if [[ -n ${PLS__BROKER[$name]:-} ]]; then
            brokers+=("$name")
        else
            others+=("$name")
        fi
    done
    pls__term_and_wait "${others[@]}"
    pls__term_and_wait "${brokers[@]}"
    for name in "${PLS__NAMES[@]}"; do
        pls__reap "$name"
    done
    # Children left behind by the processes (a worker's handlers, say).
    for key in "${PLS__LEFTOVERS[@]}"; do
        pid=${key%%:*}
        if [[ $(pls__proc_key "$pid" 2>/dev/null) == "$key" ]] && pls__pid_alive "$pid"; then
            echo "harness: killing leftover child process $pid ($(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline"))" >&2
            kill -KILL "$pid" 2>/dev/null
        fi
    done
}

pls__exit() {
    local rc=$? name log cmd
    set +e
    trap - ERR
    for cmd in "${PLS__ON_EXIT[@]}"; do
        eval "$cmd"
    done
    pls__stop_all

    for name in "${PLS__NAMES[@]}"; do
        log=${PLS__LOG[$name]}
        if grep -qE 'ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|UndefinedBehaviorSanitizer' "$log" 2>/dev/null; then
            echo "FAIL: sanitizer report in $name's log ($log)" >&2
            ((rc == 0 || rc == 77)) && rc=1
        fi
    done

    if ((rc != 0 && rc != 77)); then
        for name in "${PLS__NAMES[@]}"; do
            log=${PLS__LOG[$name]}
            echo "---- $name: ${PLS__CMD[$name]}" >&2
            echo "---- last $PLS_LOG_TAIL lines of $log (exit status ${PLS__STATUS[$name]:-?})" >&2
            tail -n "$PLS_LOG_TAIL" "$log" >&2
        done
        if [[ -n $PLS_PG_DIR && -f $PLS_PG_DIR/data/postgresql.log ]]; then
            cp "$PLS_PG_DIR/data/postgresql.log" "$T/postgresql.log"
            echo "---- last 20 lines of PostgreSQL's log ($T/postgresql.log)" >&2
            tail -n 20 "$T/postgresql.log" >&2
        fi
    fi

    if [[ -n $PLS_PG_DIR ]]; then
        bash "$PLS_SOURCE_DIR/deploy/pg.sh" stop "$PLS_PG_DIR" >/dev/null 2>&1 ||
            bash "$PLS_SOURCE_DIR/deploy/pg.sh" stop "$PLS_PG_DIR" -m immediate >/dev/null 2>&1
        rm -rf "$PLS_PG_DIR"
    elif [[ -n $PLS_DBNAME && (rc -eq 0 || rc -eq 77) ]]; then
        local db
        for db in $(pls__psql -Atq -d "$(pls__conninfo postgres)" \
            -c "SELECT datname FROM pg_database WHERE starts_with(datname, '$PLS_DBNAME')" 2>/dev/null); do
            pls__psql -q -d "$(pls__conninfo postgres)" -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null 2>&1
        done
    fi

    if [[ -n $T ]]; then
        if ((rc == 0 || rc == 77)) && [[ ${PLS_KEEP_TMP:-0} != 1 ]]; then
            rm -rf "$T"
        else
            echo "harness: logs kept in $T" >&2
        fi
    fi
    case $rc in
    0) echo "PASS: $PLS_TEST_NAME" >&2 ;;
    77) ;;
    *) echo "FAIL: $PLS_TEST_NAME (exit status $rc)" >&2 ;;
    esac
    exit "$rc"
}
