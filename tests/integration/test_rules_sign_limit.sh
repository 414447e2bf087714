#!/usr/bin/env bash
# test_rules_sign_limit.sh — the 签收 limit and its alarms (DESIGN §9, issue 4), one command
# center (dg) with no consult worker, so consults wait in the queue unsigned:
#   - a consult queued on Tuesday 2026-03-10 10:00 is due for 签收 at the end of Wednesday
#     2026-03-11; yellow (催办) comes at 80 % of the limit (2026-03-11 16:24), not before; red
#     (督办) at the due time, not before, followed by `supervised` and a supervision record
#     (table supervisions: kind red, node dg, dept consult, scope dg) — each an event of the
#     order, the state unchanged (queued); `reported` (通报) 3 working days later (at the end of
#     Monday 2026-03-16), not before;
#   - an urgent consult's 签收 limit is one hour: yellow after 48 minutes, red after 60;
#   - `plsctl --json status` counts them per department and scope: yellow and red (red wins)
#     among the open orders, supervised = supervision records of open orders; signing for an
#     order (a staff worker) starts the step's limit and clears yellow and red but not
#     supervised; a completed order is no longer counted;
#   - an unclaimed consult waiting at a village is offered one level up after 4 hours (event
#     transferred; here to the city's queue, as the town never had a consult worker), not
#     before;
#   - raised alarms survive a broker restart: none is raised twice, the records stay;
#   - `failed` (attempts exhausted: a handler that always fails, --max-attempts 2) raises
#     `supervised` too, with a record of kind failed.
#
# Run: PLS_BUILD_DIR=build bash tests/integration/test_rules_sign_limit.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/harness.sh"
source "$(dirname "${BASH_SOURCE[0]}")/test_rules_lib.sh"

rules_setup
rules_broker dg dg --max-attempts 2 --retry-ms 100

# no_event ID KIND WHEN: after a second at the current rule time, still no KIND event.
no_event() {
    sleep 0.6 # alarms are checked every 100 ms
    assert_eq "$(rules_count dg "$1" "$2")" 0 "order $1: $2 event at $3 (too early): $(rules_kinds dg "$1")"
}

# ---- B: an urgent consult, 签收 within one hour ---------------------------------------------
rules_clock_at dg 2026-03-09T09:00:00
b=$(pls_ctl_at dg submit --service consult --origin dg --priority urgent --desc "紧急：明天开庭")
rules_wait_state dg "$b" queued
# one hour from the moment it was queued (the clock was set a moment before: a little after 09:00)
started=$(rules_ms "$(rules_show dg "$b" .limits.started_at)")
((started >= $(rules_ms 2026-03-09T09:00:00) && started < $(rules_ms 2026-03-09T09:01:00))) ||
    fail "urgent consult: 签收 limit started at $(rules_sh "$started")"
assert_eq "$(($(rules_ms "$(rules_show dg "$b" .limits.due_at)") - started))" 3600000 \
    "urgent consult: 签收 limit (ms from queued to due)"
rules_wait_counts dg consult dg "0 0 0"
rules_clock_at dg 2026-03-09T09:47:00
no_event "$b" yellow "09:47 (yellow is at 09:48)"
rules_clock_at dg 2026-03-09T09:49:00
rules_wait_event dg "$b" yellow
no_event "$b" red "09:49"
rules_wait_counts dg consult dg "1 0 0"
rules_clock_at dg 2026-03-09T10:00:30
rules_wait_event dg "$b" supervised
assert_eq "$(rules_kinds dg "$b")" "received queued yellow red supervised" "urgent consult: events"
rules_wait_counts dg consult dg "0 1 1"

# ---- A: a normal consult, 签收 within one working day ----------------------------------------
rules_clock_at dg 2026-03-10T10:00:00
a=$(pls_ctl_at dg submit --service consult --origin dg --desc "劳动争议咨询")
rules_wait_state dg "$a" queued
assert_eq "$(rules_show dg "$a" .limits.kind)" sign "consult A: limit kind"
assert_eq "$(rules_due dg "$a")" 2026-03-12T00:00:00 "consult A: 签收 due (end of Wed 2026-03-11)"
number_a=$(rules_show dg "$a" .number)

