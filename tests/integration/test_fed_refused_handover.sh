#!/usr/bin/env bash
# test_fed_refused_handover.sh — a hand-over the receiving command center refuses comes back
# to its sender instead of being lost (FEDERATION.md §9, "Malformed messages from a peer").
# A city (dg) and a town (dg.humen) whose catalogs differ: the town's notary service sends its
# second step to a city department, notary_net, that the city's catalog does not have (a
# catalog change made at one node only).
#   - a notary order taken in at the town is guided there, then handed over to the city; the
#     city refuses it with its reason in its log, writes nothing of it, and sends it back;
#   - at the town the order is its own again, in state returned (退单), with a `returned`
#     event whose reason names the city and why; the town's log says so; it is not sent back
#     and forth: one refusal, one return, and it stays returned;
#   - the city's copy and the town's agree (state, owner);
#   - the operator at the town transfers it to the city's notary_admin (plsctl transfer); the
#     city completes it and the result reaches the town; no event number twice at either
#     node (fed_check_log).
#
# Before this, the refused order stayed at the town as a copy naming the city as its owner,
# and no node worked on it.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_fed_refused_handover.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/fed.sh"

fed_setup
fed_topology humen
fed_start_city
fed_start_town humen
# the town's catalog only: its notary referral goes to a city department the city lacks
fed_sql humen "INSERT INTO departments (code, name_zh, name_en)
    VALUES ('notary_net', '公证网办科', 'online notary section')" >/dev/null
assert_eq "$(fed_sql humen "UPDATE steps SET dept = 'notary_net'
    WHERE service = 'notary' AND idx = 1 RETURNING place")" city "the town's changed step"
pls_kill humen || fail "the town did not stop"
fed_start_town humen
fed_start_workers dg humen

id=$(pls_ctl_at humen submit --service notary --origin dg.humen --desc "房产继承公证咨询" \
    --name 李四 --phone 13900000000) || fail "the town does not take the notary order"
state_at() { pls_ctl_at "$1" --json show "$id" 2>/dev/null | jq -r "$2"; }
returned() { [[ $(state_at humen .state) == returned ]]; }
pls_wait_for 30 returned || fail "the order is not returned at the town: $(pls_ctl_at humen show "$id")"

city_log=$(pls_logfile dg)
town_log=$(pls_logfile humen)
grep -qF "forward of $id from dg.humen refused: we are to own it, and its department is not in our catalog; sent back to dg.humen" \
    "$city_log" || fail "the city's log does not say it refused and sent back $id"
grep -qE "order $id \(DG-HM-[0-9]+-[0-9]+\) is back: dg refused the hand-over: we are to own it, and its department is not in our catalog" \
    "$town_log" || fail "the town's log does not say $id came back"
# the citizen's data went to the city with the hand-over: it is in neither log (what the
# Forward sent back carries: test_fed_bad_forward)
for f in "$city_log" "$town_log"; do
    ! grep -qE '李四|13900000000' "$f" || fail "the citizen's name or phone number in $f"
done

show=$(pls_ctl_at humen --json show "$id")
assert_eq "$(jq -r .node <<<"$show")" dg.humen "the node that owns the returned order"
assert_eq "$(jq '[.events[] | select(.kind == "returned")] | length' <<<"$show")" 1 \
    "returned events at the town"
assert_contains "$(jq -r '.events[] | select(.kind == "returned") | .payload.reason' <<<"$show")" \
    "dg refused the hand-over: we are to own it, and its department is not in our catalog"
assert_eq "$(fed_sql dg "SELECT count(*) FROM orders WHERE id = '$id' AND open")" 0 \
    "open rows of the order at the city"
assert_eq "$(grep -c "forward of $id from dg.humen refused" "$city_log")" 1 \
    "refusals of the order at the city"

# the city's copy follows the town's order: returned, owned by the town
copy_agrees() {
    [[ $(fed_sql dg "SELECT state || ' ' || owner FROM orders WHERE id = '$id'") == \
        "returned dg.humen" ]]
}
pls_wait_for 20 copy_agrees ||
    fail "the city's copy: $(fed_sql dg "SELECT state || ' ' || owner FROM orders WHERE id = '$id'")"
sleep 2 # nothing bounces: it stays returned, refused once
assert_eq "$(state_at humen .state)" returned "the order at the town after 2 s"
assert_eq "$(grep -c "forward of $id from dg.humen refused" "$city_log")" 1 \
    "refusals of the order at the city after 2 s"

# the operator at the town sends it to a department the city has
pls_ctl_at humen --operator op1 transfer "$id" --to dg --dept notary_admin \
    --reason "市公证管理科办理" >/dev/null || fail "the town's operator cannot transfer $id"
done_at_town() { [[ $(state_at humen .state) == completed ]]; }
pls_wait_for 30 done_at_town || fail "the order is not completed: $(pls_ctl_at humen show "$id")"
show=$(pls_ctl_at humen --json show "$id")
assert_eq "$(jq -r '[.events[] | select(.kind == "step_completed") | .node] | join(",")' \
    <<<"$show")" "dg.humen,dg" "where the steps were completed"
fed_check_log dg
fed_check_log humen
pls_note "PASS"
