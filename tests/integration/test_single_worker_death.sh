#!/usr/bin/env bash
# test_single_worker_death.sh — a worker dies holding orders, and the AB post (AB岗):
#   - an A-post worker (--exec handler that sleeps, concurrency 3) holds three orders under
#     lease; the B-post worker of the same department and scope gets none of them while A is
#     alive and has room;
#   - A is killed with SIGKILL: with --lease-ms 3000 its orders reach the B-post worker and are
#     completed within the lease plus a margin (measured); each shows lease_expired, a second
#     assignment (attempt 2, worker B) and exactly one completion; status no longer lists A
#     as alive;
#   - `plsctl post away consult dg` sends new orders to the B worker at once although a live A
#     worker has room; `post back` returns them to A.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_worker_death.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

LEASE_MS=3000
MARGIN_MS=${SINGLE_LEASE_MARGIN_MS:-5000} # heartbeat interval, the broker's tick, sanitizers

single_setup
pls_start_broker dg dg --lease-ms "$LEASE_MS"
pls_start_worker wa --node dg --dept consult --role A --concurrency 3 --name post-a --heartbeat-ms 1000 \
    --exec 'exec sleep 120'
pls_start_worker wb --node dg --dept consult --role B --builtin noop --name post-b --heartbeat-ms 1000
pls_wait_log wa 20 'ready at' || fail "A worker not ready"
pls_wait_log wb 20 'ready at' || fail "B worker not ready"

# workers of ASSIGNED EVENTS: "attempt:worker ..." of an order
assignees() {
    single_show "$1" '[.events[] | select(.kind == "assigned") | "\(.attempt):\(.payload.worker)"] | join(" ")' | tr -d '"'
}
worker_of_last() {
    single_show "$1" '[.events[] | select(.kind == "assigned")] | last | .payload.worker' | tr -d '"'
}

ids=()
for i in 1 2 3; do
    ids+=("$(pls_ctl submit --service consult --origin dg --desc "交通事故赔偿咨询 $i")")
done
for id in "${ids[@]}"; do
    pls_wait_for 20 pls_order_state_is "$id" in_progress || fail "order $id not in progress: $(pls_order_state "$id")"
    assert_eq "$(assignees "$id")" "1:post-a" "order $id is held by the A worker only"
done
st=$(pls_ctl --json status)
assert_eq "$(jq -r '.workers[] | select(.name == "post-a") | "\(.alive) \(.held)"' <<<"$st")" "true 3" \
    "status of the A worker holding three orders"
pls_note "three orders held by post-a (A post, sleeping handler); post-b (B post) idle"

pls_kill wa KILL
t_kill=$(single_now_ms)
declare -A done_ms=()
all_done() {
    local id
    for id in "${ids[@]}"; do
        if [[ -z ${done_ms[$id]:-} ]]; then
            pls_order_state_is "$id" completed || return 1
            done_ms[$id]=$(($(single_now_ms) - t_kill))
        fi
    done
}
pls_wait_for 30 all_done || fail "orders of the dead A worker not completed 30 s after SIGKILL"
worst=0
for id in "${ids[@]}"; do
    ((done_ms[$id] > worst)) && worst=${done_ms[$id]}
done
pls_note "SIGKILL of post-a: its orders completed by post-b after ${done_ms[${ids[0]}]}, ${done_ms[${ids[1]}]}, ${done_ms[${ids[2]}]} ms (lease $LEASE_MS ms)"
((worst <= LEASE_MS + MARGIN_MS)) ||
    fail "the dead worker's orders took $worst ms to complete (lease $LEASE_MS + margin $MARGIN_MS ms)"

for id in "${ids[@]}"; do
    assert_eq "$(assignees "$id")" "1:post-a 2:post-b" "order $id: assignments after A died"
    assert_eq "$(single_count_kind "$id" lease_expired)" 1 "order $id: lease_expired events"
    assert_eq "$(single_count_kind "$id" completed)" 1 "order $id: completed events"
    assert_eq "$(pls_sql "SELECT actor FROM event_entries WHERE order_id = '$id' AND kind = 'step_completed'")" \
        post-b "order $id: who completed the step"
    note=$(pls_sql "SELECT payload ->> 'note' FROM event_entries WHERE order_id = '$id' AND kind = 'lease_expired'")
    assert_contains "$note" post-a "order $id: lease_expired names the dead worker"
done
pls_note "lease_expired note: $note"

st=$(pls_ctl --json status)
a_alive=$(jq -r '[.workers[] | select(.name == "post-a") | .alive] | if length == 0 then "gone" else .[0] | tostring end' <<<"$st")
[[ $a_alive == gone || $a_alive == false ]] || fail "status still shows post-a alive: $(jq -c .workers <<<"$st")"
assert_eq "$(jq -r '.workers[] | select(.name == "post-b") | .alive' <<<"$st")" true "status: post-b alive"
pls_note "status after the kill: post-a $a_alive, post-b alive"

# ---- post away: new orders go to B at once, though a live A worker has room -----------------
pls_start_worker wa2 --node dg --dept consult --role A --concurrency 2 --builtin noop --name post-a2 --heartbeat-ms 1000
pls_wait_log wa2 20 'ready at' || fail "second A worker not ready"

control=$(pls_ctl submit --service consult --origin dg --desc "post present")
pls_wait_for 20 pls_order_state_is "$control" completed || fail "order $control not completed"
assert_eq "$(worker_of_last "$control")" post-a2 "with the A post present, the A worker takes the order"

out=$(pls_ctl post away consult dg)
pls_note "plsctl post away consult dg: $out"
st=$(pls_ctl --json status)
assert_eq "$(jq -r '.departments[] | select(.dept == "consult" and .scope == "dg") | .away' <<<"$st")" true \
    "status: consult at dg is away"
assert_eq "$(jq -r '.workers[] | select(.name == "post-a2") | "\(.alive) \(.held) \(.credit)"' <<<"$st")" \
    "true 0 2" "status: post-a2 alive and free while the post is away"
away_ids=()
t0=$(single_now_ms)
for i in 1 2 3; do
    away_ids+=("$(pls_ctl submit --service consult --origin dg --desc "post away $i")")
done
for id in "${away_ids[@]}"; do
    pls_wait_for 20 pls_order_state_is "$id" completed || fail "order $id not completed while the post is away"
    assert_eq "$(assignees "$id")" "1:post-b" "post away: order $id goes to the B worker at once"
done
pls_note "post away: 3 orders completed by post-b in $(($(single_now_ms) - t0)) ms, post-a2 alive and free"

pls_ctl post back consult dg >/dev/null
back=$(pls_ctl submit --service consult --origin dg --desc "post back")
pls_wait_for 20 pls_order_state_is "$back" completed || fail "order $back not completed"
assert_eq "$(worker_of_last "$back")" post-a2 "after post back the A worker takes orders again"
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
