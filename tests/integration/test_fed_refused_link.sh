#!/usr/bin/env bash
# test_fed_refused_link.sh — a link message the city's PostgreSQL refuses (here a trigger a DBA
# added refuses one order's description when the Forward inserts it), sent by a stand-in for
# the town dg.humen (pls-rawsend link) again and again, as a town resends what is not
# acknowledged:
#   - the city's batch fails and it reloads, then it waits before applying messages from
#     dg.humen again (4 s, then twice as long after each refused batch: the log says so) and
#     ignores its deliveries meanwhile, so it does not fail a batch and reload at every resend;
#   - it serves desks meanwhile; `plsctl status` warns about the waiting link;
#   - once the trigger is gone, the next delivery after the wait is applied and acknowledged,
#     the copy is stored once, the warning is gone;
#   - then the same with a real town broker (dg.changan) whose copy of a new order the city
#     refuses: the city serves desks, and once the trigger is gone the copy arrives by itself.
# Before this, every delivery of that message failed a batch and made the city reload, serving
# nobody for as long as the town kept resending.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_refused_link.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
fed_topology humen changan
fed_start_city --log-level debug
log=$(pls_logfile dg)

fed_sql dg "CREATE FUNCTION test_poison() RETURNS trigger LANGUAGE plpgsql AS \$\$
BEGIN
    IF NEW.descr LIKE '%poison%' THEN
        RAISE EXCEPTION 'poisoned copy refused by a test trigger';
    END IF;
    RETURN NEW;
END \$\$;
CREATE TRIGGER test_poison BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION test_poison();" \
    >/dev/null

# a copy of a consult taken in at dg.humen, as the town sends it
now=$(fed_now_ms)
id=018f0000-0000-7000-8000-000000000001
body=$(jq -cn --arg id "$id" --argjson now "$now" '{
    order: {id: $id, number: "DG-HM-1", key: "key-1", hash: 7, service: "consult",
            origin: "dg.humen", locality: "dg.humen", intake: "dg.humen", channel: "desk",
            priority: 0, desc: "a poison copy", actor: "desk1", created_ms: $now,
            plan: [{name: "咨询", dept: "consult", scope: "dg.humen"}]},
    snap: {state: "queued", step: 0, attempt: 0, dept: "consult", scope: "dg.humen",
           owner: "dg.humen", next_seq: 2, flags: 0, custody: 0, alarms: 0},
    rows: [{seq: 1, n: 1, at: $now, entries: [{kind: "created", at: $now, node: "dg.humen",
            actor: "desk1", to: "queued"}]}]}')
printf 'forward\t%s\t%s\n' "$id" "$body" >"$T/msgs"

# deliver TIMEOUT_MS: one delivery (a Hello and the LinkBatch); prints the acknowledgement
deliver() {
    "$FED_RAWSEND" --broker "$(pls_endpoint dg)" --timeout-ms "$1" link --node dg.humen --to dg \
        <"$T/msgs" 2>/dev/null || true
}
failures() { grep -c 'error: batch failed: ERROR:  poisoned copy' "$log" || true; }
waits() { grep -c 'from dg.humen not applied: the link waits after a refused batch' "$log" || true; }

r=$(deliver 2000)
assert_eq "$r" "ack 0" "the city's acknowledgement of the refused message"
pls_wait_log dg 10 'messages 1 to 1 from dg.humen were in a batch PostgreSQL refused \(batch failed: ERROR:  poisoned copy refused by a test trigger\): they are applied again in 4 s' ||
    fail "the city did not say it waits before applying dg.humen's messages again"

# the city serves desks meanwhile, and says the link waits
id_desk=$(pls_ctl_at dg --timeout 20 submit --service exam --origin dg --desc "考试咨询") ||
    fail "a desk's submit at the city failed while the link waits"
