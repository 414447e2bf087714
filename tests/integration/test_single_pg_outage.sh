#!/usr/bin/env bash
# test_single_pg_outage.sh — PostgreSQL goes away (a crash: pg_ctl stop -m immediate) for about
# 10 s while desks keep submitting, then comes back on the same port:
#   - the broker process stays up the whole time;
#   - during the outage plsctl never reports a success: exit 1 with a 503 reason, or exit 3
#     (no answer in time); `plsctl status` is refused the same way;
#   - after PostgreSQL is back the broker reloads and serves again (time measured);
#   - every order acknowledged before, during or after the outage is in the database and
#     completes, once.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_single_pg_outage.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/../lib/single.sh"

OUTAGE_S=${SINGLE_OUTAGE_S:-10}

single_setup --private-pg
pls_start_broker dg dg --lease-ms 3000
pls_start_worker w1 --node dg --dept consult --builtin noop --concurrency 4 --name noop-1
pls_wait_log w1 20 'ready at' || fail "worker not ready"

loop_pids=()
for l in 1 2; do
    single_submit_loop "$T/loop$l.txt" 100000 2 "loop$l" &
    loop_pids+=($!)
done
single_kill_at_exit "${loop_pids[@]}"

loop_lines() { cat "$T"/loop[12].txt 2>/dev/null | wc -l; }
some_acked() { [[ $(cat "$T"/loop[12].txt 2>/dev/null | awk '$3 == 0' | wc -l) -ge 4 ]]; }
pls_wait_for 30 some_acked || fail "no order acknowledged before the outage"

ready_before=$(grep -c 'info: ready:' "$(pls_logfile dg)")
pls_pg_stop -m immediate
t_down=$(single_now_ms)
pls_note "PostgreSQL stopped (-m immediate) after $(loop_lines) submits"

# During the outage: the broker stays up and refuses honestly.
status_rc=() status_err=''
while (($(single_now_ms) - t_down < OUTAGE_S * 1000)); do
    pls_alive dg || fail "the broker exited $(($(single_now_ms) - t_down)) ms into the PostgreSQL outage"
    if ((${#status_rc[@]} == 0 && $(single_now_ms) - t_down >= OUTAGE_S * 500)); then
        single_ctl_capture out status_err rc --timeout 2 status
        status_rc+=("$rc")
    fi
    sleep 0.5
done
pls_alive dg || fail "the broker exited during the PostgreSQL outage"
pls_pg_start
t_up=$(single_now_ms)
pls_note "PostgreSQL started again after $((t_up - t_down)) ms down"
((status_rc[0] != 0)) || fail "plsctl status succeeded while PostgreSQL was down"
pls_note "plsctl status during the outage: exit ${status_rc[0]}: $status_err"

serving() { pls_ctl --timeout 1 status >/dev/null 2>&1; }
pls_wait_for 60 serving || fail "the broker does not serve 60 s after PostgreSQL came back"
t_serving=$(single_now_ms)
pls_note "the broker serves again $((t_serving - t_up)) ms after PostgreSQL started"
ready_after=$(grep -c 'info: ready:' "$(pls_logfile dg)")
((ready_after > ready_before)) || fail "the broker did not reload its state (no new 'ready:' line in its log)"

# A few more submits after the recovery, then stop the loops.
n_at_up=$(cat "$T"/loop[12].txt | awk -v t="$t_serving" '$1 >= t && $3 == 0' | wc -l)
more_after() { (($(cat "$T"/loop[12].txt | awk -v t="$t_serving" '$1 >= t && $3 == 0' | wc -l) >= n_at_up + 4)); }
pls_wait_for 30 more_after || fail "no order acknowledged after the recovery"
touch "$T/stop-loops"
for pid in "${loop_pids[@]}"; do
    wait "$pid" || fail "a plsctl loop failed"
done
pls_alive dg || fail "the broker is not running at the end"

# ---- what plsctl said, by when ------------------------------------------------------------------
all=$T/all_submits.txt
cat "$T"/loop[12].txt | sort -n >"$all"
# Ended while PostgreSQL was certainly down (a second after the crash until it started again):
# no success is possible then.
during=$(awk -v a=$((t_down + 1000)) -v b="$t_up" '$2 >= a && $2 <= b' "$all")
n_during=$(grep -c . <<<"$during" || true)
((n_during > 0)) || fail "no submit ended during the outage"
false_ok=$(awk '$3 == 0' <<<"$during")
[[ -z $false_ok ]] || fail "plsctl reported success while PostgreSQL was down: $false_ok"
bad_refusal=$(awk '$3 == 1 && $0 !~ / 503 /' <<<"$during")
[[ -z $bad_refusal ]] || fail "a refusal during the outage without 503: $bad_refusal"
other=$(awk '$3 != 1 && $3 != 3' <<<"$during")
[[ -z $other ]] || fail "unexpected exit status during the outage: $other"
n_503=$(awk '$3 == 1' <<<"$during" | wc -l)
n_timeout=$(awk '$3 == 3' <<<"$during" | wc -l)
reasons=$(awk '$3 == 1 { $1 = $2 = $3 = $4 = ""; print }' <<<"$during" | sed 's/^ *//' | sort | uniq -c | sort -rn | head -n 3 | tr -s ' ' | paste -sd ';')
pls_note "during the outage: $n_during submits ended: $n_503 refused with 503, $n_timeout timed out (exit 3); reasons: $reasons"

# Every acknowledged order, from before, during (none) and after, completes once.
awk '$3 == 0 { print "- " $4 }' "$all" >"$T/acked.txt"
n_before=$(awk -v t="$t_down" '$3 == 0 && $2 < t' "$all" | wc -l)
n_after=$(awk -v t="$t_up" '$3 == 0 && $2 > t' "$all" | wc -l)
single_wait_all_completed 60 || fail "not every order completed after the outage"
single_check_acked "$T/acked.txt" >/dev/null
assert_eq "$(single_completed_twice)" 0 "orders completed twice"
total=$(pls_sql "SELECT count(*) FROM orders")
unacked=$(awk '$3 != 0' "$all" | wc -l)
pls_note "figures: $(wc -l <"$all") submits: $n_before acknowledged before the outage, $n_after after," \
    "$unacked refused or timed out; $total orders in the database, all completed once; 0 acknowledged lost;" \
    "outage $((t_up - t_down)) ms; serving again $((t_serving - t_up)) ms after PostgreSQL started"
