#!/usr/bin/env bash
# test_rules_pause.sh — the paused clock of 一次告知 (DESIGN §9, issue 4), one command center
# (dg) whose exam and legal-aid staff sign for every order (that the pause is shown in
# .limits.paused_at and survives a restart: test_rules_pause_durable.sh):
#   - an exam answer signed for on Monday 2026-03-02 10:00 is due at the end of Monday
#     2026-03-09; `plsctl need-info` on 2026-03-03 10:00 makes it waiting_citizen with the
#     clock paused; the rule clock then passes the old due time without any alarm; `plsctl
#     supplement` on 2026-03-10 12:00 (paused N = 170 hours) resumes it (in_progress, event
#     supplemented) and the due time is exactly N later (measured against the rule clock read
#     around the notice and around the supplement); yellow then comes at 80 % of the moved
#     limit, red at the moved due time;
#   - a legal-aid application's whole-order limit (7 days from receipt) moves by the same
#     pause, and its breach raises red (limit whole) and a supervision of kind whole;
#   - an order whose notice gets no supplement for 15 days is withdrawn, with the reason (and
#     raises no alarm meanwhile, though its old due time has long passed);
#   - refusals: a supplement for an order that is not waiting, or for a withdrawn one (409).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_pause.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
rules_worker signer dg dg exam,legal_aid

no_event() {
    sleep 0.6 # alarms are checked every 100 ms
    assert_eq "$(rules_count dg "$1" "$2")" 0 "order $1: $2 event at $3: $(rules_kinds dg "$1")"
}

rules_clock_at dg 2026-03-02T10:00:00
p=$(pls_ctl_at dg submit --service exam --origin dg --desc "报名材料咨询")
w=$(pls_ctl_at dg submit --service exam --origin dg --desc "成绩复核咨询")
l=$(pls_ctl_at dg submit --service legal_aid --origin dg --desc "工伤赔偿，申请法律援助")
for id in "$p" "$w" "$l"; do
    rules_wait_state dg "$id" in_progress
done
assert_eq "$(rules_due dg "$p")" 2026-03-10T00:00:00 "exam P: due before the pause"
assert_eq "$(rules_due dg "$l" whole_due_at)" 2026-03-10T00:00:00 "legal aid L: whole-order due"
due_p=$(rules_ms "$(rules_show dg "$p" .limits.due_at)")
start_p=$(rules_ms "$(rules_show dg "$p" .limits.started_at)")
whole_l=$(rules_ms "$(rules_show dg "$l" .limits.whole_due_at)")
due_l=$(rules_ms "$(rules_show dg "$l" .limits.due_at)")

# ---- the one-time notice: paused ------------------------------------------------------------
rules_clock_at dg 2026-03-03T10:00:00
pause_lo=$(rules_clock_now dg)
for id in "$p" "$w" "$l"; do
    rules_ok dg "one-time notice recorded: 2 items; the clock is paused until the supplement" \
        need-info "$id" --items "身份证复印件" --items "劳动合同" --note "请一次补齐"
    rules_wait_state dg "$id" waiting_citizen
done
pause_hi=$(rules_clock_now dg)
assert_eq "$(rules_event dg "$p" need_info '.payload.items')" '["身份证复印件","劳动合同"]' \
    "exam P: need_info lists every item"
rules_refused dg 409 "is waiting_citizen" need-info "$p" --items "户口本"

# the old due time passes while paused: no alarm
rules_clock_at dg 2026-03-10T12:00:00
no_event "$p" yellow "2026-03-10 12:00, past the old due time, paused"
assert_eq "$(rules_count dg "$p" red)" 0 "exam P: red while paused"
assert_eq "$(rules_count dg "$l" red)" 0 "legal aid L: red while paused"
rules_wait_counts dg exam dg "0 0 0"

# ---- the supplement: resumed, the due time N later --------------------------------------------
before=$(rules_clock_now dg)
rules_ok dg "supplement recorded; order is in_progress" supplement "$p" --text "已补交身份证复印件和劳动合同"
after=$(rules_clock_now dg)
rules_ok dg "supplement recorded; order is in_progress" supplement "$l" --text "已补交"
after_l=$(rules_clock_now dg)
rules_wait_state dg "$p" in_progress
assert_eq "$(rules_show dg "$p" .limits.paused_at)" null "exam P: paused_at after the supplement"
assert_eq "$(rules_event dg "$p" supplemented '.payload.text')" 已补交身份证复印件和劳动合同 \
    "exam P: supplemented event"
