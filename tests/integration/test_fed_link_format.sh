#!/usr/bin/env bash
# test_fed_link_format.sh — link format 2 (docs/FEDERATION.md "Message bodies"): an order's
# event rows travel with their entries after the JSON body, and a broker still speaks format 1
# to a peer that does not read format 2. A city broker and a stand-in for its town dg.humen
# (pls-rawsend link):
#   1. the stand-in says it reads format 2 and sends, in one LinkBatch: a copy (Forward) whose
#      two event rows (with Chinese text, so bytes and characters differ) follow its body; an
#      Event of that copy in the same form; a hand-over of a consult to the city; and six
#      malformed messages: entries that are no JSON array, a length past the message's end,
#      bytes after the body that no row accounts for, entries nested 40 deep, a row with
#      neither a length nor entries, entries with a lone surrogate escape. Every message is
#      acknowledged; the good ones are stored with exactly the entries sent; each bad one is
#      refused with its reason before anything of it is written, no batch of the city fails,
#      and the city goes on serving;
#      what the city sends the stand-in about the hand-over (an Event of its queued state)
#      comes in format 2;
#   2. the stand-in comes back saying nothing of formats (a broker of an older version): the
#      city resends the messages it has not had acknowledged in format 1, with the same rows
#      and entries inside the body.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_link_format.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
fed_topology humen
fed_start_city

now=$(fed_now_ms)
id() { printf '018f0000-0000-7000-8000-%012d' "$1"; }
# entries SEQ KIND: one entry of an event row, as a JSON array
entries() {
    jq -cn --argjson now "$now" --arg k "$2" --argjson s "$1" \
        '[{kind: $k, at: $now, node: "dg.humen", actor: "窗口一", step: 0, attempt: 0,
           payload: {note: ("第" + ($s | tostring) + "条：劳动合同纠纷")}}]'
}
# body2 HEAD-JSON ENTRIES...: a format-2 body: HEAD (without rows) gets a row head per
# ENTRIES (seq 1, 2, ... unless HEAD has first_seq), then the entries follow the body
body2() {
    local head=$1 seq e tail='' rows='[]'
    shift
    seq=$(jq -r '.first_seq // 1' <<<"$head")
    for e in "$@"; do
        rows=$(jq -c --argjson s "$seq" --argjson now "$now" --argjson len "$(printf %s "$e" |
            wc -c)" '. + [{seq: $s, n: 1, at: $now, len: $len}]' <<<"$rows")
        tail+=$e
        seq=$((seq + 1))
    done
    printf '%s%s' "$(jq -c --argjson rows "$rows" 'del(.first_seq) | .rows = $rows' <<<"$head")" \
        "$tail"
}
# order ID NUMBER OWNER STATE: the order and snapshot of a consult taken in at dg.humen
order() {
    jq -cn --arg id "$1" --arg n "$2" --arg owner "$3" --arg st "$4" --argjson now "$now" '{
        order: {id: $id, number: $n, key: ("key-" + $n), hash: 7, service: "consult",
                origin: "dg.humen", locality: "dg.humen", intake: "dg.humen", channel: "desk",
                priority: 0, desc: "劳动合同纠纷咨询", actor: "desk1", created_ms: $now,
                plan: [{name: "咨询", dept: "consult", scope: $owner}]},
        snap: {state: $st, step: 0, attempt: 0, dept: "consult", scope: $owner, owner: $owner,
               next_seq: 3, flags: 0, custody: 0, alarms: 0}}'
}
e1=$(entries 1 received)
e2=$(entries 2 queued)
e3=$(entries 3 assigned)
{
    printf 'forward\t%s\t%s\n' "$(id 1)" "$(body2 "$(order "$(id 1)" DG-HM-1 dg.humen queued)" \
        "$e1" "$e2")"
    printf 'event\t%s\t%s\n' "$(id 1)" "$(body2 '{"first_seq":3,"snap":{"state":"assigned",
        "step":0,"attempt":1,"dept":"consult","scope":"dg.humen","owner":"dg.humen",
        "next_seq":4}}' "$e3")"
    printf 'forward\t%s\t%s\n' "$(id 2)" "$(body2 "$(order "$(id 2)" DG-HM-2 dg forwarded)" \
        "$e1" "$e2")"
    # malformed: each refused before anything of it is written
    printf 'forward\t%s\t%s\n' "$(id 3)" "$(body2 "$(order "$(id 3)" DG-HM-3 dg.humen queued)" \
        '[1,')"
    printf 'event\t%s\t%s\n' "$(id 1)" \
        '{"snap":{"state":"assigned","owner":"dg.humen","next_seq":5},"rows":[{"seq":4,"n":1,"at":1,"len":99}]}[]'
    printf 'event\t%s\t%s\n' "$(id 1)" \
        '{"snap":{"state":"assigned","owner":"dg.humen","next_seq":5},"rows":[]}[{"kind":"x"}]'
    printf 'forward\t%s\t%s\n' "$(id 4)" "$(body2 "$(order "$(id 4)" DG-HM-4 dg.humen queued)" \
        "$(printf '%.0s[' {1..40})$(printf '%.0s]' {1..40})")"
    printf 'forward\t%s\t%s\n' "$(id 5)" "$(order "$(id 5)" DG-HM-5 dg.humen queued |
        jq -c '.rows = [{seq: 1, n: 1, at: 1}]')"
    # a lone surrogate escape: PostgreSQL's json column would take it and never give it back
    printf 'event\t%s\t%s\n' "$(id 1)" \
        '{"snap":{"state":"assigned","owner":"dg.humen","next_seq":5},"rows":[{"seq":4,"n":1,"at":1,"len":10}]}["\udc00"]'
} >"$T/msgs"
n=$(wc -l <"$T/msgs")

