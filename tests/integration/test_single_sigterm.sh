#!/usr/bin/env bash
# test_single_sigterm.sh — SIGTERM drains the broker (DESIGN §8):
#   - under load (pls-submitmany keeps 256 submits in flight, a plsctl loop, two noop workers),
#     SIGTERM makes the broker exit with status 0 within 5 s (measured), saying it drained;
#   - every order acknowledged before it went away is in the database at that moment;
#   - after a restart on the same database and port the clients' resends finish, and every
#     acknowledged order completes, once.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_sigterm.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

N=${SINGLE_TERM_ORDERS:-3000}
TERM_AT=${SINGLE_TERM_AT:-1000}

single_setup
pls_start_broker dg dg --lease-ms 3000
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 16 --name noop-1
pls_start_worker w2 --node dg --dept consult --builtin noop --concurrency 16 --name noop-2
pls_wait_log w1 20 'ready at' || fail "worker w1 not ready"
pls_wait_log w2 20 'ready at' || fail "worker w2 not ready"

acked=$T/acked.txt
: >"$acked"
pls_start load sh -c 'exec "$0" "$@" >"'"$acked"'"' "$SINGLE_TOOLS/pls-submitmany" \
    --broker "$PLS_BROKER" --count "$N" --window 256 --key-prefix "term-$$-" --deadline-s 120
single_submit_loop "$T/loop1.txt" 100000 3 loop1 &
loop_pid=$!
single_kill_at_exit "$loop_pid"

acked_count() { wc -l <"$acked"; }
enough() { (($(acked_count) >= TERM_AT)); }
pls_wait_for 60 enough || fail "only $(acked_count) orders acknowledged after 60 s"

t0=$(single_now_ms)
pls_kill dg TERM || fail "the broker did not exit within ${PLS_KILL_WAIT}s of SIGTERM (killed)"
t_exit=$(single_now_ms)
st=$PLS_EXIT_STATUS
took=$((t_exit - t0))
# what the clients were told before the broker went away
cp "$acked" "$T/acked_at_exit.txt"
cat "$T/loop1.txt" 2>/dev/null | awk -v t="$t_exit" '$2 <= t && $3 == 0 { print "- " $4 }' >>"$T/acked_at_exit.txt"
n_acked=$(wc -l <"$T/acked_at_exit.txt")
pls_note "SIGTERM with $n_acked orders acknowledged: exit status $st after $took ms"
assert_eq "$st" 0 "the broker's exit status after SIGTERM"
((took <= 5000)) || fail "the broker took $took ms to exit after SIGTERM (limit 5000)"
grep -q 'drained: every acknowledged change is committed' "$(pls_logfile dg)" ||
    fail "the broker did not log that it drained"

# Every acknowledged order is in the database now, with the broker gone.
missing=$(pls__psql -Atq -d "$PLS_DB" <<SQL
CREATE TEMP TABLE acked (k text, id uuid);
\copy acked FROM '$T/acked_at_exit.txt' WITH (FORMAT text, DELIMITER ' ')
SELECT count(*) FROM acked a WHERE NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = a.id);
SQL
)
assert_eq "$missing" 0 "acknowledged orders missing from the database after SIGTERM"
read -r in_db open_at_exit <<<"$(pls_sql "SELECT count(*), count(*) FILTER (WHERE state <> 'completed') FROM orders" -F ' ')"
pls_note "after the exit: $in_db orders in the database ($open_at_exit not completed yet), all $n_acked acknowledged ones among them"

# Restart: the clients' resends are answered, everything completes once.
pls_start_broker dg dg --lease-ms 3000
pls_wait_exit load 120 || fail "pls-submitmany still running 120 s after the restart"
assert_eq "$PLS_EXIT_STATUS" 0 "pls-submitmany exit status ($(tail -n 1 "$(pls_logfile load)"))"
grep '^submitmany:' "$(pls_logfile load)" | sed 's/^/    /' >&2
touch "$T/stop-loops"
wait "$loop_pid" || fail "the plsctl loop failed"
single_wait_all_completed 120 || fail "not every order completed after the restart"
single_check_acked "$acked" >/dev/null
awk '$3 == 0 { print "- " $4 }' "$T/loop1.txt" >"$T/acked_by_plsctl.txt"
single_check_acked "$T/acked_by_plsctl.txt" >/dev/null
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
assert_eq "$(pls_sql "SELECT count(*) FROM orders WHERE idem_key LIKE 'term-$$-%'")" "$N" "orders of pls-submitmany (one per key)"
refusals=$(awk '$3 == 1 { $1 = $2 = $3 = $4 = ""; print }' "$T/loop1.txt" | sed 's/^ *//' | sort | uniq -c | tr -s ' ' | paste -sd ';')
pls_note "figures: SIGTERM exit in $took ms with status 0; $n_acked acknowledged before, 0 missing;" \
    "$(pls_sql "SELECT count(*) FROM orders") orders, all completed once; plsctl loop:" \
    "$(awk '$3 == 0' "$T/loop1.txt" | wc -l) ok, $(awk '$3 == 1' "$T/loop1.txt" | wc -l) refused${refusals:+ ($refusals)}," \
    "$(awk '$3 == 3' "$T/loop1.txt" | wc -l) timed out"
