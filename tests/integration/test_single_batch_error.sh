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
#   - the broker tries the orders of the refused batch one by one and finds the one PostgreSQL
#     refuses on its own: resends of it are answered 422 with PostgreSQL's reason at once,
#     without another failed batch and reload (--refuse-s: for a while; the test takes 8 s);
#   - once the trigger is gone and that time is over the same key is saved, exactly once;
#   - a batch sent behind one whose COMMIT fails (batches follow one another in the pipeline)
#     is not committed either: PostgreSQL refuses it ("... which did not commit", sql/011),
#     its submits are answered 503 and saved once each on their resend;
#   - the write connection killed while its batch waits in the pipeline: the broker notices
#     (here libpq's read fails; a lost connection that shows only as results ending early is
#     handled in bk_store's on_poll too, not provoked here), reloads, and the resend of that
#     submit is saved once;
#   - a database whose tables have other column types than the broker writes (the rows go
#     in PostgreSQL's binary format, which names each column's type): the broker names the
#     table in its log, answers 503 instead of failing batch after batch, and starts by
#     itself once the column is back.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_batch_error.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

# submit_bg NAME TIMEOUT KEY DESC: a submit in the background; its exit status, output (the
# id) and errors go to $T/NAME.rc, .out and .err; its pid is in BG_PID.
submit_bg() {
    (
        rc=0
        pls_ctl --timeout "$2" submit --service consult --origin dg --desc "$4" --key "$3" \
            >"$T/$1.out" 2>"$T/$1.err" || rc=$?
        echo "$rc" >"$T/$1.rc"
    ) &
    BG_PID=$!
}

single_setup
REFUSE_S=8
pls_start_broker dg dg --refuse-s "$REFUSE_S"
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
# the broker found the order PostgreSQL refuses: its resends are refused at once, with the
# reason, and fail no batch (one failed batch, one reload, however often it is sent)
assert_contains "$(cat "$T/poison.err")" "422 not saved: the database refuses this order (ERROR:  poisoned order refused by a test trigger)"
assert_contains "$(cat "$(pls_logfile dg)")" "PostgreSQL refuses a new order (consult from dg) on its own (ERROR:  poisoned order refused by a test trigger)"
failed0=$(grep -c 'error: batch failed' "$(pls_logfile dg)")
for i in 1 2 3; do
    rc=0
    pls_ctl --timeout 3 submit --service consult --origin dg --desc "a poison order" --key be-1 \
        >"$T/poison$i.out" 2>"$T/poison$i.err" || rc=$?
    assert_eq "$rc" 1 "exit status of resend $i of the poisoned order"
    assert_contains "$(cat "$T/poison$i.err")" "422 not saved: the database refuses this order"
done
assert_eq "$(grep -c 'error: batch failed' "$(pls_logfile dg)")" "$failed0" "failed batches after 3 resends"
assert_contains "$(pls_ctl --json status | jq -r '.warnings | join("\n")')" \
    "the database refuses 1 submitted order: its desk is answered 422"
# a corrected resend (here another category) is not refused with it: it reaches PostgreSQL
# (whose trigger refuses it too: one more failed batch)
pls_ctl --timeout 3 submit --service consult --origin dg --desc "a poison order" --key be-1c \
    --category labor >/dev/null 2>"$T/corrected.err" || true
assert_eq "$(grep -c 'error: batch failed' "$(pls_logfile dg)")" "$((failed0 + 1))" \
    "failed batches after the corrected resend"

# the broker serves everyone else: a normal order, submitted while the poisoned one is retried
submit_bg again 5 be-1 "poison again"
again=$BG_PID
id2=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "a normal order" \
    --key be-2) || fail "a normal submit after the failed batch was not saved"
wait "$again" || true
assert_eq "$(cat "$T/again.rc")" 1 "exit status of the second poisoned submit (refused)"
pls_alive dg || fail "the broker died after a failed batch"
single_wait_all_completed 30 || fail "orders not completed after the failed batches"
assert_eq "$(pls_sql "SELECT state FROM orders WHERE id = '$id2'")" completed "the normal order"
assert_eq "$(pls_sql "SELECT state FROM orders WHERE id = '$id0'")" completed "the order from before"

