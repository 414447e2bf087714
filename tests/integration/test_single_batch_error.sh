#!/usr/bin/env bash
# test_single_batch_error.sh — PostgreSQL rejects a batch: a statement of the transaction fails
# (here a trigger a DBA might have added raises for one order's description), so nothing of
# the batch is committed. The batch's statements go to PostgreSQL in one pipeline (libpq
# pipeline mode); this checks what a user of the broker sees when one of them fails:
#   - the desk whose order was in the failed batch gets a clear refusal (503 "not saved,
#     retry"), never an id for an order that was not saved;
#   - the broker logs the reason, drops the connection, reloads what was committed and goes
#     on serving: a normal order submitted while the poisoned one keeps failing is saved and
#     completed; the order from before is kept;
#   - once the trigger is gone the same key is saved, exactly once;
#   - the write connection killed while its batch waits in the pipeline: the broker notices
#     (here libpq's read fails; a lost connection that shows only as results ending early is
#     handled in bk_store's on_poll too, not provoked here), reloads, and the resend of that
#     submit is saved once.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_batch_error.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

single_setup
pls_start_broker dg dg
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 4 --name noop-1
pls_wait_log w1 20 'ready at' || fail "worker not ready"
id0=$(pls_ctl submit --service consult --origin dg --desc "before" --key be-0) ||
    fail "submit before the fault failed"
single_wait_all_completed 30 || fail "the first order did not complete"

pls_sql "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.descr LIKE '%poison%' THEN
        RAISE EXCEPTION 'poisoned order refused by a test trigger';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER test_poison BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_poison();" \
    >/dev/null

# the poisoned order: refused after plsctl's own retries, not given an id
rc=0
pls_ctl --timeout 3 submit --service consult --origin dg --desc "a poison order" --key be-1 \
    >"$T/poison.out" 2>"$T/poison.err" || rc=$?
pls_note "poisoned submit: exit $rc: $(head -n 1 "$T/poison.err")"
assert_eq "$rc" 1 "exit status of the poisoned submit (refused by the broker)"
[[ ! -s $T/poison.out ]] || fail "the poisoned submit printed an id: $(cat "$T/poison.out")"
assert_contains "$(cat "$T/poison.err")" "not saved"
assert_contains "$(cat "$(pls_logfile dg)")" "batch failed: ERROR:  poisoned order refused by a test trigger"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key = 'be-1'")" 0 "rows of the poisoned key"

# the broker serves everyone else: a normal order, submitted while the poisoned one is retried
(
    rc=0
    pls_ctl --timeout 5 submit --service consult --origin dg --desc "poison again" --key be-1 \
        >/dev/null 2>&1 || rc=$?
    echo "$rc" >"$T/again.rc"
) &
again=$!
id2=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "a normal order" \
    --key be-2) || fail "a normal submit after the failed batch was not saved"
wait "$again" || true
assert_eq "$(cat "$T/again.rc")" 1 "exit status of the second poisoned submit (refused)"
pls_alive dg || fail "the broker died after a failed batch"
single_wait_all_completed 30 || fail "orders not completed after the failed batches"
assert_eq "$(pls_sql "SELECT state FROM orders WHERE id = '$id2'")" completed "the normal order"
assert_eq "$(pls_sql "SELECT state FROM orders WHERE id = '$id0'")" completed "the order from before"

# the trigger gone, the same key is saved once
pls_sql "DROP TRIGGER test_poison ON orders" >/dev/null
id1=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "a poison order" \
    --key be-1) || fail "the resubmit without the trigger failed"
id1b=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "a poison order" \
    --key be-1) || fail "the second resubmit failed"
assert_eq "$id1b" "$id1" "the key's id on a resend"
single_wait_all_completed 30 || fail "orders not completed at the end"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key IN ('be-0', 'be-1', 'be-2')")" 3 \
    "orders of the three keys"
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
failed=$(grep -c 'batch failed' "$(pls_logfile dg)")
pls_note "figures: $failed failed batches logged; 3 orders saved, each completed once"

# The write connection is lost while its batch waits in the pipeline (a DBA's
# pg_terminate_backend): the broker notices, reloads, and the desk's resend is saved once.
single_lock_events 3
(
    rc=0
    pls_ctl --timeout 10 submit --service consult --origin dg --desc "during the loss" \
        --key be-3 >"$T/loss.out" 2>"$T/loss.err" || rc=$?
    echo "$rc" >"$T/loss.rc"
) &
sub_pid=$!
single_wait_batch_blocked
killed=$(single_terminate_broker_conn write)
assert_eq "$killed" 1 "write connections terminated"
wait "$SINGLE_LOCK_PID" || fail "the locking session failed: $(cat "$T/lock.out")"
wait "$sub_pid" || true
pls_note "the submit during the loss: exit $(cat "$T/loss.rc"): $(head -n 1 "$T/loss.err")$(cat "$T/loss.out")"
pls_alive dg || fail "the broker died when its write connection was lost during a batch"
grep -Eq 'store connection lost: (server closed the connection|.*terminating connection)' \
    "$(pls_logfile dg)" || fail "the broker did not log the loss of its write connection"
id3=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "during the loss" \
    --key be-3) || fail "the resend after the loss failed"
if [[ $(cat "$T/loss.rc") == 0 ]]; then
    assert_eq "$id3" "$(cat "$T/loss.out")" "the resend's id is the first answer's"
fi
single_wait_all_completed 30 || fail "orders not completed after the loss"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key = 'be-3'")" 1 "orders of key be-3"
assert_eq "$(single_completed_twice)" 0 "orders completed twice after the loss"
pls_note "figures: the write connection's loss mid-pipeline: reload, the resend saved once"