"$FED_RAWSEND" --broker "$(pls_endpoint dg)" --timeout-ms 10000 link --node dg.humen --to dg \
    --format 2 --listen-ms 2500 <"$T/msgs" >"$T/heard2" ||
    fail "the city did not acknowledge every message: $(tail -n 1 "$T/heard2")"
assert_eq "$(tail -n 1 "$T/heard2")" "ack $n" "the city's acknowledgement"

log=$(pls_logfile dg)
for want in "message 4 from dg.humen: row 0: its entries are not a JSON array: skipped" \
    "message 5 from dg.humen: row 0: its entries (\"len\") run past the message's end: skipped" \
    "message 6 from dg.humen: 14 bytes after the body that no row's \"len\" accounts for: skipped" \
    "message 7 from dg.humen: row 0: its entries nest deeper than 32: skipped" \
    "message 8 from dg.humen: row 0 has neither \"len\" nor \"entries\": skipped" \
    "message 9 from dg.humen: row 0: a low surrogate escape without its high one: skipped"; do
    grep -qF "$want" "$log" || fail "no line '$want' in $log"
done
if grep -q 'batch failed' "$log"; then
    grep -m 3 'batch failed' "$log" >&2
    fail "a batch of the city failed (see above)"
fi

# the good ones, stored with exactly the entries sent
copy_ok() {
    [[ $(fed_sql dg "SELECT state FROM orders WHERE id = '$(id 1)'") == assigned ]]
}
pls_wait_for 10 copy_ok || fail "the copy's state is not the Event's (assigned)"
assert_eq "$(fed_sql dg "SELECT string_agg(seq || ' ' || entries::text, '|' ORDER BY seq)
    FROM events WHERE order_id = '$(id 1)'")" "1 $e1|2 $e2|3 $e3" \
    "the copy's event rows at the city (the entries as sent)"
assert_eq "$(fed_sql dg "SELECT string_agg(seq || ' ' || entries::text, '|' ORDER BY seq)
    FROM events WHERE order_id = '$(id 2)' AND seq < 3")" "1 $e1|2 $e2" \
    "the hand-over's history at the city"
assert_eq "$(pls_ctl_at dg --json show "$(id 2)" | jq -r '.state + " " + .node')" "queued dg" \
    "the hand-over, as the city shows it"
assert_eq "$(fed_sql dg "SELECT count(*) FROM orders WHERE id IN ('$(id 3)', '$(id 4)',
    '$(id 5)')")" 0 "orders of refused Forwards at the city"
assert_eq "$(fed_link dg dg.humen refused)" 6 "status: messages refused on the link"

# What the city sent the stand-in about the hand-over: format 2, its entries after the body.
ev=$(awk -F '\t' -v id="$(id 2)" '$2 == "event" && $3 == id { print $4; exit }' \
    <(sed 's/^msg //' "$T/heard2"))
[[ -n $ev ]] || fail "the city sent the stand-in no Event of the hand-over: $(cat "$T/heard2")"
head2=${ev%%\}\[*}'}'
tail2=${ev#"$head2"}
assert_eq "$(jq -r '.snap.state + " " + .snap.owner' <<<"$head2")" "queued dg" \
    "the Event's snapshot (format 2)"
assert_eq "$(jq -r '.rows | map(has("len") and (has("entries") | not)) | all' <<<"$head2")" \
    true "the Event's rows carry lengths, not entries (format 2)"
assert_eq "$(printf %s "$tail2" | wc -c)" "$(jq '[.rows[].len] | add' <<<"$head2")" \
    "the bytes after the Event's body: its rows' entries"
kinds2=$(jq -r '.[].kind' <<<"$tail2" | paste -sd,)
[[ $kinds2 == *queued* ]] || fail "the Event's entries are not the city's queuing: $tail2"

# 2. The stand-in again, as a broker of an older version: the unacknowledged messages again,
# now in format 1 (one JSON document each, the entries inside the rows).
"$FED_RAWSEND" --broker "$(pls_endpoint dg)" --timeout-ms 10000 link --node dg.humen --to dg \
    --first $((n + 1)) --listen-ms 2500 </dev/null >"$T/heard1" ||
    fail "the second connection failed: $(tail -n 1 "$T/heard1")"
ev1=$(awk -F '\t' -v id="$(id 2)" '$2 == "event" && $3 == id { print $4; exit }' \
    <(sed 's/^msg //' "$T/heard1"))
[[ -n $ev1 ]] || fail "the city did not resend the Event of the hand-over: $(cat "$T/heard1")"
assert_eq "$(jq -s length <<<"$ev1")" 1 "JSON documents in the resent Event's body"
assert_eq "$(jq -r '.rows | map(has("entries") and (has("len") | not)) | all' <<<"$ev1")" true \
    "the resent Event's rows carry their entries (format 1)"
assert_eq "$(jq -r '.rows[].entries[].kind' <<<"$ev1" | paste -sd,)" "$kinds2" \
    "the entries of the Event in format 1 and in format 2"
assert_eq "$(jq -c '.snap' <<<"$ev1")" "$(jq -c '.snap' <<<"$head2")" \
    "the snapshot in format 1 and in format 2"

pls_ctl_at dg submit --service exam --origin dg --desc "考试咨询" >/dev/null ||
    fail "the city does not take orders"
fed_check_log dg
pls_note "PASS"
