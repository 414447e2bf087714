#!/usr/bin/env bash
# test_rules_need_info.sh — one notice per order (一次告知, DESIGN §9, issue 4), one command center
# (dg) whose exam staff sign for every order:
#   - the first need-info is sent: waiting_citizen, event need_info with every item; the
#     supplement resumes the step (in_progress);
#   - a second need-info is held, not sent: 200 with a reason that says so, the order stays
#     in_progress with its due time, event note (held_notice), .limits.held_notice set; a
#     third while one is held → 409;
#   - `plsctl need-info refuse` drops it: the step continues (in_progress, the same due time,
#     one need_info event), event note saying so, nothing held any more; refusing or approving
#     again → 409 (nothing held);
#   - a new second notice, held across a broker restart, then `plsctl need-info approve`: sent and counted (a second need_info
#     event, marked second, with the approver), waiting_citizen, the clock paused (the
#     supplement 24 hours later moves the due time by 24 hours);
#   - plsctl refuses a need-info without items itself (usage, exit 2).
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_need_info.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
rules_worker signer dg dg exam

rules_clock_at dg 2026-05-11T10:00:00
n=$(pls_ctl_at dg submit --service exam --origin dg --desc "报名资格审核")
rules_wait_state dg "$n" in_progress
number=$(rules_show dg "$n" .number)

rc=0
err=$(pls_ctl_at dg need-info "$n" 2>&1) || rc=$?
assert_eq "$rc" 2 "plsctl need-info without --items: exit status (usage)"
assert_contains "$err" "missing --items ITEM: list every missing item" "plsctl need-info without --items"

# ---- the one notice ------------------------------------------------------------------------------
rules_ok dg "one-time notice recorded: 2 items" need-info "$n" --items "学历证明" --items "身份证复印件"
rules_wait_state dg "$n" waiting_citizen
rules_ok dg "supplement recorded; order is in_progress" supplement "$n" --text "已补交学历证明和身份证复印件"
rules_wait_state dg "$n" in_progress
due=$(rules_due dg "$n")
assert_eq "$(rules_count dg "$n" need_info)" 1 "need_info events after the first notice"

# ---- a second notice is held ---------------------------------------------------------------------
rules_clock_at dg 2026-05-12T10:00:00
rules_ok dg "the one-time notice (一次告知) was already given: this second notice is held until an operator approves it (plsctl need-info approve ID)" \
    need-info "$n" --items "工作年限证明" --note "新发现缺少"
sleep 0.5
assert_eq "$(rules_show dg "$n" .state)" in_progress "held second notice: state"
assert_eq "$(rules_count dg "$n" need_info)" 1 "held second notice: need_info events"
got=$(rules_event dg "$n" note '{held: .payload.held_notice, items: .payload.items, note: .payload.note}')
assert_eq "$got" '{"held":"a second one-time notice waits for approval","items":["工作年限证明"],"note":"新发现缺少"}' \
    "held second notice: note event"
assert_ne "$(rules_show dg "$n" .limits.held_notice)" null "held second notice: .limits.held_notice"
assert_contains "$(rules_show dg "$n" .limits.held_notice)" "工作年限证明" "held second notice: .limits.held_notice"
assert_eq "$(rules_show dg "$n" .limits.paused_at)" null "held second notice: the clock runs"
rules_refused dg 409 "a second one-time notice already waits for an operator's approval" \
    need-info "$n" --items "另一份材料"

# ---- refused: the step continues -----------------------------------------------------------------
rules_ok dg "held notice refused: the step continues" need-info refuse "$n" --note "现有材料足以办理"
sleep 0.5
assert_eq "$(rules_show dg "$n" .state)" in_progress "refused second notice: state"
assert_eq "$(rules_due dg "$n")" "$due" "refused second notice: due time"
assert_eq "$(rules_count dg "$n" need_info)" 1 "refused second notice: need_info events"
got=$(rules_event dg "$n" note '{held: .payload.held_notice, note: .payload.note}')
assert_eq "$got" '{"held":"refused: the step continues","note":"现有材料足以办理"}' "refused second notice: note event"
assert_eq "$(rules_show dg "$n" .limits.held_notice)" null "refused second notice: .limits.held_notice"
rules_refused dg 409 "order $number has no held notice" need-info refuse "$n"
rules_refused dg 409 "order $number has no held notice" need-info approve "$n"

# ---- a new second notice, approved: sent and counted ---------------------------------------------
rules_ok dg "this second notice is held until an operator approves it" \
    need-info "$n" --items "社保缴费记录" --items "单位证明"
# the held notice is durable: still there after a broker restart
pls_kill dg
rules_broker dg dg
rules_clock_at dg 2026-05-12T15:00:00
assert_contains "$(rules_show dg "$n" .limits.held_notice)" "社保缴费记录" "held second notice after a restart"
rules_ok dg "second notice approved and sent: 2 items; the clock is paused" \
    --operator 王主任 need-info approve "$n" --note "确有必要"
rules_wait_state dg "$n" waiting_citizen
assert_eq "$(rules_count dg "$n" need_info)" 2 "approved second notice: need_info events (counted)"
got=$(rules_event dg "$n" need_info '{items: .payload.items, second: .payload.second,
    approved_by: .payload.approved_by, from: .from, to: .to}')
assert_eq "$got" '{"items":["社保缴费记录","单位证明"],"second":true,"approved_by":"王主任","from":"in_progress","to":"waiting_citizen"}' \
    "approved second notice: need_info event"
assert_eq "$(rules_show dg "$n" .limits.held_notice)" null "approved second notice: .limits.held_notice"
assert_eq "$(pls_ctl_at dg --json status | jq '.departments[] | select(.dept == "exam") | .waiting')" 1 \
    "status: exam waiting"

# the supplement resumes it; the due time moves by the pause
rules_clock_at dg 2026-05-13T15:00:00
rules_ok dg "supplement recorded; order is in_progress" supplement "$n" --text "已补交"
rules_wait_state dg "$n" in_progress
moved=$(($(rules_ms "$(rules_show dg "$n" .limits.due_at)") - $(rules_ms "$due")))
((moved >= 86400000 - 60000 && moved <= 86400000 + 60000)) ||
    fail "due moved by $moved ms after a 24-hour pause"
pls_note "second notice: paused 24 h, due moved by $moved ms"