rules_clock_at dg 2026-03-11T16:20:00
no_event "$a" yellow "2026-03-11 16:20 (80 % of the limit is 16:24)"
rules_wait_counts dg consult dg "0 1 1"
rules_clock_at dg 2026-03-11T16:25:00
rules_wait_event dg "$a" yellow
got=$(rules_event dg "$a" yellow '{limit: .payload.limit, dept: .payload.dept, scope: .payload.scope,
    to: .to}')
assert_eq "$got" '{"limit":"sign","dept":"consult","scope":"dg","to":"queued"}' "consult A: yellow event"
assert_eq "$(rules_sh "$(rules_ms "$(rules_event dg "$a" yellow .payload.due_at)")")" \
    2026-03-12T00:00:00 "consult A: the yellow event names the due time"
assert_eq "$(rules_show dg "$a" .state)" queued "consult A: state after yellow"
rules_wait_counts dg consult dg "1 1 1"

rules_clock_at dg 2026-03-11T23:59:00
no_event "$a" red "2026-03-11 23:59 (due at 24:00)"
assert_eq "$(pls_sql_db "$PLS_DB" "SELECT count(*) FROM supervisions WHERE order_id = '$a'")" 0 \
    "consult A: supervision records before red"
rules_clock_at dg 2026-03-12T00:00:30
rules_wait_event dg "$a" supervised
assert_eq "$(rules_kinds dg "$a")" "received queued yellow red supervised" "consult A: events after red"
got=$(rules_event dg "$a" red '{limit: .payload.limit, dept: .payload.dept, scope: .payload.scope, to: .to}')
assert_eq "$got" '{"limit":"sign","dept":"consult","scope":"dg","to":"queued"}' "consult A: red event"
got=$(rules_event dg "$a" supervised '{kind: .payload.kind, by: .payload.by, actor: .actor}')
assert_eq "$got" '{"kind":"red","by":"dg","actor":"broker"}' "consult A: supervised event"
reason=$(rules_event dg "$a" supervised .payload.reason)
assert_contains "$reason" "签收 limit of consult at dg passed at 2026-03-11T16:00:00" \
    "consult A: the supervision's reason"
assert_eq "$(rules_show dg "$a" .state)" queued "consult A: state after red"
rec=$(pls_sql "SELECT number, node, dept, scope, kind, reason FROM supervisions WHERE order_id = '$a'")
assert_eq "$rec" "$number_a|dg|consult|dg|red|$reason" "consult A: the supervision record at dg"
rules_wait_counts dg consult dg "0 2 2"

rules_clock_at dg 2026-03-16T23:59:00
no_event "$a" reported "2026-03-16 23:59 (3 working days after the due time end at 24:00)"
rules_clock_at dg 2026-03-17T00:01:00
rules_wait_event dg "$a" reported
assert_eq "$(rules_event dg "$a" reported '.payload.limit')" sign "consult A: reported event"
assert_eq "$(rules_count dg "$b" reported)" 1 "urgent consult B: reported too"
assert_eq "$(rules_count dg "$a" red)" 1 "consult A: one red event"
assert_eq "$(rules_count dg "$a" supervised)" 1 "consult A: one supervised event"

# ---- raised alarms are durable: a restarted broker raises none of them again -----------------
records=$(pls_sql "SELECT count(*) FROM supervisions")
pls_kill dg
rules_broker dg dg --max-attempts 2 --retry-ms 100
rules_clock_at dg 2026-03-17T00:01:00
sleep 1
for id in "$a" "$b"; do
    assert_eq "$(rules_kinds dg "$id")" "received queued yellow red supervised reported" \
        "order $id: events after a restart"