moved=$(($(rules_ms "$(rules_show dg "$p" .limits.due_at)") - due_p))
lo=$((before - pause_hi)) hi=$((after - pause_lo))
((moved >= lo && moved <= hi)) ||
    fail "exam P: due moved by $moved ms; the pause lasted between $lo and $hi ms"
hours=$((moved / 3600000))
assert_eq "$hours" 170 "exam P: whole hours paused (2026-03-03 10:00 to 2026-03-10 12:00)"
new_due=$(rules_due dg "$p")
[[ $new_due == 2026-03-17T02:00:[0-5]? ]] || fail "exam P: due $new_due, expected 2026-03-17T02:00 (+ seconds)"
moved_start=$(($(rules_ms "$(rules_show dg "$p" .limits.started_at)") - start_p))
assert_eq "$moved_start" "$moved" "exam P: the limit's start moved by the same pause"
pls_note "exam P: paused $moved ms; due $(rules_sh "$due_p") -> $new_due"

moved_whole=$(($(rules_ms "$(rules_show dg "$l" .limits.whole_due_at)") - whole_l))
moved_l=$(($(rules_ms "$(rules_show dg "$l" .limits.due_at)") - due_l))
((moved_whole >= lo && moved_whole <= after_l - pause_lo)) ||
    fail "legal aid L: whole-order due moved by $moved_whole ms, the pause lasted $lo to $((after_l - pause_lo)) ms"
assert_eq "$moved_l" "$moved_whole" "legal aid L: step and whole-order limits moved alike"

# yellow at 80 % of the moved limit: 2026-03-08 11:36 + 170 h = 2026-03-15 13:36
rules_clock_at dg 2026-03-15T13:30:00
no_event "$p" yellow "2026-03-15 13:30 (80 % of the moved limit is 13:36)"
rules_clock_at dg 2026-03-15T13:42:00
rules_wait_event dg "$p" yellow
assert_eq "$(rules_count dg "$p" red)" 0 "exam P: red at 13:42"
rules_wait_counts dg exam dg "1 0 0"
rules_clock_at dg 2026-03-17T01:59:00
no_event "$p" red "2026-03-17 01:59 (moved due time 02:00)"
rules_clock_at dg 2026-03-17T02:05:00
rules_wait_event dg "$p" supervised
assert_eq "$(rules_sh "$(rules_ms "$(rules_event dg "$p" red .payload.due_at)")")" "$new_due" \
    "exam P: red names the moved due time"
rules_wait_counts dg exam dg "0 1 1"

# legal aid: its whole-order limit was breached at the same moment
rules_wait_event dg "$l" supervised 2
got=$(rules_show dg "$l" '[.events[] | select(.kind == "red") | .payload.limit] | sort | join(" ")')
assert_eq "$got" "step whole" "legal aid L: red events (decide step and whole order)"
got=$(pls_sql "SELECT string_agg(kind, ' ' ORDER BY kind) FROM supervisions WHERE order_id = '$l'")
assert_eq "$got" "red whole" "legal aid L: supervision records"
assert_contains "$(rules_show dg "$l" '[.events[] | select(.kind == "supervised") | .payload.reason] | join(";")')" \
    "whole-order limit passed at" "legal aid L: the whole-order supervision's reason"
rules_wait_counts dg legal_aid dg "0 1 1"

# ---- 15 days without a supplement: withdrawn -----------------------------------------------------
rules_refused dg 409 "is in_progress, not waiting for the citizen" supplement "$p" --text "again"
rules_clock_at dg 2026-03-18T09:50:00
sleep 0.6
assert_eq "$(rules_show dg "$w" .state)" waiting_citizen "exam W: 14 days 23 h 50 min after the notice"
assert_eq "$(rules_count dg "$w" red)" 0 "exam W: red while paused (its old due time was 2026-03-10)"
rules_clock_at dg 2026-03-18T10:01:00
rules_wait_state dg "$w" withdrawn
got=$(rules_event dg "$w" withdrawn '{from: .from, actor: .actor, reason: .payload.reason}')
assert_eq "$got" '{"from":"waiting_citizen","actor":"broker","reason":"no supplement within 15 days of the one-time notice (一次告知)"}' \
    "exam W: withdrawn event"
rules_refused dg 409 "is withdrawn: cannot supplement it" supplement "$w" --text "来晚了"
