#!/usr/bin/env bash
# test_fed_bad_forward.sh — malformed Forwards from a child command center (DESIGN §7: bad input
# gets a clear reason, and the broker keeps serving everyone else). A city broker and a
# stand-in for its town dg.humen (pls-rawsend link) that sends, in one LinkBatch, Forwards
# without a state, with an unknown state, without an owner, without a number, without a
# creation time, and, for orders the city is to own, of a service and of a department the city
# does not know; then a well-formed copy, a well-formed hand-over to the city and an Event of
# the copy whose snapshot has no owner; then messages that fail the link's own checks (an
# order that is no UUID, a body over 256 KiB, a body that is not UTF-8) and a good copy.
#   - every message is acknowledged (the town is not stuck resending them);
#   - each malformed Forward is refused with its reason in the city's log, and nothing of it
#     is written; the two the city's catalog cannot take are sent back to the town (its
#     outbox: the town's again, returned, without the citizen or the description); one of
#     the city's own sent back to it, of a department the city no longer has, is the
#     city's again, returned, under its step's department, and not sent back; no batch of
#     the city fails; `plsctl status` counts them on the link and
#     warns, also after the city reloaded (they are never sent again);
#   - the well-formed copy is stored as a copy, the hand-over is the city's own open order,
#     queued for its department; the bad Event leaves the copy's state as it was; a copy
#     whose history has a row past its next event is stored without that row; one with
#     absurd times (7500 BC) is stored with them clamped;
#   - the same messages again (a resend after a reconnection) change nothing;
#   - the city still takes orders.
#
# Before this test a Forward without a state wrote NULL into orders.state: the city's batch
# failed, the city answered 503 to everyone and reloaded, and a real town would have sent the
# message again and again; one with an unknown state was stored as a copy in state "bogus".
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_bad_forward.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
fed_topology humen
fed_start_city

now=$(fed_now_ms)
# fwd ID NUMBER OWNER [JQ-FILTER]: a Forward line "forward<TAB>ID<TAB>BODY" as the town sends
# it: a consult taken in at dg.humen, its step at SCOPE (the owner's node), with its history.
fwd() {
    local body
    body=$(jq -cn --arg id "$1" --arg n "$2" --arg owner "$3" --argjson now "$now" '{
        order: {id: $id, number: $n, key: ("key-" + $n), hash: 7, service: "consult",
                origin: "dg.humen", locality: "dg.humen", intake: "dg.humen", channel: "desk",
                priority: 0, desc: "劳动合同纠纷咨询", actor: "desk1", created_ms: $now,
                plan: [{name: "咨询", dept: "consult", scope: $owner}]},
        snap: {state: (if $owner == "dg" then "forwarded" else "queued" end), step: 0,
               attempt: 0, dept: "consult", scope: $owner, owner: $owner, next_seq: 2,
               flags: 0, custody: 0, alarms: 0},
        rows: [{seq: 1, n: 1, at: $now, entries: [{kind: "created", at: $now,
                node: "dg.humen", actor: "desk1", to: "queued"}]}]}' | jq -c "${4:-.}")
    printf 'forward\t%s\t%s\n' "$1" "$body"
}
id() { printf '018f0000-0000-7000-8000-%012d' "$1"; }