assert_contains "$(pls_ctl_at dg --json status | jq -r '.warnings | join("\n")')" \
    "messages from dg.humen were in 1 batch PostgreSQL refused: applying them waits"

# the town resends for a while: deliveries during a wait are not applied, the waits double
deliveries=1
end=$((SECONDS + 6))
while ((SECONDS < end)); do
    deliver 300 >/dev/null
    deliveries=$((deliveries + 1))
done
f=$(failures)
w=$(waits)
pls_note "figures: $deliveries deliveries of the refused message: $f failed batches, $w deliveries not applied during a wait"
((w >= 1)) || fail "no delivery was held back during a wait"
((f < deliveries)) || fail "every delivery failed a batch ($f of $deliveries)"
grep -q 'they are applied again in 8 s' "$log" || fail "the second wait did not double"
assert_eq "$(fed_sql dg "SELECT count(*) FROM orders WHERE id = '$id'")" 0 "rows of the refused copy"

# the trigger gone: a delivery after the wait is applied and acknowledged, once
fed_sql dg "DROP TRIGGER test_poison ON orders" >/dev/null
acked() { [[ $(deliver 1000) == "ack 1" ]]; }
pls_wait_for 60 acked || fail "the message was not applied once the trigger was gone"
pls_wait_log dg 10 'messages from dg.humen up to 1 are applied: its link goes on' ||
    fail "the city did not say the link goes on"
assert_eq "$(fed_sql dg "SELECT number || ' ' || state || ' ' || owner FROM orders
    WHERE id = '$id'")" "DG-HM-1 queued dg.humen" "the copy at the city"
assert_eq "$(deliver 2000)" "ack 1" "a resend after it was applied"
assert_eq "$(fed_sql dg "SELECT count(*) FROM orders WHERE id = '$id'")" 1 "rows of the copy"
nowarn() { ! pls_ctl_at dg --json status | jq -r '.warnings[]' | grep -q 'dg.humen were in'; }
pls_wait_for 10 nowarn || fail "status still warns about dg.humen's messages"
assert_eq "$(pls_ctl_at dg --json show "$id_desk" | jq -r .number | cut -c1-3)" "DG-" \
    "the desk's order taken while the link waited"
pls_alive dg || fail "the city broker died"
pls_note "figures: the copy applied once after $(failures) refused batches"

# A real town: its copy of a new order is what the city refuses
fed_sql dg "CREATE TRIGGER test_poison BEFORE INSERT ON orders FOR EACH ROW
    EXECUTE FUNCTION test_poison()" >/dev/null
fed_start_town changan
f0=$(failures)
t0=$SECONDS
id_town=$(pls_ctl_at changan submit --service consult --origin dg.changan \
    --desc "a poison order at a town") || fail "the town did not take its order"
pls_wait_log dg 20 'from dg.changan were in a batch PostgreSQL refused' ||
    fail "the city did not hold back dg.changan"
id_desk2=$(pls_ctl_at dg --timeout 20 submit --service exam --origin dg --desc "考试咨询 2") ||
    fail "a desk's submit at the city failed while dg.changan waits"
sleep 12
f1=$(failures)
fed_sql dg "DROP TRIGGER test_poison ON orders" >/dev/null
at_city() { [[ $(fed_sql dg "SELECT count(*) FROM orders WHERE id = '$id_town'") == 1 ]]; }
pls_wait_for 90 at_city || fail "the town's copy did not reach the city once the trigger was gone"
pls_note "figures: a real town resending for $((SECONDS - t0)) s: $((f1 - f0)) failed batches at the city while the trigger refused it"
pls_wait_log dg 10 'messages from dg.changan up to [0-9]+ are applied: its link goes on' ||
    fail "the city did not say dg.changan's link goes on"
assert_eq "$(fed_sql dg "SELECT state FROM orders WHERE id = '$id_desk2'")" queued \
    "the desk's order taken while dg.changan waited"
fed_check_log dg
pls_note "PASS"
