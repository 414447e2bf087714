#!/usr/bin/env bash
# test_rules_extension.sh — 延期 (DESIGN §9, issue 4), one command center (dg) whose exam and
# legal-aid staff sign for every order (their step limits run), no consult worker:
#   - inside the limit: an exam answer signed for on Monday 2026-04-13 (due at the end of
#     Monday 2026-04-20) asks for 9 working days on 2026-04-15: pending (event
#     extension_requested, .limits.extension_pending 9), approved at dg (event
#     extension_decided): due at the end of Wednesday 2026-05-06 (9 working days after 04-20,
#     劳动节 1–5 May skipped), .limits.extension_days 9;
#   - at most 15 working days in total (7 more refused, with the 9 already granted named); a
#     refused request leaves the due time as it was; one request at a time;
#   - after the due time: asked on 2026-04-21 for a limit that ended with 04-20 → refused
#     (too late, naming the due time); asked in time but decided after the due time → the
#     approval is refused, the refusal accepted;
#   - statutory limits: legal aid's decide (审批, 7 days) and assign (指派, 3 days) steps →
#     refused (法定时限);
#   - no step limit yet (a consult waiting for 签收) → refused; approve with nothing pending →
#     refused; plsctl refuses --days outside 1..15 itself (usage, exit 2).
# Every refusal: exit status 1, "plsctl: 409 <reason>".
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_extension.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
rules_worker signer dg dg exam,legal_aid

rules_clock_at dg 2026-04-13T10:00:00
e1=$(pls_ctl_at dg submit --service exam --origin dg --desc "司法考试报名条件")
e2=$(pls_ctl_at dg submit --service exam --origin dg --desc "成绩复核")
e3=$(pls_ctl_at dg submit --service exam --origin dg --desc "证书领取")
la=$(pls_ctl_at dg submit --service legal_aid --origin dg --desc "农民工讨薪，申请法律援助")
c=$(pls_ctl_at dg submit --service consult --origin dg --desc "咨询")
for id in "$e1" "$e2" "$e3" "$la"; do
    rules_wait_state dg "$id" in_progress
done
for id in "$e1" "$e2" "$e3"; do
    assert_eq "$(rules_due dg "$id")" 2026-04-21T00:00:00 "exam: due (5 wd from Mon 2026-04-13)"
done
number_c=$(rules_show dg "$c" .number)

# ---- no step limit yet -----------------------------------------------------------------------
rules_refused dg 409 "order $number_c has no step limit running: extensions apply to a step's limit after 签收" \
    extension request "$c" --days 2 --reason "排队中"

# ---- inside the limit: requested, approved ---------------------------------------------------
rules_clock_at dg 2026-04-15T10:00:00
rules_ok dg "extension of 9 working days requested: decided at dg (plsctl extension approve|refuse ID)" \
    extension request "$e1" --days 9 --reason "需等待考试中心书面答复"
rules_wait_event dg "$e1" extension_requested
got=$(rules_event dg "$e1" extension_requested '{days: .payload.days, reason: .payload.reason}')
assert_eq "$got" '{"days":9,"reason":"需等待考试中心书面答复"}' "E1: extension_requested event"
assert_eq "$(rules_show dg "$e1" .limits.extension_pending)" 9 "E1: extension_pending"
assert_eq "$(rules_due dg "$e1")" 2026-04-21T00:00:00 "E1: due while the request is pending"
rules_refused dg 409 "an extension of 9 working days already waits for a decision" \
    extension request "$e1" --days 2 --reason "再延"
rules_ok dg "extension of 9 working days approved: now due 2026-05-06T16:00:00.000Z" \
    extension approve "$e1" --note "同意延期"
rules_wait_event dg "$e1" extension_decided
got=$(rules_event dg "$e1" extension_decided '{decision: .payload.decision, days: .payload.days,
    note: .payload.note}')
