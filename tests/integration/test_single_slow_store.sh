#!/usr/bin/env bash
# test_single_slow_store.sh — a slow store shows in the status (DESIGN §10, OPERATIONS §3):
#   - with a normal store, the status reports the last minute's commit times and no warning;
#   - another session holds a lock on `orders` for 2 s (the store is slow: the broker's batch
#     waits for it); a submit made meanwhile is answered only after the lock goes, and its
#     order completes once;
#   - the status then reports that commit (commit_ms_max ≥ 1.5 s) and warns that the store is
#     slow, with the figures; the human status view shows the warning too.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_slow_store.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 4 --name noop-1
pls_wait_log w1 20 'ready at' || fail "worker not ready"
pls_ctl submit --service consult --origin dg --desc "before" --key slow-0 >/dev/null ||
    fail "submit before the slow store failed"
single_wait_all_completed 30 || fail "the first order did not complete"

st=$(pls_ctl --json status)
assert_eq "$(jq -r '.broker.commits_last_min > 0' <<<"$st")" true "status before: commits reported"
# no warning while the commits are fast (a loaded test machine may have had a slow one)
if [[ $(jq -r '.broker.commit_ms_max < 1000' <<<"$st") == true ]]; then
    assert_not_contains "$(jq -r '.warnings[]' <<<"$st")" "store is slow"
else
    pls_note "a commit took $(jq -r .broker.commit_ms_max <<<"$st") ms before the lock"
fi

# another session locks the orders table against writes for 2 s
pls__psql -Atq -d "$PLS_DB" -c "BEGIN" -c "LOCK TABLE orders IN SHARE ROW EXCLUSIVE MODE" \
    -c "SELECT 'locked'" -c "SELECT pg_sleep(2)" -c "COMMIT" >"$T/lock.out" 2>&1 &
lock_pid=$!
single_kill_at_exit "$lock_pid"
locked() { [[ $(pls_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
    WHERE c.relname = 'orders' AND l.mode = 'ShareRowExclusiveLock' AND l.granted") == 1 ]]; }
pls_wait_for 10 locked || fail "the lock on orders was not taken"

t0=$(single_now_ms)
id=$(pls_ctl --timeout 10 submit --service consult --origin dg --desc "during the lock" \
    --key slow-1) || fail "submit during the lock failed"
took=$(($(single_now_ms) - t0))
wait "$lock_pid" || fail "the locking session failed: $(cat "$T/lock.out")"
pls_note "submit during the 2 s lock answered after $took ms"
((took >= 1000)) || fail "the submit was answered in $took ms, before the lock went"
single_wait_all_completed 30 || fail "the order submitted during the lock did not complete"
assert_eq "$(single_count_kind "$id" completed)" 1 "completed entries of the order"

st=$(pls_ctl --json status)
pls_note "status after: $(jq -c '.broker | {commits_last_min, commit_ms_p50, commit_ms_p99, commit_ms_max}' <<<"$st")"
assert_eq "$(jq -r '.broker.commit_ms_max >= 1500' <<<"$st")" true "the slow commit is reported"
warning=$(jq -r '.warnings[]' <<<"$st")
assert_contains "$warning" "the store is slow: "
assert_contains "$warning" "every answer and assignment waits for them"
assert_contains "$(pls_ctl status)" "the store is slow"
pls_note "warning: $warning"
