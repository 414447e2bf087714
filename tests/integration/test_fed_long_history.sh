#!/usr/bin/env bash
# test_fed_long_history.sh — an order whose history is larger than a link frame (1 MiB) is
# handed over to another command center (DESIGN §7: nothing is lost; a link never sticks).
# 1. A legal-aid order at dg.humen is signed for by a staff worker of the town (初审), which
#    records 300 progress reports of 4,000 bytes each (1.2 MB of history), then passes the
#    review: the order goes to the city for 审批 and 指派. The city receives it, its workers
#    finish it, and the town's copy ends completed; the city has the same event list as the
#    town, every progress report with its note.
# 2. A consult with as long a history is transferred (转办) from dg.humen to dg.changan, which
#    never held it (through the city, which forwards it on): dg.changan finishes it and has
#    the same event list as dg.humen, every note included — the parts after the Forward's
#    first are not lost.
# Every one of these hand-overs went in parts (the senders' logs say so).
# Then the town's link to the city is up and its outbox drained.
#
# Before this test the Forward carried the whole history in one message: over the 1 MiB
# frame cap, so libzmq closed the town's connection at every resend and the link stayed stuck,
# holding back every later message of the town.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_long_history.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

REPORTS=${FED_LONG_REPORTS:-300}

fed_setup
fed_topology humen changan
fed_start_city
fed_start_town humen
fed_start_town changan
# the town's 初审 in staff custody: a person signs and reports; the city's steps by noop workers
pls_start_worker hm_staff --broker "$(pls_endpoint humen)" --node dg.humen \
    --dept legal_aid,consult --custody staff --builtin sign --name hm-review --heartbeat-ms 500
pls_wait_log hm_staff 20 'ready at' || fail "the town's staff worker is not ready"
pls_start_worker dg_w --broker "$(pls_endpoint dg)" --node dg --dept legal_aid --builtin noop \
    --concurrency 4
pls_wait_log dg_w 20 'ready at' || fail "the city's worker is not ready"
pls_start_worker ca_w --broker "$(pls_endpoint changan)" --node dg.changan --dept consult \
    --builtin noop --concurrency 4
pls_wait_log ca_w 20 'ready at' || fail "the worker of dg.changan is not ready"

note=$(head -c 4000 /dev/zero | tr '\0' 'n')
# long_history ID: the town's staff signs for order ID, then records $REPORTS progress reports
# of 4,000 bytes; the history must then be over the 1 MiB frame.
long_history() {
    local id=$1 i hist
    signed() { [[ $(pls_ctl_at humen --json show "$id" | jq -r .state) == in_progress ]]; }
    pls_wait_for 20 signed || fail "order $id not signed for at the town"
    for i in $(seq "$REPORTS"); do
        pls_ctl_at humen progress "$id" --pct $((i * 100 / REPORTS)) --note "$i: $note" \
            >/dev/null || fail "progress report $i of $id refused"
    done
    hist=$(fed_sql humen "SELECT sum(octet_length(entries::text)) FROM events
        WHERE order_id = '$id'")
    pls_note "history of $id at the town: $hist bytes in the event log"
    ((hist > 1024 * 1024)) || fail "the history ($hist bytes) is not over the 1 MiB frame"
}
events() {
    fed_sql "$1" "SELECT string_agg(seq::text || ':' || kind || ':' || node, ',' ORDER BY seq)
        FROM event_entries WHERE order_id = '$2'"
}
notes() {
    fed_sql "$1" "SELECT count(*) FROM event_entries WHERE order_id = '$2'
        AND kind = 'progress' AND payload ->> 'note' LIKE '%: nnnn%'"
}
state_at() { fed_sql "$1" "SELECT state FROM orders WHERE id = '$2'"; }

# ---- 1: legal aid handed over to the city (which holds a copy since intake) ----------------
id=$(pls_ctl_at humen submit --service legal_aid --origin dg.humen --desc "追讨工伤赔偿，申请法律援助")
long_history "$id"
pls_ctl_at humen complete "$id" --outcome pass --note "符合法律援助条件" >/dev/null ||
    fail "the review could not be completed"
copy_done() { [[ $(state_at humen "$id") == completed ]]; }
pls_wait_for 60 copy_done || fail "the town's copy of $id is $(state_at humen "$id"), not completed"
assert_eq "$(fed_sql dg "SELECT state || ' ' || owner FROM orders WHERE id = '$id'")" \
    "completed dg.humen" "the order at the city (finished: back with its first desk)"
assert_eq "$(events dg "$id")" "$(events humen "$id")" "the event list at the city and at the town"
assert_eq "$(notes dg "$id")" "$REPORTS" "progress reports with their notes at the city"

# ---- 2: a consult transferred to dg.changan, which never held it: the whole history comes
# with the hand-over, through the city ----------------------------------------------------
id2=$(pls_ctl_at humen submit --service consult --origin dg.humen --desc "邻里宅基地纠纷咨询")
long_history "$id2"
pls_ctl_at humen transfer "$id2" --to dg.changan --reason "当事人居住在长安" >/dev/null ||
    fail "the transfer was refused"
done2() { [[ $(state_at humen "$id2") == completed ]]; }
pls_wait_for 60 done2 || fail "order $id2 is $(state_at humen "$id2") at the town, not completed"
assert_eq "$(events changan "$id2")" "$(events humen "$id2")" \
    "the event list at dg.changan and at the town"
assert_eq "$(notes changan "$id2")" "$REPORTS" "progress reports with their notes at dg.changan"

# the hand-overs went in parts: the town's to the city (both orders), the city's to dg.changan
in_parts() { # LOG ID TO
    grep -Eq "forward of $2 to $3: a history of [0-9]+ bytes in ([2-9]|[1-9][0-9]+) messages" "$1"
}
in_parts "$(pls_logfile humen)" "$id" dg || fail "no hand-over of $id in parts in the town's log"
in_parts "$(pls_logfile humen)" "$id2" dg || fail "no hand-over of $id2 in parts in the town's log"
in_parts "$(pls_logfile dg)" "$id2" dg.changan ||
    fail "no hand-over of $id2 in parts in the city's log"
drained() { [[ $(fed_link humen dg outbox) == 0 ]]; }
pls_wait_for 20 drained || fail "the town's outbox to the city is $(fed_link humen dg outbox)"
assert_eq "$(fed_link dg dg.humen connected)" true "the city's link to dg.humen"
fed_check_all
pls_note "PASS"
