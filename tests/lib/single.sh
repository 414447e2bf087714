# shellcheck shell=bash
# single.sh — helpers of the single-node integration tests (tests/integration/test_single_*.sh),
# on top of harness.sh. Source it after harness.sh and call single_setup instead of pls_setup:
#
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
#   source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"
#   single_setup [--private-pg]
#
# What it adds: the catalog's services and departments, the test clients of
# tests/integration/tools (pls-rawsend, pls-submitmany), millisecond clocks, SQL checks over the
# event log (one `completed` per order, every acknowledged order present and completed), and at
# exit the workers are stopped before the broker (a worker drains only while its broker answers).

# Every service and department of the catalog (sql/002_catalog.sql).
SINGLE_SERVICES=(consult legal_aid mediation lawyer notary forensic pro_mediation exam resettlement
    prison_video village_counsel complaint)
SINGLE_DEPTS=(consult legal_aid mediation lawyer notary_guide notary_admin forensic_guide
    forensic_admin pro_mediation exam resettlement video_visit counsel lawyer_admin grassroots
    discipline)
SINGLE_ALL_DEPTS=$(
    IFS=,
    echo "${SINGLE_DEPTS[*]}"
)
SINGLE_TOOLS=

# single_setup [--private-pg]: pls_setup and the tools (at exit the harness stops workers before
# brokers, so a worker drains while its broker still answers).
single_setup() {
    pls_setup "$@"
    SINGLE_TOOLS=$PLS_BUILD_DIR/tests/integration/tools
    [[ -x $SINGLE_TOOLS/pls-rawsend && -x $SINGLE_TOOLS/pls-submitmany ]] ||
        fail "test tools not built in $SINGLE_TOOLS (build the whole tree)"
}

# single_kill_at_exit PID...: background jobs of the test script itself (not started with
# pls_start) to be ended by pid when the test exits.
single_kill_at_exit() {
    pls_on_exit single__kill_pids "$@"
}

single__kill_pids() {
    kill -TERM "$@" 2>/dev/null
    return 0
}

# single_now_ms: wall clock in milliseconds.
single_now_ms() {
    local t=${EPOCHREALTIME/./}
    echo $((t / 1000))
}

# single_rawsend ARGS...: pls-rawsend against $PLS_BROKER.
single_rawsend() {
    "$SINGLE_TOOLS/pls-rawsend" --broker "$PLS_BROKER" "$@"
}

# single_ctl_capture VAR_OUT VAR_ERR VAR_RC ARGS...: runs plsctl ARGS, keeping stdout, stderr and
# the exit status (the test does not stop on a non-zero status).
single_ctl_capture() {
    local __o=$1 __e=$2 __r=$3 __rc=0
    shift 3
    pls_ctl "$@" >"$T/ctl.out" 2>"$T/ctl.err" || __rc=$?
    printf -v "$__o" '%s' "$(cat "$T/ctl.out")"
    printf -v "$__e" '%s' "$(cat "$T/ctl.err")"
    printf -v "$__r" '%s' "$__rc"
}

# single_show ID [JQ]: the order document (plsctl --json show), through jq (default '.').
single_show() {
    pls_ctl --json show "$1" | jq -c "${2:-.}"
}

# single_count_kind ID KIND: entries of KIND in the order's event log (SQL view event_entries).
single_count_kind() {
    pls_sql "SELECT count(*) FROM event_entries WHERE order_id = '$1' AND kind = '$2'"
}

# single_open_orders: orders of the database not yet completed (or otherwise finished).
single_open_orders() {
    pls_sql "SELECT count(*) FROM orders WHERE state <> 'completed'"
}

single__none_open() {
    [[ $(single_open_orders) == 0 ]]
}

# single_wait_all_completed TIMEOUT_S: waits until every order in the database is completed.
single_wait_all_completed() {
    pls_wait_for "$1" single__none_open 2>/dev/null || {
        pls_note "orders not completed after $1 s: $(pls_sql "SELECT string_agg(state || '=' || n, ' ') FROM (SELECT state, count(*) n FROM orders GROUP BY state) s")"
        return 1
    }
}

# single_completed_twice: number of orders with more than one `completed` event (must be 0).
single_completed_twice() {
    pls_sql "SELECT count(*) FROM (SELECT order_id FROM event_entries WHERE kind = 'completed'
             GROUP BY order_id HAVING count(*) > 1) d"
}

