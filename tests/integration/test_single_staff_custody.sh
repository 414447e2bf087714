#!/usr/bin/env bash
# test_single_staff_custody.sh — staff custody (DESIGN §6): once a person's department has signed
# for an order (签收), it holds the order durably:
#   - a `--custody staff --builtin sign` worker signs for an order: in_progress, `accepted`
#     naming the worker, the worker's credit is free again;
#   - the worker is killed with SIGKILL, stays dead past the lease, and is restarted; then the
#     broker is killed with SIGKILL and restarted too: through all of it the order stays
#     in_progress with one `assigned` event, attempt 1, no `lease_expired`, even after several
#     lease times — it is never dispatched again (the restarted worker gets the next order
#     instead);
#   - a person then finishes it with plsctl: `accept` (already signed: accepted), `progress`,
#     `complete --outcome answered`: completed once, the step's outcome and actor recorded.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_staff_custody.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

LEASE_MS=2000

single_setup
pls_start_broker dg dg --lease-ms "$LEASE_MS"
pls_start_worker staff --node dg --dept consult --custody staff --builtin sign --name staff-desk --heartbeat-ms 500
pls_wait_log staff 20 'ready at' || fail "staff worker not ready"

id=$(pls_ctl submit --service consult --origin dg --desc "房屋租赁合同纠纷，需要律师当面解答")
pls_wait_for 20 pls_order_state_is "$id" in_progress || fail "order $id not signed for: $(pls_order_state "$id")"
accepted=$(single_show "$id" '[.events[] | select(.kind == "accepted")] | first | "\(.payload.person) \(.payload.custody)"' | tr -d '"')
assert_eq "$accepted" "staff-desk staff" "the accepted event: person and custody"
st=$(pls_ctl --json status)
assert_eq "$(jq -r '.workers[] | select(.name == "staff-desk") | "\(.held) \(.credit)"' <<<"$st")" "0 1" \
    "after 签收 the staff worker holds no lease and has its credit back"

# facts that must not change: "state attempt assigned-events lease_expired-events"
facts() {
    echo "$(pls_order_state "$id") $(single_show "$id" .attempt)" \
        "$(single_count_kind "$id" assigned) $(single_count_kind "$id" lease_expired)"
}
want="in_progress 1 1 0"
assert_eq "$(facts)" "$want" "order $id after 签收 (state attempt assigned lease_expired)"

# ---- the worker dies, stays dead past the lease, comes back ----------------------------------
pls_kill staff KILL
t_kill=$(single_now_ms)
gone() { [[ $(pls_ctl --json status | jq -r '[.workers[] | select(.name == "staff-desk" and .alive)] | length') == 0 ]]; }
pls_wait_for 20 gone || fail "status still shows staff-desk alive 20 s after SIGKILL"
sleep $((2 * LEASE_MS / 1000))
assert_eq "$(facts)" "$want" "order $id $(($(single_now_ms) - t_kill)) ms after its worker was killed"
pls_note "worker killed: after $(($(single_now_ms) - t_kill)) ms (lease $LEASE_MS ms) the order is still: $(facts)"

pls_start_worker staff --node dg --dept consult --custody staff --builtin sign --name staff-desk --heartbeat-ms 500
pls_wait_log staff 20 'ready at' || fail "restarted staff worker not ready"
sleep $((2 * LEASE_MS / 1000))
assert_eq "$(facts)" "$want" "order $id after its worker restarted"
# the restarted worker is alive and free, and takes the next order: not this one
next=$(pls_ctl submit --service consult --origin dg --desc "另一位市民的咨询")
pls_wait_for 20 pls_order_state_is "$next" in_progress || fail "next order $next not signed for"
assert_eq "$(facts)" "$want" "order $id after another order went to the restarted worker"

# ---- the broker dies too ------------------------------------------------------------------------
pls_kill dg KILL
pls_start_broker dg dg --lease-ms "$LEASE_MS"
t_restart=$(single_now_ms)
sleep $((3 * LEASE_MS / 1000))
assert_eq "$(facts)" "$want" "order $id $(($(single_now_ms) - t_restart)) ms after a broker restart"
st=$(pls_ctl --json status)
assert_eq "$(jq -r '.departments[] | select(.dept == "consult" and .scope == "dg") | .in_progress' <<<"$st")" 2 \
    "status after the broker restart: consult at dg in progress"
pls_note "broker killed and restarted: after $(($(single_now_ms) - t_restart)) ms the order is still: $(facts)"

# ---- a person finishes it -----------------------------------------------------------------------
out=$(pls_ctl --operator 李律师 accept "$id" --as 李律师)
pls_note "plsctl accept: $out"
pls_ctl --operator 李律师 progress "$id" --pct 50 --note "已约见当事人" >/dev/null
out=$(pls_ctl --operator 李律师 complete "$id" --outcome answered --note "已解答，建议协商解除合同")
pls_note "plsctl complete: $out"
assert_eq "$(pls_order_state "$id")" completed "order $id after plsctl complete"
assert_eq "$(single_count_kind "$id" completed)" 1 "completed events"
assert_eq "$(single_count_kind "$id" assigned)" 1 "assigned events at the end"
assert_eq "$(single_show "$id" '.steps[0].outcome' | tr -d '"')" answered "the step's outcome"
assert_eq "$(pls_sql "SELECT actor FROM event_entries WHERE order_id = '$id' AND kind = 'step_completed'")" \
    李律师 "who completed the step"
assert_eq "$(pls_sql "SELECT payload ->> 'pct' FROM event_entries WHERE order_id = '$id' AND kind = 'progress'")" \
    50 "the progress report"
# a second completion is refused, with the state
single_ctl_capture out err rc complete "$id" --outcome answered
assert_eq "$rc" 1 "plsctl complete of a completed order: exit status"
assert_contains "$err" "409" "complete of a completed order"
assert_contains "$err" "completed" "complete of a completed order"
assert_eq "$(single_count_kind "$id" completed)" 1 "completed events after a second complete"

pls_ctl complete "$next" --outcome referred --note "转介至调解委员会" >/dev/null
assert_eq "$(pls_order_state "$next")" completed "the second order"
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