# the trigger gone, the same key is saved once (after the REFUSE_S seconds it is refused for)
pls_sql "DROP TRIGGER test_poison ON orders" >/dev/null
resubmit() {
    pls_ctl --timeout 20 submit --service consult --origin dg --desc "a poison order" \
        --key be-1 >"$T/resubmit.out" 2>"$T/resubmit.err"
}
pls_wait_for $((REFUSE_S + 20)) resubmit || fail "the resubmit without the trigger failed: $(cat "$T/resubmit.err")"
id1=$(cat "$T/resubmit.out")
id1b=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "a poison order" \
    --key be-1) || fail "the second resubmit failed"
assert_eq "$id1b" "$id1" "the key's id on a resend"
single_wait_all_completed 30 || fail "orders not completed at the end"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key IN ('be-0', 'be-1', 'be-2')")" 3 \
    "orders of the three keys"
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
failed=$(grep -c 'batch failed' "$(pls_logfile dg)")
pls_note "figures: $failed failed batches logged; 3 orders saved, each completed once"

# An order refused in its batch (a trigger's error) that fails alone for another reason (here
# the trigger raises another error the second time): the broker says so, does not refuse it
# in advance, and boots; its resends fail batches and reloads as any failing order's did
# (without the fix it retried that boot for ever, serving nobody)
pls_sql "CREATE SEQUENCE test_odd_calls;
CREATE FUNCTION test_odd() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.descr LIKE '%odd order%' THEN
        IF nextval('test_odd_calls') = 1 THEN
            RAISE EXCEPTION 'odd order refused by a test trigger';
        END IF;
        RAISE EXCEPTION 'odd order, another error' USING ERRCODE = 'insufficient_privilege';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER test_odd BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_odd();" \
    >/dev/null
loads_before=$(grep -c 'state loaded in' "$(pls_logfile dg)" || true)
rc=0
pls_ctl --timeout 3 submit --service consult --origin dg --desc "an odd order" --key be-odd \
    >/dev/null 2>"$T/odd.err" || rc=$?
assert_eq "$rc" 1 "exit status of the odd order"
pls_wait_log dg 10 'fails on its own for another reason: ERROR:  odd order, another error; it is not refused in advance' ||
    fail "the broker did not say the odd order fails otherwise alone"
pls_sql "DROP TRIGGER test_odd ON orders" >/dev/null
id_odd=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "an odd order" \
    --key be-odd) || fail "the odd order was not saved once its trigger was gone"
loads_after=$(grep -c 'state loaded in' "$(pls_logfile dg)" || true)
pls_note "the odd order: $(head -n 1 "$T/odd.err"); reloads meanwhile: $((loads_after - loads_before))"
single_wait_all_completed 30 || fail "orders not completed after the odd order"
assert_eq "$(pls_sql "SELECT state FROM orders WHERE id = '$id_odd'")" completed "the odd order"

# A batch behind one whose COMMIT fails. A deferred trigger (run at COMMIT, as a DBA's deferred
# constraint would be) makes the poisoned batch wait for a gate the test holds, then refuse; a
# normal submit made meanwhile goes in the next batch, sent into the pipeline behind it. A
# failed COMMIT ends its transaction, so PostgreSQL would run that next batch as if nothing had
# happened: it must refuse it instead. (An error before COMMIT leaves the transaction block
# aborted, which refuses everything after it anyway.)
pls_sql "CREATE TABLE test_gate (x int);
CREATE FUNCTION test_late_poison() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.descr LIKE '%late poison%' THEN
        LOCK TABLE test_gate IN SHARE MODE;
        RAISE EXCEPTION 'late poisoned order refused by a test trigger at COMMIT';
    END IF;
    RETURN NULL;