done
assert_eq "$(pls_sql "SELECT count(*) FROM supervisions")" "$records" "supervision records after a restart"
rules_wait_counts dg consult dg "0 2 2"

# ---- signing for them starts the step's limit: no longer red, still supervised ---------------
rules_worker signer dg dg consult
rules_wait_state dg "$a" in_progress
rules_wait_state dg "$b" in_progress
assert_eq "$(rules_show dg "$a" .limits.kind)" step "consult A: limit kind after 签收"
# signed for on Tuesday 2026-03-17: 2 working days, the end of Thursday 2026-03-19
assert_eq "$(rules_due dg "$a")" 2026-03-20T00:00:00 "consult A: the answer's due time"
rules_wait_counts dg consult dg "0 0 2"
rules_ok dg "step completed: answered" complete "$a" --outcome answered --note "已解答"
rules_wait_state dg "$a" completed
rules_wait_counts dg consult dg "0 0 1"
assert_eq "$(pls_sql "SELECT count(*) FROM supervisions")" 2 "supervision records (kept when closed)"

# ---- failed raises 督办 too -------------------------------------------------------------------
pls_start_worker failing --broker "$(pls_endpoint dg)" --node dg --dept exam --exec 'exit 3' \
    --name failing
c=$(pls_ctl_at dg submit --service exam --origin dg --desc "考试报名咨询")
rules_wait_state dg "$c" failed 30
rules_wait_event dg "$c" supervised
got=$(rules_event dg "$c" supervised '{kind: .payload.kind, reason: .payload.reason, by: .payload.by}')
assert_eq "$got" '{"kind":"failed","reason":"handling failed 2 times","by":"dg"}' "failed exam: supervised"
assert_eq "$(rules_count dg "$c" red)" 0 "failed exam: no red"
assert_eq "$(pls_sql "SELECT node || ' ' || dept || ' ' || scope || ' ' || kind FROM supervisions
    WHERE order_id = '$c'")" "dg exam dg failed" "failed exam: the supervision record"
rules_wait_counts dg exam dg "0 0 1"
assert_eq "$(pls_ctl_at dg --json status | jq '.departments[] | select(.dept == "exam") | .failed')" 1 \
    "status: exam failed"

# ---- unclaimed: a consult is offered one level up after 4 hours (escalate_after) ---------------
# a village scope where a consult worker once registered (and is gone): orders wait there
pls_start_worker village --broker "$(pls_endpoint dg)" --node dg.humen.baisha --dept consult \
    --builtin noop --name village
pls_wait_log dg 10 "worker village ready" || fail "the village worker did not register"
pls_kill village
rules_clock_at dg 2026-03-18T10:00:00
v=$(pls_ctl_at dg submit --service consult --origin dg --locality dg.humen.baisha --desc "宅基地纠纷咨询")
rules_wait_state dg "$v" queued
assert_eq "$(rules_show dg "$v" .scope)" dg.humen.baisha "village consult: queued at the village"
rules_clock_at dg 2026-03-18T13:59:00
no_event "$v" transferred "13:59 (unclaimed for 3 h 59 min)"
rules_clock_at dg 2026-03-18T14:01:00
rules_wait_event dg "$v" transferred
# dg.humen never had a consult worker: the order goes on up to the city's queue, where the
# consult staff sign for it
got=$(rules_event dg "$v" transferred '[.actor, .payload.scope, .payload.note] | join(" | ")')
assert_eq "$got" "broker | dg | unclaimed at dg.humen.baisha for 240 min: offered to dg.humen" \
    "village consult: the escalation"
rules_wait_state dg "$v" in_progress
assert_eq "$(rules_kinds dg "$v")" "received queued transferred assigned accepted" "village consult: events"
started=$(rules_ms "$(rules_show dg "$v" .limits.started_at)")
((started >= $(rules_ms 2026-03-18T14:01:00))) ||
    fail "village consult: its limit started $(rules_sh "$started"), before the escalation"
