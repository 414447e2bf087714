#!/usr/bin/env bash
# test_single_read_conn_loss.sh — the broker's read connection to PostgreSQL dies while a
# batch is in flight on its write connection (a DBA's pg_terminate_backend, a pooler or a
# network fault can take one connection and not the other):
#   - a batch is made to wait on a lock (a psql session holds EXCLUSIVE on `events` for 3 s)
#     while a desk submits; the read connection's backend is terminated meanwhile;
#   - the broker stays up and keeps what it holds in memory: only the write connection's loss
#     makes it reload (before the fix a read connection's loss dropped every open order from
#     memory, never reloaded them because the write connection had not failed, and then
#     dereferenced the dropped batch when the write connection's answer came: SIGSEGV);
#   - the desk's order is answered (or, resent with its key, answered once), exists once and
#     completes, as does the order from before; status answers again.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_read_conn_loss.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg --lease-ms 3000
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 4 --name noop-1
pls_wait_log w1 20 'ready at' || fail "worker not ready"
id0=$(pls_ctl submit --service consult --origin dg --desc "before" --key rc-0) ||
    fail "submit before the fault failed"

# hold the events table: the next batch's INSERT waits for the lock
single_lock_events 3

# a submit whose batch now waits on the lock
(
    rc=0
    pls_ctl --timeout 10 submit --service consult --origin dg --desc "during" --key rc-1 \
        >"$T/during.out" 2>"$T/during.err" || rc=$?
    echo "$rc" >"$T/during.rc"
) &
sub_pid=$!
single_wait_batch_blocked
killed=$(single_terminate_broker_conn read)
assert_eq "$killed" 1 "read connections terminated"
pls_note "read connection terminated while a batch waited on the lock"
wait "$SINGLE_LOCK_PID" || fail "the locking session failed: $(cat "$T/lock.out")"
wait "$sub_pid" || true
pls_note "the submit during the fault: exit $(cat "$T/during.rc"): $(head -n 1 "$T/during.err")$(cat "$T/during.out")"

sleep 1
pls_alive dg || fail "the broker died after losing its read connection with a batch in flight"
serving() { pls_ctl --timeout 1 status >/dev/null 2>&1; }
pls_wait_for 30 serving || fail "the broker does not serve again"
# the desk resends with the same key: one order
id1=$(pls_ctl --timeout 10 submit --service consult --origin dg --desc "during" --key rc-1) ||
    fail "the resend after the fault failed"
if [[ $(cat "$T/during.rc") == 0 ]]; then
    assert_eq "$id1" "$(cat "$T/during.out")" "the resend's id is the first answer's"
fi
single_wait_all_completed 30 || fail "orders not completed after the fault"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key IN ('rc-0', 'rc-1')")" 2 \
    "orders of the two keys"
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE id = '$id0'")" 1 "the order from before"
pls_alive dg || fail "the broker is not running at the end"
assert_eq "$(grep -c 'info: ready:' "$(pls_logfile dg)")" 1 "'ready' lines in the broker's log (no reload)"
assert_contains "$(cat "$(pls_logfile dg)")" "store read connection lost"
pls_note "figures: the broker stayed up without a reload; 2 orders, each completed once"