END \$\$;
CREATE CONSTRAINT TRIGGER test_late_poison AFTER INSERT ON orders DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION test_late_poison();" >/dev/null
gate_taken() {
    [[ $(pls_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
        WHERE c.relname = 'test_gate' AND l.granted") == 1 ]]
}
pls__psql -Atq -d "$PLS_DB" -c "BEGIN; LOCK TABLE test_gate IN EXCLUSIVE MODE;
    SELECT pg_sleep(3); COMMIT;" >"$T/gate.out" 2>&1 &
gate_pid=$!
pls_wait_for 10 gate_taken || fail "the gate was not taken"
submit_bg late 4 be-4 "a late poison order"
late=$BG_PID
single_wait_batch_blocked
# 64 submits at once: more than a batch needs to go into the pipeline behind another
# (BK_PIPELINE_MIN_ROWS)
"$SINGLE_TOOLS/pls-submitmany" --broker "$PLS_BROKER" --count 64 --window 64 \
    --key-prefix behind- --deadline-s 30 >"$T/behind.out" 2>"$T/behind.err" &
behind=$!
wait "$gate_pid" || fail "the gate session failed: $(cat "$T/gate.out")"
wait "$late" || true
behind_rc=0
wait "$behind" || behind_rc=$?
pls_note "$(cat "$T/behind.err")"
assert_eq "$(cat "$T/late.rc")" 1 "exit status of the late poisoned submit (refused)"
assert_eq "$behind_rc" 0 "exit status of the submits behind it (all saved, on a resend)"
assert_contains "$(cat "$(pls_logfile dg)")" "which did not commit"
pls_alive dg || fail "the broker died after a failed pipeline of batches"
pls_sql "DROP TRIGGER test_late_poison ON orders" >/dev/null
single_wait_all_completed 30 || fail "orders not completed after the late poison"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key = 'be-4'")" 0 "rows of key be-4"
assert_eq "$(pls_sql "SELECT count(*), count(DISTINCT idem_key) FROM orders
    WHERE idem_key LIKE 'behind-%'")" "64|64" "orders behind the poison, keys"
assert_eq "$(wc -l <"$T/behind.out")" 64 "orders behind the poison acknowledged"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key LIKE 'behind-%'
    AND state = 'completed'")" 64 "orders behind the poison completed"
# every order's event log runs from 1 to its next_seq without a gap (a row holds n entries
# from seq on): nothing of a failed batch is kept
assert_eq "$(pls_sql "SELECT count(*) FROM orders o LEFT JOIN (SELECT order_id, sum(n) AS s,
    min(seq) AS lo, max(seq + n) AS hi FROM events GROUP BY order_id) e ON e.order_id = o.id
    WHERE e.s IS DISTINCT FROM o.next_seq - 1 OR e.lo <> 1 OR e.hi <> o.next_seq")" 0 \
    "orders whose event log has a gap"
assert_eq "$(pls_sql "SELECT count(*) FROM events e WHERE NOT EXISTS
    (SELECT 1 FROM orders o WHERE o.id = e.order_id)")" 0 "events of no order"
pls_note "figures: the batch behind a failed one refused by PostgreSQL; its 64 orders saved once each on a resend"

# The write connection is lost while its batch waits in the pipeline (a DBA's
# pg_terminate_backend): the broker notices, reloads, and the desk's resend is saved once.
single_lock_events 3
submit_bg loss 10 be-3 "during the loss"
sub_pid=$BG_PID
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

# A column of another type than the broker writes (a database of another version, or a
# DBA's change): the broker says which table at boot, takes no order, and boots by itself
# once the column is back; the order the desk resends then is saved once.
loads() { grep -c 'state loaded in' "$(pls_logfile dg)" || true; }
loaded_again() { (($(loads) > LOADS)); }
pls_kill dg || fail "the broker did not stop on SIGTERM"
pls_sql "ALTER TABLE citizens ALTER COLUMN phone TYPE varchar(40)" >/dev/null
LOADS=$(loads)
PLS_READY_WAIT=1 pls_start_broker dg dg
pls_wait_log dg 20 'table citizens has columns of other types than this broker writes' ||
    fail "the broker did not say which table has other column types"
rc=0
pls_ctl --timeout 2 submit --service consult --origin dg --desc "while refused" --key be-5 \
    --name "Wang Wu" >"$T/refused.out" 2>"$T/refused.err" || rc=$?
pls_note "submit while the tables differ: exit $rc: $(head -n 1 "$T/refused.err")"
assert_eq "$rc" 1 "exit status of a submit while the broker refuses the database"
pls_alive dg || fail "the broker exited instead of waiting for the database"
pls_sql "ALTER TABLE citizens ALTER COLUMN phone TYPE text" >/dev/null
pls_wait_for 20 loaded_again || fail "the broker did not start once the column was back"
id5=$(pls_ctl --timeout 20 submit --service consult --origin dg --desc "while refused" \
    --key be-5 --name "Wang Wu") || fail "the resend after the column came back failed"
single_wait_all_completed 30 || fail "orders not completed after the column came back"
assert_eq "$(pls_sql "SELECT count(*) FROM orders o JOIN citizens c ON c.order_id = o.id
    WHERE o.idem_key = 'be-5' AND c.name = 'Wang Wu'")" 1 "orders of key be-5 with their citizen"
pls_note "figures: a table of other column types refused at boot; order $id5 saved once it was back"
