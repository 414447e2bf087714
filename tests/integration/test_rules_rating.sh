#!/usr/bin/env bash
# test_rules_rating.sh — 回访 and rating at the first desk (DESIGN §9, issue 4), one command center
# (dg) whose consult and legal-aid staff sign for every order, completed with plsctl:
#   - a low rating (a score of 2 or less) goes to rating_review; `plsctl review --redo` re-opens
#     the last step: event reopened, queued again at its department with a fresh 签收 limit
#     (1 working day from the review); `plsctl review --close` closes it (event closed,
#     verified); scores of 3 close the order at once (rated, closed);
#   - a denied legal-aid applicant is pointed to the objection path (the completed event's
#     payload.objection);
#   - completed orders unrated for 7 days (rule clock) are closed as unrated by the periodic
#     sweep (every 30 s): one completed 7 days and 5 minutes ago is closed (event closed,
#     unrated), one completed 6 days ago is not, one under rating review is not;
#   - refusals, each 409 with the reason (404 for an unknown order): rating an open order,
#     rating or reviewing a closed one, reviewing an order not under review; plsctl refuses a
#     score outside 1..5 itself (usage, exit 2). (What follows a refusal on the same order:
#     test_rules_rating_retry.sh.)
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_rating.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg
rules_worker signer dg dg consult,legal_aid

rules_clock_at dg 2026-06-01T10:00:00
declare -A id=()
for o in redo upheld fine unrated recent review; do
    id[$o]=$(pls_ctl_at dg submit --service consult --origin dg --desc "consult ($o)" --name 李四 \
        --phone 13900001111)
done
id[aid]=$(pls_ctl_at dg submit --service legal_aid --origin dg --desc "申请法律援助")
for o in "${!id[@]}"; do
    rules_wait_state dg "${id[$o]}" in_progress
done
declare -A number=()
for o in "${!id[@]}"; do
    number[$o]=$(rules_show dg "${id[$o]}" .number)
done

rules_refused dg 409 "order ${number[redo]} is in_progress: it is rated once completed" \
    rate "${id[redo]}" --attitude 5 --efficiency 5 --competence 5

for o in redo upheld fine unrated review; do
    rules_ok dg "step completed: answered" complete "${id[$o]}" --outcome answered --note "已解答"
done
rules_ok dg "step completed: denied" complete "${id[aid]}" --outcome denied --note "经济状况不符合法律援助条件"
rules_clock_at dg 2026-06-02T10:00:00
rules_ok dg "step completed: answered" complete "${id[recent]}" --outcome answered --note "已解答"
for o in "${!id[@]}"; do
    rules_wait_state dg "${id[$o]}" completed
done
# the redone step must stay in its queue: no worker any more
pls_kill signer

# ---- a denied legal-aid applicant: the objection path -----------------------------------------
got=$(rules_event dg "${id[aid]}" completed '{outcome: .payload.outcome, objection: .payload.objection}')
assert_eq "$(jq -r .outcome <<<"$got")" denied "legal aid: completed outcome"
assert_contains "$(jq -r .objection <<<"$got")" "the applicant may object to the justice bureau within 5 days" \
    "legal aid denied: the completed event points to the objection path"

# ---- a low rating verified into a redo -------------------------------------------------------
rules_ok dg "rated; a score of 2 or less: the command center verifies it (plsctl review ID --redo|--close)" \
    rate "${id[redo]}" --attitude 2 --efficiency 4 --competence 4 --comment "答复敷衍"
rules_wait_state dg "${id[redo]}" rating_review
got=$(rules_event dg "${id[redo]}" rated '[.payload.attitude, .payload.efficiency, .payload.competence, .payload.comment, .to] | map(tostring) | join(" ")')
assert_eq "$got" "2 4 4 答复敷衍 rating_review" "redo: rated event"
rules_clock_at dg 2026-06-02T11:00:00
rules_ok dg "re-opened: step answer again" review "${id[redo]}" --redo --note "回访核实：答复不完整"
rules_wait_state dg "${id[redo]}" queued
kinds=$(rules_kinds dg "${id[redo]}")
[[ $kinds == *" completed rated reopened queued" ]] || fail "redo: events end with '$kinds'"
got=$(rules_event dg "${id[redo]}" reopened '[.payload.note, .from, .to] | join(" ")')
assert_eq "$got" "回访核实：答复不完整 rating_review rating_review" "redo: reopened event"
got=$(rules_event dg "${id[redo]}" queued '[.payload.dept, .payload.scope] | join(" ")')
assert_eq "$got" "consult dg" "redo: queued again at its department"
got=$(rules_show dg "${id[redo]}" '[.state, .node, (.step | tostring), .limits.kind] | join(" ")')
assert_eq "$got" "queued dg 0 sign" "redo: state, owner, step and limit"
assert_eq "$(rules_due dg "${id[redo]}")" 2026-06-04T00:00:00 "redo: fresh 签收 limit (1 wd from 2026-06-02)"
started=$(rules_ms "$(rules_show dg "${id[redo]}" .limits.started_at)")
((started >= $(rules_ms 2026-06-02T11:00:00))) || fail "redo: the limit started $(rules_sh "$started"), before the review"
assert_eq "$(pls_ctl_at dg --json status | jq '.departments[] | select(.dept == "consult" and .scope == "dg") | .queued')" 1 \
    "status: consult queued after the redo"
