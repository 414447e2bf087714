#!/usr/bin/env bash
# test_single_broker_kill.sh — the broker is killed with SIGKILL while thousands of orders are in
# flight, and restarted on the same database and port:
#   - 5,000 orders submitted at once by pls-submitmany (many desks: a window of 512 submits
#     outstanding, resent with the same key when unanswered, as plsctl does) and two plsctl
#     loops (from before the kill until after the restart), two noop workers completing them;
#   - kill -9 of the broker once 2,500 are acknowledged (thousands queued, assigned or in
#     progress at that moment), restart on the same port;
#   - nothing acknowledged is lost: every id a client was given (plsctl exit 0, or a 200 to
#     pls-submitmany) exists under its key and reaches `completed`;
#   - nothing is done twice: one `completed` event per order, one order per key;
#   - dispatch resumes promptly: an urgent order submitted right after the restart completes
#     within 10 s of it (measured and printed).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_broker_kill.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

N=${SINGLE_KILL_ORDERS:-5000}     # orders of pls-submitmany
KILL_AT=${SINGLE_KILL_AT:-2500}   # acknowledged orders when the broker is killed
LOOP_N=${SINGLE_KILL_LOOP:-200}   # at most this many submits in each plsctl loop
LEASE_MS=3000

single_setup
pls_start_broker dg dg --lease-ms "$LEASE_MS"
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 32 --name noop-1
pls_start_worker w2 --node dg --dept consult --builtin noop --concurrency 32 --name noop-2
pls_wait_log w1 20 'ready at' || fail "worker w1 not ready"
pls_wait_log w2 20 'ready at' || fail "worker w2 not ready"

acked=$T/acked.txt
: >"$acked"
t_start=$(single_now_ms)
pls_start load sh -c 'exec "$0" "$@" >"'"$acked"'"' "$SINGLE_TOOLS/pls-submitmany" \
    --broker "$PLS_BROKER" --count "$N" --window 512 --key-prefix "kill-$$-" --deadline-s 150
loop_pids=()
for l in 1 2; do
    single_submit_loop "$T/loop$l.txt" "$LOOP_N" 3 "loop$l" &
    loop_pids+=($!)
done
single_kill_at_exit "${loop_pids[@]}"

acked_count() { wc -l <"$acked"; }
enough_acked() { (($(acked_count) >= KILL_AT)); }
pls_wait_for 60 enough_acked || fail "only $(acked_count) orders acknowledged after 60 s"

pls_kill dg KILL
t_kill=$(single_now_ms)
at_kill_acked=$(acked_count)
read -r at_kill_orders at_kill_open <<<"$(pls_sql "SELECT count(*), count(*) FILTER (WHERE state <> 'completed') FROM orders" -F ' ')"
at_kill_states=$(pls_sql "SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM (SELECT state, count(*) n FROM orders GROUP BY state) s")
pls_note "SIGKILL $((t_kill - t_start)) ms after the first submit: $at_kill_acked acknowledged," \
    "$at_kill_orders orders in the database, $at_kill_open in flight ($at_kill_states)"
((at_kill_open >= 500)) || pls_note "warning: only $at_kill_open orders in flight at the kill (machine fast or slow?)"

sleep 1
pls_start_broker dg dg --lease-ms "$LEASE_MS"
t_restart=$(single_now_ms)
grep 'ready: .* open orders' "$(pls_logfile dg)" | tail -n 1 | sed 's/^/    broker after restart: /' >&2 || true

# An urgent order jumps the queue: it shows when dispatch runs again.
probe=$(pls_ctl --timeout 10 submit --service consult --origin dg --priority urgent --desc "after the restart")
pls_wait_for 30 pls_order_state_is "$probe" completed || fail "urgent order $probe not completed 30 s after the restart"
t_probe=$(single_now_ms)
probe_ms=$((t_probe - t_restart))
first_done=$(pls_sql "SELECT coalesce(round(extract(epoch FROM min(finished_at)) * 1000)::bigint, 0)
    FROM orders WHERE finished_at >= to_timestamp($t_restart / 1000.0)")
pls_note "after the restart: first order completed after $((first_done - t_restart)) ms," \
    "urgent order submitted then completed after $probe_ms ms"
touch "$T/stop-loops" # the plsctl loops have seen the kill and the restart: enough
((probe_ms <= 10000)) || fail "dispatch resumed slowly: the urgent order completed $probe_ms ms after the restart (limit 10000)"

# Every client finishes: pls-submitmany gets an answer for every key (resending after the kill).
pls_wait_exit load 150 || fail "pls-submitmany still running after 150 s"
assert_eq "$PLS_EXIT_STATUS" 0 "pls-submitmany exit status ($(tail -n 1 "$(pls_logfile load)"))"
grep '^submitmany:' "$(pls_logfile load)" | sed 's/^/    /' >&2
for pid in "${loop_pids[@]}"; do
    wait "$pid" || fail "a plsctl loop failed"
done

single_wait_all_completed 180 || fail "not every order completed"
t_done=$(single_now_ms)

# ---- none lost, none twice --------------------------------------------------------------------
assert_eq "$(acked_count)" "$N" "orders acknowledged to pls-submitmany"
single_check_acked "$acked" >/dev/null
loop_acked=$T/acked_by_plsctl.txt
cat "$T"/loop1.txt "$T"/loop2.txt | awk '$3 == 0 { print "- " $4 }' >"$loop_acked"
single_check_acked "$loop_acked" >/dev/null
read -r l_ok l_refused l_timeout l_other <<<"$(cat "$T"/loop1.txt "$T"/loop2.txt |
    awk '{ n[$3 == 0 ? 0 : $3 == 1 ? 1 : $3 == 3 ? 3 : 9]++ } END { print n[0]+0, n[1]+0, n[3]+0, n[9]+0 }')"
assert_eq "$l_other" 0 "plsctl exit statuses other than 0, 1 or 3 ($(awk '$3 != 0 && $3 != 1 && $3 != 3' "$T"/loop[12].txt | head -n 3))"
if ((l_refused)); then
    pls_note "plsctl refusals: $(awk '$3 == 1 { $1 = $2 = $3 = $4 = ""; print }' "$T"/loop[12].txt | sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' | paste -sd ';')"
fi
awk '$3 == 0 && $4 == "-"' "$T"/loop[12].txt | grep -q . && fail "plsctl exit 0 without an order id"

assert_eq "$(single_completed_twice)" 0 "orders completed twice"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key LIKE 'kill-$$-%'")" "$N" \
    "orders with pls-submitmany's keys (one per key)"
total=$(pls_sql "SELECT count(*) FROM orders")
redispatched=$(pls_sql "SELECT count(*) FROM (SELECT order_id FROM event_entries WHERE kind = 'assigned'
    GROUP BY order_id HAVING count(*) > 1) r")
expired=$(pls_sql "SELECT count(*) FROM event_entries WHERE kind = 'lease_expired'")
pls_note "figures: $N + $(cat "$T"/loop1.txt "$T"/loop2.txt | wc -l) plsctl + 1 submitted; killed with $at_kill_open in flight;" \
    "plsctl: $l_ok ok, $l_refused refused, $l_timeout timed out; $total orders, all completed once;" \
    "0 acknowledged lost; $redispatched assigned again after the restart ($expired leases expired);" \
    "restart to urgent order completed $probe_ms ms; everything completed $((t_done - t_restart)) ms after the restart"