{
    fwd "$(id 1)" DG-HM-1 dg.humen 'del(.snap.state)'
    fwd "$(id 2)" DG-HM-2 dg.humen '.snap.state = "bogus"'
    fwd "$(id 3)" DG-HM-3 dg.humen '.snap.owner = ""'
    fwd "$(id 4)" DG-HM-4 dg.humen '.order.number = 4'
    fwd "$(id 5)" DG-HM-5 dg.humen 'del(.order.created_ms)'
    fwd "$(id 6)" DG-HM-6 dg '.order.service = "no_such_service"'
    fwd "$(id 7)" DG-HM-7 dg '.snap.dept = "no_such_dept"
        | .order.citizen = {name: "王五", phone: "13700000000"}'
    fwd "$(id 8)" DG-HM-8 dg.humen
    fwd "$(id 9)" DG-HM-9 dg
    # a copy with a history row past its next event, and one with absurd times
    fwd "$(id 10)" DG-HM-10 dg.humen '.rows += [{seq: 5, n: 1, at: 1, entries: [{kind: "x"}]}]'
    fwd "$(id 11)" DG-HM-11 dg.humen '.snap.due_ms = -300000000000000
        | .snap.whole_due_ms = 9000000000000000 | .rows[0].at = -300000000000000'
    printf 'event\t%s\t%s\n' "$(id 8)" "$(jq -cn --argjson now "$now" '{
        snap: {state: "completed", step: 0, attempt: 1, next_seq: 3},
        rows: [{seq: 2, n: 1, at: $now, entries: [{kind: "completed", at: $now,
                node: "dg.humen", actor: "w1", from: "queued", to: "completed"}]}]}')"
    # messages the envelope's own checks refuse: an order that is no id, a body over the
    # 256 KiB a link message may carry, a body that is not UTF-8; then a good copy again
    printf 'forward\tnot-an-order-id\t{}\n'
    printf 'event\t%s\t{"pad":"%s"}\n' "$(id 12)" "$(head -c 300000 /dev/zero | tr '\0' x)"
    printf 'forward\t%s\t{"x":"\xff\xfe"}\n' "$(id 13)"
    fwd "$(id 14)" DG-HM-14 dg.humen
    # an Event without a snapshot; a message for a node the city has no link towards
    printf 'event\t%s\t{"rows":[]}\n' "$(id 8)"
    printf 'event\t%s\t{"rows":[]}\tdg.nowhere\n' "$(id 15)"
    # a hand-over of the city's own sent back to it, of a department the city no longer
    # has: the city's own again, returned, under its step's department; not sent back
    fwd "$(id 16)" DG-HM-16 dg '.snap.dept = "no_such_dept" | .snap.state = "returned"
        | .refused = "no such department"'
} >"$T/msgs"
n=$(wc -l <"$T/msgs")

r=$("$FED_RAWSEND" --broker "$(pls_endpoint dg)" --timeout-ms 10000 link --node dg.humen --to dg \
    <"$T/msgs") || fail "the city did not acknowledge every message: $r"
assert_eq "$r" "ack $n" "the city's acknowledgement"

log=$(pls_logfile dg)
refusals() { [[ $(grep -c 'refused: ' "$log") -ge 10 ]]; }
pls_wait_for 10 refusals || fail "fewer than 10 refusals in $log"
grep -q "event of $(id 8) from dg.humen without a snapshot: skipped" "$log" ||
    fail "the Event without a snapshot is not reported in $log"
grep -q "message 18 from dg.humen for dg.nowhere: no link towards it: skipped" "$log" ||
    fail "the message for dg.nowhere is not reported in $log"
for want in "$(id 1) from dg.humen refused: the snapshot has no known state" \
    "$(id 2) from dg.humen refused: the snapshot has no known state" \
    "$(id 3) from dg.humen refused: the snapshot names no owner" \
    "$(id 4) from dg.humen refused: an order member the orders table requires" \
    "$(id 5) from dg.humen refused: the order has no creation time" \
    "$(id 6) from dg.humen refused: we are to own it, and its service is not in our catalog" \
    "$(id 6) from dg.humen refused: we are to own it, and its service is not in our catalog; sent back to dg.humen" \
    "$(id 7) from dg.humen refused: we are to own it, and its department is not in our catalog; sent back to dg.humen"; do
    grep -qF "forward of $want" "$log" || fail "no line 'forward of $want' in $log"
done
grep -qF "order $(id 16) (DG-HM-16) is back: dg.humen refused the hand-over: no such department; it waits here as returned for an operator (plsctl requeue or transfer), under the department of its step here: consult" \
    "$log" || fail "the city does not say its order $(id 16) is back"