# single_check_acked FILE: FILE has one "KEY ID" line per order a client was told was accepted
# (KEY "-" when the client did not choose it).
# Fails unless each of them is in the database under its key and completed with exactly one
# `completed` event, and no two keys got the same id. Prints "acked=N".
single_check_acked() {
    local file=$1 out
    out=$(pls__psql -Atq -F ' ' -d "$PLS_DB" <<SQL
CREATE TEMP TABLE acked (k text, id uuid);
\copy acked FROM '$file' WITH (FORMAT text, DELIMITER ' ')
SELECT (SELECT count(*) FROM acked),
       (SELECT count(DISTINCT id) FROM acked),
       (SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id)),
       (SELECT count(*) FROM acked a JOIN orders o ON o.id = a.id WHERE a.k <> '-' AND o.idem_key <> a.k),
       (SELECT count(*) FROM acked a JOIN orders o ON o.id = a.id WHERE o.state <> 'completed'),
       (SELECT count(*) FROM acked a WHERE (SELECT count(*) FROM event_entries e
            WHERE e.order_id = a.id AND e.kind = 'completed') <> 1);
SQL
    ) || fail "could not check the acknowledged orders of $file"
    local n distinct missing wrongkey notdone notonce
    read -r n distinct missing wrongkey notdone notonce <<<"$out"
    ((distinct == n)) || fail "$file: $n acknowledgements but $distinct distinct order ids"
    ((missing == 0)) || fail "$file: $missing of $n acknowledged orders are not in the database (lost)"
    ((wrongkey == 0)) || fail "$file: $wrongkey acknowledged ids belong to another key"
    ((notdone == 0)) || fail "$file: $notdone of $n acknowledged orders are not completed"
    ((notonce == 0)) || fail "$file: $notonce of $n acknowledged orders do not have exactly one completed event"
    echo "acked=$n"
}

# single_submit_loop OUT_FILE COUNT TIMEOUT_S TAG [SUBMIT ARGS...]: up to COUNT plsctl submits one
# after the other (consult at dg unless ARGS say otherwise), stopping early once the file
# $T/stop-loops exists; one line per submit in OUT_FILE:
#   "<start ms> <end ms> <exit status> <id or -> <first line of stderr>"
# Run it in the background with & (and single_kill_at_exit its pid).
single_submit_loop() {
    local file=$1 count=$2 timeout=$3 tag=$4 i rc id err t0
    shift 4
    local args=("$@")
    ((${#args[@]})) || args=(--service consult --origin dg)
    for ((i = 0; i < count; i++)); do
        [[ -e $T/stop-loops ]] && break
        rc=0
        t0=$(single_now_ms)
        id=$(pls_ctl --timeout "$timeout" submit "${args[@]}" --desc "$tag order $i" \
            2>"$file.err") || rc=$?
        err=$(head -n 1 "$file.err")
        echo "$t0 $(single_now_ms) $rc ${id:--} $err" >>"$file"
    done
}

# single_lock_events SECS: a psql session takes EXCLUSIVE on `events` for SECS seconds in the
# background, so the broker's next batch waits on it; returns once the lock is held. Its pid is
# SINGLE_LOCK_PID: `wait` for it (non-zero if the session failed; its output is $T/lock.out).
single_lock_events() {
    pls__psql -Atq -d "$PLS_DB" -c "BEGIN; LOCK TABLE events IN EXCLUSIVE MODE;
        SELECT pg_sleep($1); COMMIT;" >"$T/lock.out" 2>&1 &
    SINGLE_LOCK_PID=$!
    pls_wait_for 10 single__events_locked || fail "the lock on events was not taken"
}

single__events_locked() {
    [[ $(pls_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relname = 'events' AND l.mode = 'ExclusiveLock' AND l.granted
        AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())") == 1 ]]
}

# single_wait_batch_blocked: waits (10 s at most) until a batch of this test's broker waits on a
# lock.
single_wait_batch_blocked() {
    pls_wait_for 10 single__batch_blocked || fail "no broker batch waited on the lock"
}

single__batch_blocked() {
    [[ $(pls_sql "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE
        'pls-broker % write' AND wait_event_type = 'Lock' AND datname = current_database()") -ge 1 ]]
}

# single_terminate_broker_conn write|read: pg_terminate_backend on this test's broker
# connections of that kind (only this database's: other tests may share the server); prints how
# many.
single_terminate_broker_conn() {
    pls_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
        WHERE application_name LIKE 'pls-broker % $1' AND datname = current_database()"
}