rules_refused dg 409 "order ${number[redo]} is queued: it is rated once completed" \
    rate "${id[redo]}" --attitude 5 --efficiency 5 --competence 5

# ---- a low rating upheld: closed ------------------------------------------------------------
rules_ok dg "rated; a score of 2 or less" rate "${id[upheld]}" --attitude 1 --efficiency 1 --competence 1 \
    --comment "很不满意"
rules_wait_state dg "${id[upheld]}" rating_review
rules_ok dg "closed after verification" review "${id[upheld]}" --close --note "核实后服务无不当"
rules_wait_state dg "${id[upheld]}" closed
got=$(rules_event dg "${id[upheld]}" closed '[.payload.note, (.payload.verified | tostring), .from] | join(" ")')
assert_eq "$got" "核实后服务无不当 true rating_review" "upheld: closed event"

# ---- scores of 3: closed at once --------------------------------------------------------------
rules_ok dg "rated and closed" rate "${id[fine]}" --attitude 3 --efficiency 3 --competence 3
rules_wait_state dg "${id[fine]}" closed
got=$(rules_show dg "${id[fine]}" '[.events[-2:][] | .kind] | join(" ")')
assert_eq "$got" "rated closed" "fine: last events"

# ---- one score of 2 is enough; this one stays under review ------------------------------------
rules_ok dg "rated; a score of 2 or less" rate "${id[review]}" --attitude 5 --efficiency 2 --competence 5
rules_wait_state dg "${id[review]}" rating_review

# ---- refusals ---------------------------------------------------------------------------------
rules_refused dg 409 "order ${number[fine]} is closed: only a completed order is rated" \
    rate "${id[fine]}" --attitude 4 --efficiency 4 --competence 4
rules_refused dg 409 "order ${number[upheld]} is closed: only an order under rating review is reviewed" \
    review "${id[upheld]}" --close --note "x"
rules_refused dg 409 "order ${number[recent]} is completed: only an order under rating review is reviewed" \
    review "${id[recent]}" --redo --note "x"
rules_refused dg 404 "no such order at this node" \
    rate 01890000-0000-7000-8000-000000000000 --attitude 4 --efficiency 4 --competence 4
rc=0
err=$(pls_ctl_at dg rate "${id[unrated]}" --attitude 6 --efficiency 4 --competence 4 2>&1) || rc=$?
assert_eq "$rc" 2 "plsctl rate --attitude 6: exit status (usage)"
assert_contains "$err" "--attitude: not a whole number from 1 to 5: '6'" "plsctl rate --attitude 6"

# ---- 7 days without a rating: closed as unrated (the sweep runs every 30 s) ---------------------
rules_clock_at dg 2026-06-08T10:05:00
rules_wait_state dg "${id[unrated]}" closed 45
got=$(rules_event dg "${id[unrated]}" closed '[.payload.reason, (.payload.unrated | tostring), .actor, .from] | join(" | ")')
assert_eq "$got" "no rating within 7 days: closed as unrated | true | broker | completed" "unrated: closed event"
assert_eq "$(rules_count dg "${id[unrated]}" rated)" 0 "unrated: no rated event"
rules_wait_state dg "${id[aid]}" closed 5 # completed on 2026-06-01 too
assert_eq "$(rules_show dg "${id[recent]}" .state)" completed "completed 6 days ago: not closed yet"
assert_eq "$(rules_show dg "${id[review]}" .state)" rating_review "under rating review: not closed by the sweep"
rules_refused dg 409 "order ${number[unrated]} is closed: only a completed order is rated" \
    rate "${id[unrated]}" --attitude 4 --efficiency 4 --competence 4