# The two hand-overs the city's catalog cannot take go back to dg.humen (its outbox towards
# the town), the town's again, in state returned, with the reason, without the citizen or
# the description; the malformed ones and the one that was itself sent back do not.
assert_eq "$(fed_sql dg "SELECT string_agg(right(order_id::text, 2) || ' ' ||
        (body::json #>> '{snap,state}') || ' ' || (body::json #>> '{snap,owner}') || ' ' ||
        (body::json ->> 'refused') || ' ' || ((body::jsonb -> 'order') ?| array['citizen',
        'desc'])::text, ',' ORDER BY order_id)
        FROM link_outbox WHERE kind = 'forward' AND to_node = 'dg.humen'")" \
    "06 returned dg.humen we are to own it, and its service is not in our catalog false,07 returned dg.humen we are to own it, and its department is not in our catalog false" \
    "hand-overs the city sent back to dg.humen"
for want in "message 13 from dg.humen refused: order: not an order id" \
    "message 14 from dg.humen refused: body: longer than 262144 bytes" \
    "message 15 from dg.humen refused: body: not valid UTF-8"; do
    grep -qF "$want" "$log" || fail "no line '$want' in $log"
done
grep -q "copy of order $(id 8): snapshot without a known state or an owner, ignored" "$log" ||
    fail "the Event without an owner is not reported in $log"
# what an operator sees without reading the log
st=$(pls_ctl_at dg --json status)
assert_eq "$(jq -r '.links[] | select(.peer == "dg.humen") | .refused' <<<"$st")" 12 \
    "status: messages refused on the link to dg.humen"
assert_contains "$(jq -r '.warnings[]' <<<"$st")" \
    "12 messages from dg.humen refused or skipped since this broker started (the last of order $(id 15))"
assert_contains "$(pls_ctl_at dg status)" "12 messages from dg.humen refused or skipped"
if grep -q 'batch failed' "$log"; then
    grep -m 3 'batch failed' "$log" >&2
    fail "a batch of the city failed (see above)"
fi

orders() {
    fed_sql dg "SELECT string_agg(number || ' ' || state || ' ' || owner || ' ' || open::text,
        ',' ORDER BY number) FROM orders WHERE intake_node = 'dg.humen'"
}
want="DG-HM-10 queued dg.humen false,DG-HM-11 queued dg.humen false,DG-HM-14 queued dg.humen false"
want+=",DG-HM-16 returned dg true,DG-HM-8 queued dg.humen false,DG-HM-9 queued dg true"
orders_are_wanted() { [[ $(orders) == "$want" ]]; }
pls_wait_for 10 orders_are_wanted || true
assert_eq "$(orders)" "$want" "the orders of dg.humen at the city"
assert_eq "$(fed_sql dg "SELECT count(*) FROM events WHERE order_id IN ('$(id 1)', '$(id 2)',
    '$(id 3)', '$(id 4)', '$(id 5)', '$(id 6)', '$(id 7)')")" 0 "event rows of refused Forwards"
assert_eq "$(fed_sql dg "SELECT string_agg(seq::text, ',' ORDER BY seq) FROM events
    WHERE order_id = '$(id 10)'")" 1 "event rows of the copy with a row past its next event"
grep -q "history of order $(id 10): a row at 5 past the order's next event (2): ignored" "$log" ||
    fail "the row past the next event is not reported in $log"
assert_eq "$(pls_ctl_at dg --json show "$(id 9)" | jq -r .state)" queued \
    "the hand-over's state as the city shows it"

# A resend of the same messages after a reconnection: already applied, nothing changes.
r=$("$FED_RAWSEND" --broker "$(pls_endpoint dg)" --timeout-ms 10000 link --node dg.humen --to dg \
    <"$T/msgs") || fail "the city did not acknowledge the resend: $r"
assert_eq "$r" "ack $n" "the city's acknowledgement of the resend"
assert_eq "$(orders)" "$want" "the orders of dg.humen at the city after the resend"
assert_eq "$(grep -c 'refused: ' "$log")" 10 "refusals after the resend (none again)"
assert_eq "$(fed_link dg dg.humen refused)" 12 "status: refused messages after the resend"

# The city reloads (its write connection is cut): the count stays, those messages never
# come again.
loads=$(grep -c 'state loaded' "$log")
fed_sql dg "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
reloaded() { [[ $(grep -c 'state loaded' "$log") -gt $loads ]]; }
pls_wait_for 30 reloaded || fail "the city did not reload after its connections were cut"
counted() { [[ $(fed_link dg dg.humen refused 2>/dev/null) == 12 ]]; }
pls_wait_for 20 counted ||
    fail "status after the reload: $(fed_link dg dg.humen refused) refused messages, not 12"

pls_ctl_at dg submit --service exam --origin dg --desc "考试咨询" >/dev/null ||
    fail "the city does not take orders"
fed_check_log dg
pls_note "PASS"