assert_eq "$got" '{"decision":"approved","days":9,"note":"同意延期"}' "E1: extension_decided event"
assert_eq "$(rules_due dg "$e1")" 2026-05-07T00:00:00 "E1: due after the extension (劳动节 skipped)"
assert_eq "$(rules_show dg "$e1" '[.limits.extension_days, .limits.extension_pending] | map(tostring) | join(" ")')" \
    "9 0" "E1: extension_days and extension_pending after the approval"
number_e1=$(rules_show dg "$e1" .number)
rules_refused dg 409 "order $number_e1 has no extension request waiting" extension approve "$e1"
rules_refused dg 409 "order $number_e1 has no extension request waiting" extension refuse "$e1"

# ---- at most 15 working days in all; a refusal changes nothing ---------------------------------
rules_refused dg 409 "at most 15 working days of extension in total; 9 already granted" \
    extension request "$e1" --days 7 --reason "还需要时间"
rules_ok dg "extension of 6 working days requested" extension request "$e1" --days 6 --reason "还需要时间"
rules_ok dg "extension refused" extension refuse "$e1" --note "不同意"
got=$(rules_event dg "$e1" extension_decided '{decision: .payload.decision, days: .payload.days}')
assert_eq "$got" '{"decision":"refused","days":6}' "E1: the refusal's event"
assert_eq "$(rules_due dg "$e1")" 2026-05-07T00:00:00 "E1: due after a refused request"
assert_eq "$(rules_show dg "$e1" '[.limits.extension_days, .limits.extension_pending] | map(tostring) | join(" ")')" \
    "9 0" "E1: extension_days and extension_pending after the refusal"
assert_eq "$(rules_count dg "$e1" extension_requested)" 2 "E1: requests recorded"

# plsctl itself refuses a number of days outside 1..15 (nothing is sent)
rc=0
err=$(pls_ctl_at dg extension request "$e1" --days 16 --reason "x" 2>&1) || rc=$?
assert_eq "$rc" 2 "plsctl extension request --days 16: exit status (usage)"
assert_contains "$err" "--days: not a whole number from 1 to 15: '16'" "plsctl extension request --days 16"

# ---- asked in time, decided too late --------------------------------------------------------------
rules_clock_at dg 2026-04-20T20:00:00
rules_ok dg "extension of 3 working days requested" extension request "$e3" --days 3 --reason "当事人出差"
rules_clock_at dg 2026-04-21T01:00:00
rules_refused dg 409 "the step was due at 2026-04-20T16:00:00.000Z, before this decision: refuse the request" \
    extension approve "$e3"
rules_ok dg "extension refused" extension refuse "$e3" --note "已超期"
assert_eq "$(rules_due dg "$e3")" 2026-04-21T00:00:00 "E3: due after the late decision"

# ---- after the due time -------------------------------------------------------------------------
rules_clock_at dg 2026-04-21T09:00:00
rules_refused dg 409 "too late: the step was due at 2026-04-20T16:00:00.000Z; an extension is asked before the due time" \
    extension request "$e2" --days 2 --reason "忘记申请"
assert_eq "$(rules_count dg "$e2" extension_requested)" 0 "E2: no request recorded"

# ---- statutory limits: legal aid's decide and assign ----------------------------------------------
assert_eq "$(rules_show dg "$la" '.steps[.step].name')" decide "legal aid: current step"
rules_refused dg 409 "the limit of step decide is statutory (法定时限): it cannot be extended" \
    extension request "$la" --days 2 --reason "材料审查"
rules_ok dg "step completed: granted" complete "$la" --outcome granted --note "符合条件，准予援助"
at_assign() { [[ $(rules_show dg "$la" '[.steps[.step].name, .state] | join(" ")') == "assign in_progress" ]]; }
pls_wait_for 15 at_assign ||
    fail "legal aid: not signed for at the assign step: $(rules_kinds dg "$la")"
rules_refused dg 409 "the limit of step assign is statutory (法定时限): it cannot be extended" \
    extension request "$la" --days 1 --reason "律师未定"
assert_eq "$(rules_count dg "$la" extension_requested)" 0 "legal aid: no request recorded"
