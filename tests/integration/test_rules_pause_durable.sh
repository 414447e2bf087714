#!/usr/bin/env bash
# test_rules_pause_durable.sh — the paused clock of 一次告知 is visible and durable (DESIGN §9,
# issue 4; the pause itself: test_rules_pause.sh), one command center (dg) whose exam staff
# sign for every order:
#   - while an order waits for the citizen, `plsctl --json show` has .limits.paused_at (the rule
#     time of the notice), after the first notice and after an approved second notice;
#   - after a broker restart the order is still paused: no alarm when its old due time passes,
#     .limits.paused_at kept, and it is withdrawn 15 days after the notice, not before.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_pause_durable.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
rules_worker signer dg dg exam

# The dates are relative to the real time: a restarted broker's rule clock is the wall clock
# until the test moves it again, and nothing must fall due in between.
notice=$(rules_sh $(($(rules_now_ms) - 86400000)))
rules_clock_at dg "$notice"
p=$(pls_ctl_at dg submit --service exam --origin dg --desc "报名材料咨询")
w=$(pls_ctl_at dg submit --service exam --origin dg --desc "成绩复核咨询")
rules_wait_state dg "$p" in_progress
rules_wait_state dg "$w" in_progress
w_due=$(rules_due dg "$w")

# ---- paused_at after the first notice ---------------------------------------------------------
lo=$(rules_clock_now dg)
rules_ok dg "one-time notice recorded: 1 item;" need-info "$w" --items "准考证复印件"
hi=$(rules_clock_now dg)
rules_wait_state dg "$w" waiting_citizen
shown=$(rules_show dg "$w" .limits.paused_at)
[[ $shown != null ]] || fail "exam W: show --json .limits.paused_at is null while waiting for the citizen"
pm=$(rules_ms "$shown")
((pm >= lo && pm <= hi)) || fail "exam W: paused_at $(rules_sh "$pm"), not at the notice"
assert_eq "$(pls_sql "SELECT paused_at IS NOT NULL FROM orders WHERE id = '$w'")" t "exam W: orders.paused_at"

# ---- paused_at after an approved second notice --------------------------------------------------
rules_ok dg "one-time notice recorded" need-info "$p" --items "身份证复印件"
rules_ok dg "supplement recorded; order is in_progress" supplement "$p" --text "已补交"
rules_ok dg "this second notice is held until an operator approves it" need-info "$p" --items "补充证据"
lo=$(rules_clock_now dg)
rules_ok dg "second notice approved and sent: 1 item; the clock is paused" need-info approve "$p"
hi=$(rules_clock_now dg)
rules_wait_state dg "$p" waiting_citizen
shown=$(rules_show dg "$p" .limits.paused_at)
[[ $shown != null ]] || fail "exam P: show --json .limits.paused_at is null after an approved second notice"
pm=$(rules_ms "$shown")
((pm >= lo && pm <= hi)) || fail "exam P: paused_at $(rules_sh "$pm") after the second notice"

# ---- across a restart ----------------------------------------------------------------------------
w_paused_at=$(rules_ms "$notice")
pls_kill dg
rules_broker dg dg
rules_clock_at dg "$(rules_sh $((w_paused_at + 15 * 86400000 - 600000)))"
sleep 0.6
assert_eq "$(rules_show dg "$w" .state)" waiting_citizen "exam W: 14 days 23 h 50 min after the notice"
assert_eq "$(rules_count dg "$w" red)" 0 "exam W: red while paused (after a restart; old due $w_due)"
assert_ne "$(rules_show dg "$w" .limits.paused_at)" null "exam W: paused_at after a restart"
rules_clock_at dg "$(rules_sh $((w_paused_at + 15 * 86400000 + 60000)))"
rules_wait_state dg "$w" withdrawn
got=$(rules_event dg "$w" withdrawn '.payload.reason')
assert_eq "$got" "no supplement within 15 days of the one-time notice (一次告知)" "exam W: withdrawn"
